#include "bbs/cells/presence_registry.h"

#include <chrono>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/cells/cell_presence_json.h"
#include "bbs/cells/locket_resource_testing.h"
#include "bbs/cells/registry_cell_directory.h"

namespace bbs::cells {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Lock;
using testing::Presence;

class PresenceRegistryTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  PresenceRegistry registry_{&clock_, Logger(LogSink::Null(), "locket")};
};

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
