#include "bbs/storage/sql/locket_registry.h"

#include <chrono>
#include <filesystem>
#include <limits>
#include <optional>
#include <thread>

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/cells/presence_registry.h"
#include "bbs/storage/mysql/mysql_test_util.h"
#include "bbs/storage/postgres/postgres_test_util.h"

// The LocketRegistry contract (locket.md §5-§6), the same cases against the in-memory registry
// and the `locks` table on SQLite, PostgreSQL and MariaDB (real servers; skipped without
// BBS_TEST_POSTGRES_URL / BBS_TEST_MYSQL_URL). Time is a FakeClock for every backend: the SQL
// registry takes it instead of the database's clock (now_micros_for_testing), except in the
// tests of the database clock itself.
namespace bbs::storage::sql {
namespace {

using cells::LocketResource;
using cells::ResourceType;
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

std::string TestName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->test_suite_name()) + "_" + info->name();
}

// Options for a fresh, empty `locks` table on `backend`, or nullopt when its server is absent.
std::optional<SqlLocketOptions> FreshOptions(const std::string& backend,
                                             const std::filesystem::path& dir) {
  SqlLocketOptions options;
  options.driver = backend;
  if (backend == "sqlite") {
    options.connection_string = (dir / "bbs.db").string();
  } else if (backend == "postgres") {
    if (testing::PostgresTestUrl().empty()) return std::nullopt;
    options.connection_string = testing::PostgresUrlWithFreshSchema("locket_" + TestName());
  } else {
    if (testing::MysqlTestDsn().empty()) return std::nullopt;
    options.connection_string = testing::MysqlDsnWithFreshDatabase("locket_" + TestName());
  }
  return options;
}

class LocketRegistryConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    clock_.Set(int64_t{1'800'000'000} * 1'000'000'000);
    if (GetParam() == "memory") {
      registry_ = std::make_unique<cells::PresenceRegistry>(&clock_, Logger(LogSink::Null(), "t"));
      return;
    }
    dir_ = std::filesystem::temp_directory_path() /
           ("locket-registry-" + std::to_string(::getpid()) + "-" + TestName());
    std::filesystem::remove_all(dir_);
    auto options = FreshOptions(GetParam(), dir_);
    if (!options) GTEST_SKIP() << GetParam() << " server not started";
    options->now_micros_for_testing = [this] { return clock_.NowNanos() / 1000; };
    options_ = *options;
    auto made = SqlLocketRegistry::Create(*options, Logger(LogSink::Null(), "t"));
    ASSERT_THAT(made, IsOk());
    registry_ = std::move(*made);
  }
  void TearDown() override {
    registry_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void Advance(std::chrono::nanoseconds d) { clock_.Advance(d); }

  FakeClock clock_;
  std::filesystem::path dir_;
  SqlLocketOptions options_;
  std::unique_ptr<cells::LocketRegistry> registry_;
};

TEST_P(LocketRegistryConformanceTest, CreatesAResourceOnAFreeKeyAndFetchesIt) {
  ASSERT_THAT(registry_->Lock(Presence("cell-1", "rep-a", "{}"), 15), IsOk());
  Result<LocketResource> fetched = registry_->Fetch("cell-1");
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(*fetched, Presence("cell-1", "rep-a", "{}"));
}

TEST_P(LocketRegistryConformanceTest, RefreshesForTheSameOwnerReplacingValueAndType) {
  ASSERT_THAT(registry_->Lock(Presence("k", "o", "v1"), 15), IsOk());
  ASSERT_THAT(registry_->Lock(Lock("k", "o", "v2"), 15), IsOk());
  EXPECT_EQ(*registry_->Fetch("k"), Lock("k", "o", "v2"));
}

TEST_P(LocketRegistryConformanceTest, RejectsAnotherOwnerWithLockCollisionAndKeepsTheHolder) {
  ASSERT_THAT(registry_->Lock(Lock("bbs", "bbs-1"), 15), IsOk());
  EXPECT_THAT(registry_->Lock(Lock("bbs", "bbs-2"), 15),
              StatusIs(ErrorCode::kLockCollision, "lock-collision"));
  EXPECT_EQ(registry_->Fetch("bbs")->owner, "bbs-1");
}

TEST_P(LocketRegistryConformanceTest, LocksAndPresencesShareOneKeyNamespace) {
  ASSERT_THAT(registry_->Lock(Lock("bbs", "bbs-1"), 15), IsOk());
  EXPECT_THAT(registry_->Lock(Presence("bbs", "rep-a"), 15),
              StatusIs(ErrorCode::kLockCollision, "lock-collision"));
}

TEST_P(LocketRegistryConformanceTest, ValidatesTypeThenTtlThenOwner) {
  LocketResource bad{"k", "", "", ResourceType::kUnknown};
  EXPECT_THAT(registry_->Lock(bad, 0), StatusIs(ErrorCode::kResourceNotFound, "invalid-type"));
  bad.type = static_cast<ResourceType>(7);
  EXPECT_THAT(registry_->Lock(bad, 0), StatusIs(ErrorCode::kResourceNotFound, "invalid-type"));
  bad.type = ResourceType::kLock;
  EXPECT_THAT(registry_->Lock(bad, 0), StatusIs(ErrorCode::kInvalidRequest, "invalid-ttl"));
  EXPECT_THAT(registry_->Lock(bad, -1), StatusIs(ErrorCode::kInvalidRequest, "invalid-ttl"));
  EXPECT_THAT(registry_->Lock(bad, 15), StatusIs(ErrorCode::kInvalidRequest, "invalid-owner"));
  EXPECT_THAT(registry_->Fetch("k").status(),
              StatusIs(ErrorCode::kResourceNotFound, "resource-not-found"));
}

TEST_P(LocketRegistryConformanceTest, AcceptsAnEmptyKey) {
  EXPECT_THAT(registry_->Lock(Lock("", "o"), 15), IsOk());
  EXPECT_THAT(registry_->Fetch(""), IsOk());
}

TEST_P(LocketRegistryConformanceTest, ReleasingAMissingKeyIsOk) {
  EXPECT_THAT(registry_->Release("nothing", "o"), IsOk());
}

TEST_P(LocketRegistryConformanceTest, ReleaseByAnotherOwnerCollidesAndDeletesNothing) {
  ASSERT_THAT(registry_->Lock(Lock("bbs", "bbs-1"), 15), IsOk());
  EXPECT_THAT(registry_->Release("bbs", "bbs-2"),
              StatusIs(ErrorCode::kLockCollision, "lock-collision"));
  EXPECT_THAT(registry_->Fetch("bbs"), IsOk());
}

TEST_P(LocketRegistryConformanceTest, ReleaseByTheOwnerDeletesAndFreesTheKey) {
  ASSERT_THAT(registry_->Lock(Lock("bbs", "bbs-1"), 15), IsOk());
  ASSERT_THAT(registry_->Release("bbs", "bbs-1"), IsOk());
  EXPECT_THAT(registry_->Fetch("bbs").status(),
              StatusIs(ErrorCode::kResourceNotFound, "resource-not-found"));
  EXPECT_THAT(registry_->Lock(Lock("bbs", "bbs-2"), 15), IsOk());
}

TEST_P(LocketRegistryConformanceTest, FetchAllReturnsOneTypeOrderedByKey) {
  ASSERT_THAT(registry_->Lock(Presence("cell-2", "rep-b"), 15), IsOk());
  ASSERT_THAT(registry_->Lock(Lock("bbs", "bbs-1"), 15), IsOk());
  ASSERT_THAT(registry_->Lock(Presence("cell-1", "rep-a"), 15), IsOk());
  EXPECT_THAT(*registry_->FetchAll(ResourceType::kPresence),
              ElementsAre(Presence("cell-1", "rep-a"), Presence("cell-2", "rep-b")));
  EXPECT_THAT(*registry_->FetchAll(ResourceType::kLock), ElementsAre(Lock("bbs", "bbs-1")));
  EXPECT_THAT(registry_->FetchAll(ResourceType::kUnknown).status(),
              StatusIs(ErrorCode::kResourceNotFound, "invalid-type"));
}

TEST_P(LocketRegistryConformanceTest, FetchAllWithNothingRegisteredIsEmpty) {
  Result<std::vector<LocketResource>> all = registry_->FetchAll(ResourceType::kPresence);
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(*all, IsEmpty());
}

TEST_P(LocketRegistryConformanceTest, DeletesAResourceTtlSecondsAfterItsLastLock) {
  ASSERT_THAT(registry_->Lock(Presence("cell-1", "rep-a"), 15), IsOk());
  Advance(seconds(15) - milliseconds(1));
  EXPECT_THAT(registry_->Fetch("cell-1"), IsOk());
  Advance(milliseconds(1));
  EXPECT_THAT(registry_->Fetch("cell-1").status(),
              StatusIs(ErrorCode::kResourceNotFound, "resource-not-found"));
  EXPECT_THAT(*registry_->FetchAll(ResourceType::kPresence), IsEmpty());
}

TEST_P(LocketRegistryConformanceTest, ARefreshRestartsTheTtl) {
  ASSERT_THAT(registry_->Lock(Presence("cell-1", "rep-a"), 15), IsOk());
  for (int i = 0; i < 10; ++i) {
    Advance(seconds(5));
    ASSERT_THAT(registry_->Lock(Presence("cell-1", "rep-a"), 15), IsOk());
  }
  Advance(seconds(14));
  EXPECT_THAT(registry_->Fetch("cell-1"), IsOk());
  Advance(seconds(1));
  EXPECT_FALSE(registry_->Fetch("cell-1").ok());
}

TEST_P(LocketRegistryConformanceTest, AnExpiredKeyCanBeTakenByAnotherOwner) {
  ASSERT_THAT(registry_->Lock(Presence("cell-1", "rep-old"), 15), IsOk());
  Advance(seconds(10));
  EXPECT_THAT(registry_->Lock(Presence("cell-1", "rep-new"), 15),
              StatusIs(ErrorCode::kLockCollision, "lock-collision"));
  Advance(seconds(5));
  EXPECT_THAT(registry_->Lock(Presence("cell-1", "rep-new"), 15), IsOk());
  EXPECT_EQ(registry_->Fetch("cell-1")->owner, "rep-new");
}

TEST_P(LocketRegistryConformanceTest, ExpireNowDeletesDueResourcesAndCountsThemByType) {
  ASSERT_THAT(registry_->Lock(Lock("bbs", "bbs-1"), 5), IsOk());
  ASSERT_THAT(registry_->Lock(Presence("cell-1", "rep-a"), 5), IsOk());
  ASSERT_THAT(registry_->Lock(Presence("cell-2", "rep-b"), 10), IsOk());
  EXPECT_EQ(registry_->ExpireNow(), 0u);
  Advance(seconds(5));
  EXPECT_EQ(registry_->ExpireNow(), 2u);
  EXPECT_EQ(registry_->locks_expired(), 1);
  EXPECT_EQ(registry_->presences_expired(), 1);
  Advance(seconds(5));
  EXPECT_EQ(registry_->ExpireNow(), 1u);
  EXPECT_EQ(registry_->presences_expired(), 2);
}

TEST_P(LocketRegistryConformanceTest, AReleasedResourceIsNotCountedAsExpired) {
  ASSERT_THAT(registry_->Lock(Lock("bbs", "bbs-1"), 5), IsOk());
  ASSERT_THAT(registry_->Release("bbs", "bbs-1"), IsOk());
  Advance(seconds(60));
  EXPECT_EQ(registry_->ExpireNow(), 0u);
  EXPECT_EQ(registry_->locks_expired(), 0);
}

TEST_P(LocketRegistryConformanceTest, AHugeTtlNeverExpiresInsteadOfOverflowing) {
  ASSERT_THAT(registry_->Lock(Lock("k", "o"), std::numeric_limits<int64_t>::max()), IsOk());
  Advance(std::chrono::hours(24 * 365 * 100));
  EXPECT_THAT(registry_->Fetch("k"), IsOk());
}

TEST_P(LocketRegistryConformanceTest, ExpiryIsDecidedByTheSharedClockForEveryProcess) {
  if (GetParam() == "memory") GTEST_SKIP() << "one process only";
  // A second registry on the same table (another bbs process) sees the same resources and the
  // same expiry.
  auto other = SqlLocketRegistry::Create(options_, Logger(LogSink::Null(), "t"));
  ASSERT_THAT(other, IsOk());
  ASSERT_THAT(registry_->Lock(Presence("cell-1", "rep-a", "v"), 15), IsOk());
  EXPECT_EQ(*(*other)->Fetch("cell-1"), Presence("cell-1", "rep-a", "v"));
  EXPECT_THAT((*other)->Lock(Presence("cell-1", "rep-b"), 15),
              StatusIs(ErrorCode::kLockCollision, "lock-collision"));
  ASSERT_THAT((*other)->Lock(Presence("cell-1", "rep-a", "v2"), 15), IsOk());  // a refresh
  Advance(seconds(14));
  EXPECT_THAT(registry_->Fetch("cell-1"), IsOk());
  Advance(seconds(1));
  EXPECT_FALSE(registry_->Fetch("cell-1").ok());
  EXPECT_FALSE((*other)->Fetch("cell-1").ok());
}

TEST_P(LocketRegistryConformanceTest, OfConcurrentCreatesOfOneKeyExactlyOneWins) {
  // Several processes (SQL: a registry each, on the same table) race to create one key: the
  // losers collide (upstream may answer sql-resource-exists there; we retry and collide).
  std::vector<std::unique_ptr<cells::LocketRegistry>> others;
  std::vector<cells::LocketRegistry*> contenders = {registry_.get()};
  if (GetParam() != "memory") {
    for (int i = 0; i < 3; ++i) {
      auto other = SqlLocketRegistry::Create(options_, Logger(LogSink::Null(), "t"));
      ASSERT_THAT(other, IsOk());
      others.push_back(std::move(*other));
      contenders.push_back(others.back().get());
    }
  } else {
    contenders.resize(4, registry_.get());
  }
  std::vector<Status> results(contenders.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < contenders.size(); ++i) {
    threads.emplace_back(
        [&, i] { results[i] = contenders[i]->Lock(Lock("bbs", "bbs-" + std::to_string(i)), 15); });
  }
  for (auto& t : threads) t.join();
  int won = 0;
  for (const Status& s : results) {
    if (s.ok()) {
      ++won;
    } else {
      EXPECT_THAT(s, StatusIs(ErrorCode::kLockCollision, "lock-collision"));
    }
  }
  EXPECT_EQ(won, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, LocketRegistryConformanceTest,
                         ::testing::Values("memory", "sqlite", "postgres", "mysql"),
                         [](const auto& info) { return info.param; });

// The database's own clock (no test clock): a resource expires `ttl` after its last Lock.
class SqlLocketRegistryClockTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SqlLocketRegistryClockTest, AResourceExpiresByTheDatabaseClock) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("locket-clock-" + std::to_string(::getpid()) + "-" + GetParam());
  std::filesystem::remove_all(dir);
  auto options = FreshOptions(GetParam(), dir);
  if (!options) GTEST_SKIP() << GetParam() << " server not started";
  auto registry = SqlLocketRegistry::Create(*options, Logger(LogSink::Null(), "t"));
  ASSERT_THAT(registry, IsOk());
  auto locked = std::chrono::steady_clock::now();
  ASSERT_THAT((*registry)->Lock(Presence("cell-1", "rep-a"), 1), IsOk());
  ASSERT_THAT((*registry)->Lock(Lock("bbs", "bbs-1"), 60), IsOk());
  // Poll (bounded) until the presence is gone; it must last about its TTL, not less.
  while ((*registry)->Fetch("cell-1").ok()) {
    ASSERT_LT(std::chrono::steady_clock::now() - locked, seconds(5));
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_GE(std::chrono::steady_clock::now() - locked, milliseconds(900));
  EXPECT_EQ((*registry)->ExpireNow(), 1u);
  EXPECT_EQ((*registry)->presences_expired(), 1);
  EXPECT_THAT((*registry)->Fetch("bbs"), IsOk());
  registry->reset();
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Engines, SqlLocketRegistryClockTest,
                         ::testing::Values("sqlite", "postgres", "mysql"),
                         [](const auto& info) { return info.param; });

TEST(SqlLocketRegistryTest, RejectsAnUnknownDriver) {
  SqlLocketOptions options;
  options.driver = "etcd";
  EXPECT_THAT(SqlLocketRegistry::Create(options, Logger(LogSink::Null(), "t")).status(),
              StatusIs(ErrorCode::kInvalidRequest));
}

}  // namespace
}  // namespace bbs::storage::sql
