#include "bbs/daemon/startup.h"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/cells/presence_registry.h"
#include "bbs/lock/file_lock.h"
#include "bbs/storage/sql/locket_registry.h"
#include "bbs/testing/bbs_process.h"

namespace bbs::daemon {
namespace {

using ::testing::HasSubstr;

Logger NullLogger() { return Logger(LogSink::Null(), "bbs"); }

constexpr const char* kPostgresUrl = "postgres://bbs@127.0.0.1:1/bbs";  // nothing listens there

// A configuration with the store `driver` on `database`, for the process `uuid`.
Config StoreConfig(std::string driver, std::string database, std::string uuid = "") {
  Config config;
  config.database_driver = std::move(driver);
  config.database_connection_string = std::move(database);
  config.uuid = std::move(uuid);
  return config;
}

// A client of the configured Locket (nothing listens there: creating it does not connect).
auto LocketClientFor(const Config& config) {
  cells::LocketClientOptions options;
  options.address = config.locket_address;
  return cells::LocketClient::Create(options);
}

TEST(MakeLeaderLockTest, AnExternalLocketGivesTheLocketLockOwnedByTheUuid) {
  Config config;
  config.locket_address = "127.0.0.1:1";
  config.uuid = "bbs-z1-0";
  auto client = LocketClientFor(config);
  ASSERT_TRUE(client.ok());
  auto lock = MakeLeaderLock(config, client->get(), NullLogger());
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ((*lock)->Description(), "locket key bbs as owner bbs-z1-0");
}

TEST(MakeLeaderLockTest, LocketCertificatesWithoutALocketAddressAreAnError) {
  // Upstream's sql_lock_test and presence_test: a Locket configuration whose address was
  // emptied must not start (here it would otherwise fall back to the store's lock).
  Config config = StoreConfig("postgres", kPostgresUrl, "bbs-1");
  config.locket_ca_cert_file = "/certs/ca.crt";
  config.locket_client_cert_file = "/certs/client.crt";
  config.locket_client_key_file = "/certs/client.key";
  auto lock = MakeLeaderLock(config, nullptr, NullLogger());
  EXPECT_THAT(lock, StatusIs(ErrorCode::kInvalidRequest));
  EXPECT_THAT(lock.status().message(), HasSubstr("invalid-locket-config"));
}

TEST(MakeLeaderLockTest, AnExternalLocketWithoutUuidIsAnError) {
  Config config;
  config.locket_address = "127.0.0.1:1";
  auto client = LocketClientFor(config);
  ASSERT_TRUE(client.ok());
  auto lock = MakeLeaderLock(config, client->get(), NullLogger());
  EXPECT_THAT(lock, StatusIs(ErrorCode::kInvalidRequest));
  EXPECT_THAT(lock.status().message(), HasSubstr("invalid-uuid"));
}

TEST(MakeLeaderLockTest, AnSqliteFileGivesAFileLockBesideTheDatabase) {
  Config config;
  config.database_connection_string = "/var/lib/bbs/bbs.db";
  auto lock = MakeLeaderLock(config, nullptr, NullLogger());
  ASSERT_TRUE(lock.ok());
  EXPECT_EQ((*lock)->Description(), "flock of /var/lib/bbs/bbs.db.lock");
}

TEST(MakeLeaderLockTest, CreatesTheDatabaseDirectoryOnAFirstStart) {
  testing::TempDir dir;
  Config config;
  config.database_connection_string = dir.path() + "/bbs-data/bbs.db";
  auto lock = MakeLeaderLock(config, nullptr, NullLogger());
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  auto outcome = (*lock)->Acquire(nullptr);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/bbs-data/bbs.db.lock"));
  (*lock)->Release();
}

TEST(MakeLeaderLockTest, AStoreNoOtherProcessCanReachNeedsNoLock) {
  for (auto [driver, database] : {std::pair{"memory", ""}, std::pair{"sqlite", ":memory:"}}) {
    Config config = StoreConfig(driver, database);
    auto lock = MakeLeaderLock(config, nullptr, NullLogger());
    ASSERT_TRUE(lock.ok());
    EXPECT_EQ(*(*lock)->Acquire(nullptr), lock::AcquireOutcome::kAcquired) << driver;
  }
}

TEST(MakeLeaderLockTest, PostgresAndMysqlGiveTheLeaseRowLockAndItsFenceForTheStore) {
  for (auto [driver, database] :
       {std::pair{"postgres", kPostgresUrl}, std::pair{"mysql", "bbs:pw@tcp(127.0.0.1:1)/bbs"}}) {
    Config config = StoreConfig(driver, database, "bbs-z1-0");
    std::shared_ptr<const storage::sql::LeaseFence> fence;
    auto lock = MakeLeaderLock(config, nullptr, NullLogger(), &fence);
    ASSERT_TRUE(lock.ok()) << driver;
    EXPECT_EQ((*lock)->Description(),
              std::string(driver) + " table bbs_leader_lease row 'bbs' owned by bbs-z1-0");
    ASSERT_NE(fence, nullptr) << driver;
    EXPECT_EQ(fence->owner, "bbs-z1-0");
    EXPECT_EQ(fence->epoch.load(), 0);  // not held before Acquire
    EXPECT_FALSE((*lock)->Held());
  }
}

TEST(MakeLeaderLockTest, AnExternalLocketTakesPrecedenceOverTheLeaseRow) {
  Config config = StoreConfig("postgres", kPostgresUrl, "bbs-z1-0");
  config.locket_address = "127.0.0.1:1";
  auto client = LocketClientFor(config);
  ASSERT_TRUE(client.ok());
  std::shared_ptr<const storage::sql::LeaseFence> fence;
  auto lock = MakeLeaderLock(config, client->get(), NullLogger(), &fence);
  ASSERT_TRUE(lock.ok());
  EXPECT_EQ((*lock)->Description(), "locket key bbs as owner bbs-z1-0");
  EXPECT_EQ(fence, nullptr);
}

TEST(MakeLocketRegistryTest, ADatabaseEveryProcessReachesKeepsTheLocketRecordsInItsLocksTable) {
  FakeClock clock;
  for (auto [driver, database] :
       {std::pair{"postgres", kPostgresUrl}, std::pair{"mysql", "bbs:pw@tcp(127.0.0.1:1)/bbs"},
        std::pair{"sqlite", "/x/bbs.db"}}) {
    Config config = StoreConfig(driver, database);
    auto registry = MakeLocketRegistry(config, &clock, NullLogger());
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    EXPECT_NE(dynamic_cast<storage::sql::SqlLocketRegistry*>(registry->get()), nullptr) << driver;
  }
  for (auto [driver, database] :
       {std::pair{"memory", ""}, std::pair{"sqlite", ":memory:"}, std::pair{"etcd", ""}}) {
    Config config = StoreConfig(driver, database);
    auto registry = MakeLocketRegistry(config, &clock, NullLogger());
    ASSERT_TRUE(registry.ok());
    EXPECT_NE(dynamic_cast<cells::PresenceRegistry*>(registry->get()), nullptr) << driver;
  }
}

TEST(DbHealthMonitorTest, ExitsAfterTheThresholdOfConsecutiveFailuresOnly) {
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  Status failed;
  // ok, fail, ok (resets the count), then failures: the third consecutive one gives up.
  std::vector<bool> answers = {true, false, true, false, false, false, false};
  DbHealthMonitor monitor(
      [&]() -> Status {
        std::lock_guard lock(mu);
        bool ok = calls < static_cast<int>(answers.size()) ? answers[calls] : false;
        ++calls;
        return ok ? Status::Ok() : UnknownError("db down");
      },
      std::chrono::milliseconds(1), 3,
      [&](const Status& why) {
        std::lock_guard lock(mu);
        failed = why;
        cv.notify_all();
      },
      NullLogger());
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return !failed.ok(); }));
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(failed.message(), "db down");
}

TEST(DbHealthMonitorTest, ANeverFailingCheckNeverGivesUp) {
  std::atomic<int> calls{0};
  std::atomic<bool> gave_up{false};
  {
    DbHealthMonitor monitor(
        [&] {
          ++calls;
          return Status::Ok();
        },
        std::chrono::milliseconds(1), 1, [&](const Status&) { gave_up = true; }, NullLogger());
    while (calls.load() < 20) std::this_thread::yield();
  }
  EXPECT_FALSE(gave_up.load());
}

TEST(MakeDbHealthCheckTest, OnlyPostgresAndMysqlWithTheKeyHaveOne) {
  Config config;
  config.database_driver = "postgres";
  config.database_connection_string = "postgres://bbs@127.0.0.1:1/bbs";
  EXPECT_FALSE(MakeDbHealthCheck(config));  // enable_db_health_check is off by default
  config.enable_db_health_check = true;
  config.health_check_timeout = std::chrono::seconds(1);
  auto check = MakeDbHealthCheck(config);
  ASSERT_TRUE(check);
  EXPECT_FALSE(check().ok());  // nothing listens on port 1
  config.database_driver = "sqlite";
  EXPECT_FALSE(MakeDbHealthCheck(config));
}

TEST(StartupTimerTest, ReportsEachPhaseAndTheTotalInMilliseconds) {
  StartupTimer timer;
  timer.Mark("open_store");
  timer.Add("load_read_store", std::chrono::milliseconds(5));
  auto json = timer.ToJson();
  EXPECT_TRUE(json.contains("open_store_ms"));
  EXPECT_DOUBLE_EQ(json["load_read_store_ms"].get<double>(), 5.0);
  EXPECT_TRUE(json.contains("total_ms"));
}

TEST(LockHeldReporterTest, ReportsTheLockStateAtOnceAndThenEveryInterval) {
  lock::ProcessLocalLock lock;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bool> reports;
  {
    LockHeldReporter reporter(&lock, std::chrono::milliseconds(5), [&](bool held) {
      std::lock_guard guard(mu);
      reports.push_back(held);
      cv.notify_all();
    });
    std::unique_lock guard(mu);
    ASSERT_TRUE(cv.wait_for(guard, std::chrono::seconds(10), [&] { return !reports.empty(); }));
    EXPECT_FALSE(reports.front()) << "a passive reports LockHeld = 0";
    guard.unlock();
    ASSERT_EQ(*lock.Acquire(nullptr), lock::AcquireOutcome::kAcquired);
    guard.lock();
    ASSERT_TRUE(cv.wait_for(guard, std::chrono::seconds(10), [&] { return reports.back(); }));
  }
  std::lock_guard guard(mu);
  size_t after_destruction = reports.size();
  EXPECT_GE(after_destruction, 2u);
}

TEST(AwaitLeadershipTest, BecomesActiveAndReportsMasterElectedOnce) {
  // The watcher needs its signal blocked in the thread that creates it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  SignalWatcher watcher(signals);
  lock::ProcessLocalLock lock;
  int elected = 0;
  LockMetrics metrics;
  metrics.master_elected = [&elected] { ++elected; };
  auto leadership = AwaitLeadership(&lock, &watcher, metrics, NullLogger());
  ASSERT_TRUE(leadership.ok());
  EXPECT_EQ(*leadership, Leadership::kActive);
  EXPECT_EQ(elected, 1);
  EXPECT_TRUE(lock.Held());
  EXPECT_FALSE(watcher.Signalled());
}

}  // namespace
}  // namespace bbs::daemon
