#include "bbs/cells/presence_registry.h"

#include <chrono>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/cells/cell_presence_json.h"
#include "bbs/cells/registry_cell_directory.h"

namespace bbs::cells {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

LocketResource Lock(std::string key, std::string owner, std::string value = "") {
  return {std::move(key), std::move(owner), std::move(value), ResourceType::kLock};
}
LocketResource Presence(std::string key, std::string owner, std::string value = "") {
  return {std::move(key), std::move(owner), std::move(value), ResourceType::kPresence};
}

class PresenceRegistryTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  PresenceRegistry registry_{&clock_, Logger(LogSink::Null(), "locket")};
};

TEST_F(PresenceRegistryTest, CreatesAResourceOnAFreeKeyAndFetchesIt) {
  ASSERT_THAT(registry_.Lock(Presence("cell-1", "rep-a", "{}"), 15), IsOk());
  Result<LocketResource> fetched = registry_.Fetch("cell-1");
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(*fetched, Presence("cell-1", "rep-a", "{}"));
}

TEST_F(PresenceRegistryTest, RefreshesForTheSameOwnerReplacingValueAndType) {
  ASSERT_THAT(registry_.Lock(Presence("k", "o", "v1"), 15), IsOk());
  ASSERT_THAT(registry_.Lock(Lock("k", "o", "v2"), 15), IsOk());
  EXPECT_EQ(*registry_.Fetch("k"), Lock("k", "o", "v2"));
}

TEST_F(PresenceRegistryTest, RejectsAnotherOwnerWithLockCollisionAndKeepsTheHolder) {
  ASSERT_THAT(registry_.Lock(Lock("bbs", "bbs-1"), 15), IsOk());
  EXPECT_THAT(registry_.Lock(Lock("bbs", "bbs-2"), 15),
              StatusIs(ErrorCode::kLockCollision, "lock-collision"));
  EXPECT_EQ(registry_.Fetch("bbs")->owner, "bbs-1");
}

TEST_F(PresenceRegistryTest, LocksAndPresencesShareOneKeyNamespace) {
  ASSERT_THAT(registry_.Lock(Lock("bbs", "bbs-1"), 15), IsOk());
  EXPECT_THAT(registry_.Lock(Presence("bbs", "rep-a"), 15),
              StatusIs(ErrorCode::kLockCollision, "lock-collision"));
}

TEST_F(PresenceRegistryTest, ValidatesTypeThenTtlThenOwner) {
  LocketResource bad{"k", "", "", ResourceType::kUnknown};
  EXPECT_THAT(registry_.Lock(bad, 0), StatusIs(ErrorCode::kResourceNotFound, "invalid-type"));
  bad.type = static_cast<ResourceType>(7);
  EXPECT_THAT(registry_.Lock(bad, 0), StatusIs(ErrorCode::kResourceNotFound, "invalid-type"));
  bad.type = ResourceType::kLock;
  EXPECT_THAT(registry_.Lock(bad, 0), StatusIs(ErrorCode::kInvalidRequest, "invalid-ttl"));
  EXPECT_THAT(registry_.Lock(bad, -1), StatusIs(ErrorCode::kInvalidRequest, "invalid-ttl"));
  EXPECT_THAT(registry_.Lock(bad, 15), StatusIs(ErrorCode::kInvalidRequest, "invalid-owner"));
  EXPECT_THAT(registry_.Fetch("k").status(),
              StatusIs(ErrorCode::kResourceNotFound, "resource-not-found"));
}

TEST_F(PresenceRegistryTest, AcceptsAnEmptyKey) {
  EXPECT_THAT(registry_.Lock(Lock("", "o"), 15), IsOk());
  EXPECT_THAT(registry_.Fetch(""), IsOk());
}

TEST_F(PresenceRegistryTest, ReleasingAMissingKeyIsOk) {
  EXPECT_THAT(registry_.Release("nothing", "o"), IsOk());
}

TEST_F(PresenceRegistryTest, ReleaseByAnotherOwnerCollidesAndDeletesNothing) {
  ASSERT_THAT(registry_.Lock(Lock("bbs", "bbs-1"), 15), IsOk());
  EXPECT_THAT(registry_.Release("bbs", "bbs-2"),
              StatusIs(ErrorCode::kLockCollision, "lock-collision"));
  EXPECT_THAT(registry_.Fetch("bbs"), IsOk());
}

TEST_F(PresenceRegistryTest, ReleaseByTheOwnerDeletesAndFreesTheKey) {
  ASSERT_THAT(registry_.Lock(Lock("bbs", "bbs-1"), 15), IsOk());
  ASSERT_THAT(registry_.Release("bbs", "bbs-1"), IsOk());
  EXPECT_THAT(registry_.Fetch("bbs").status(),
              StatusIs(ErrorCode::kResourceNotFound, "resource-not-found"));
  EXPECT_THAT(registry_.Lock(Lock("bbs", "bbs-2"), 15), IsOk());
}

TEST_F(PresenceRegistryTest, FetchAllReturnsOneTypeOrderedByKey) {
  ASSERT_THAT(registry_.Lock(Presence("cell-2", "rep-b"), 15), IsOk());
  ASSERT_THAT(registry_.Lock(Lock("bbs", "bbs-1"), 15), IsOk());
  ASSERT_THAT(registry_.Lock(Presence("cell-1", "rep-a"), 15), IsOk());
  EXPECT_THAT(*registry_.FetchAll(ResourceType::kPresence),
              ElementsAre(Presence("cell-1", "rep-a"), Presence("cell-2", "rep-b")));
  EXPECT_THAT(*registry_.FetchAll(ResourceType::kLock), ElementsAre(Lock("bbs", "bbs-1")));
  EXPECT_THAT(registry_.FetchAll(ResourceType::kUnknown).status(),
              StatusIs(ErrorCode::kResourceNotFound, "invalid-type"));
}

TEST_F(PresenceRegistryTest, FetchAllWithNothingRegisteredIsEmpty) {
  Result<std::vector<LocketResource>> all = registry_.FetchAll(ResourceType::kPresence);
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(*all, IsEmpty());
}

TEST_F(PresenceRegistryTest, DeletesAResourceTtlSecondsAfterItsLastLock) {
  ASSERT_THAT(registry_.Lock(Presence("cell-1", "rep-a"), 15), IsOk());
  clock_.Advance(seconds(15) - milliseconds(1));
  EXPECT_THAT(registry_.Fetch("cell-1"), IsOk());
  clock_.Advance(milliseconds(1));
  EXPECT_THAT(registry_.Fetch("cell-1").status(),
              StatusIs(ErrorCode::kResourceNotFound, "resource-not-found"));
  EXPECT_THAT(*registry_.FetchAll(ResourceType::kPresence), IsEmpty());
}

TEST_F(PresenceRegistryTest, ARefreshRestartsTheTtl) {
  ASSERT_THAT(registry_.Lock(Presence("cell-1", "rep-a"), 15), IsOk());
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(seconds(5));
    ASSERT_THAT(registry_.Lock(Presence("cell-1", "rep-a"), 15), IsOk());
  }
  clock_.Advance(seconds(14));
  EXPECT_THAT(registry_.Fetch("cell-1"), IsOk());
  clock_.Advance(seconds(1));
  EXPECT_FALSE(registry_.Fetch("cell-1").ok());
}

TEST_F(PresenceRegistryTest, AnExpiredKeyCanBeTakenByAnotherOwner) {
  ASSERT_THAT(registry_.Lock(Presence("cell-1", "rep-old"), 15), IsOk());
  clock_.Advance(seconds(10));
  EXPECT_THAT(registry_.Lock(Presence("cell-1", "rep-new"), 15),
              StatusIs(ErrorCode::kLockCollision, "lock-collision"));
  clock_.Advance(seconds(5));
  EXPECT_THAT(registry_.Lock(Presence("cell-1", "rep-new"), 15), IsOk());
  EXPECT_EQ(registry_.Fetch("cell-1")->owner, "rep-new");
}

TEST_F(PresenceRegistryTest, ExpireNowDeletesDueResourcesAndCountsThemByType) {
  ASSERT_THAT(registry_.Lock(Lock("bbs", "bbs-1"), 5), IsOk());
  ASSERT_THAT(registry_.Lock(Presence("cell-1", "rep-a"), 5), IsOk());
  ASSERT_THAT(registry_.Lock(Presence("cell-2", "rep-b"), 10), IsOk());
  EXPECT_EQ(registry_.ExpireNow(), 0u);
  clock_.Advance(seconds(5));
  EXPECT_EQ(registry_.ExpireNow(), 2u);
  EXPECT_EQ(registry_.locks_expired(), 1);
  EXPECT_EQ(registry_.presences_expired(), 1);
  clock_.Advance(seconds(5));
  EXPECT_EQ(registry_.ExpireNow(), 1u);
  EXPECT_EQ(registry_.presences_expired(), 2);
}

TEST_F(PresenceRegistryTest, AReleasedResourceIsNotCountedAsExpired) {
  ASSERT_THAT(registry_.Lock(Lock("bbs", "bbs-1"), 5), IsOk());
  ASSERT_THAT(registry_.Release("bbs", "bbs-1"), IsOk());
  clock_.Advance(seconds(60));
  EXPECT_EQ(registry_.ExpireNow(), 0u);
  EXPECT_EQ(registry_.locks_expired(), 0);
}

TEST_F(PresenceRegistryTest, AHugeTtlNeverExpiresInsteadOfOverflowing) {
  ASSERT_THAT(registry_.Lock(Lock("k", "o"), std::numeric_limits<int64_t>::max()), IsOk());
  clock_.Advance(std::chrono::hours(24 * 365 * 100));
  EXPECT_THAT(registry_.Fetch("k"), IsOk());
}

// ---- RegistryCellDirectory ----

models::CellPresence Cell(const std::string& id) {
  models::CellPresence p;
  p.set_cell_id(id);
  p.set_zone("z1");
  p.set_rep_url("https://" + id + ".cell.service.cf.internal:1801");
  return p;
}

class RegistryCellDirectoryTest : public PresenceRegistryTest {
 protected:
  RegistryCellDirectory directory_{&registry_, Logger(LogSink::Null(), "bbs")};
};

TEST_F(RegistryCellDirectoryTest, ListsDecodedPresencesKeyedByTheirJsonCellId) {
  ASSERT_THAT(registry_.Lock(Presence("b", "rep-b", EncodeCellPresenceJson(Cell("cell-b"))), 15),
              IsOk());
  ASSERT_THAT(registry_.Lock(Presence("a", "rep-a", EncodeCellPresenceJson(Cell("cell-a"))), 15),
              IsOk());
  ASSERT_THAT(registry_.Lock(Presence("bad", "rep-c", "not json"), 15), IsOk());
  ASSERT_THAT(registry_.Lock(Lock("bbs", "bbs-1"), 15), IsOk());
  Result<std::vector<models::CellPresence>> all = directory_.All();
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].cell_id(), "cell-a");
  EXPECT_EQ((*all)[1].cell_id(), "cell-b");
  EXPECT_TRUE(directory_.knows_presence());
}

TEST_F(RegistryCellDirectoryTest, ForgetsACellWhenItsPresenceExpires) {
  ASSERT_THAT(
      registry_.Lock(Presence("cell-1", "rep-a", EncodeCellPresenceJson(Cell("cell-1"))), 15),
      IsOk());
  EXPECT_EQ(directory_.All()->size(), 1u);
  EXPECT_THAT(directory_.Lookup("cell-1"), IsOk());
  clock_.Advance(seconds(15));
  EXPECT_THAT(*directory_.All(), IsEmpty());
  EXPECT_THAT(
      directory_.Lookup("cell-1").status(),
      StatusIs(ErrorCode::kResourceNotFound, CanonicalMessage(ErrorCode::kResourceNotFound)));
}

TEST_F(RegistryCellDirectoryTest, LookupReportsAnUndecodableValueAsUnknownError) {
  ASSERT_THAT(registry_.Lock(Presence("cell-1", "rep-a", "{"), 15), IsOk());
  Result<models::CellPresence> found = directory_.Lookup("cell-1");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), ErrorCode::kUnknownError);
}

TEST_F(RegistryCellDirectoryTest, LookupReturnsTheRepUrl) {
  ASSERT_THAT(
      registry_.Lock(Presence("cell-1", "rep-a", EncodeCellPresenceJson(Cell("cell-1"))), 15),
      IsOk());
  Result<models::CellPresence> found = directory_.Lookup("cell-1");
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->rep_url(), "https://cell-1.cell.service.cf.internal:1801");
}

}  // namespace
}  // namespace bbs::cells
