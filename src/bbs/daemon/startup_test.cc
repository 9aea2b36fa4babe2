#include "bbs/daemon/startup.h"

#include <gtest/gtest.h>

namespace bbs::daemon {
namespace {

Logger NullLogger() { return Logger(LogSink::Null(), "bbs"); }

TEST(MakeLeaderLockTest, AnExternalLocketGivesTheLocketLockOwnedByTheUuid) {
  Config config;
  config.locket_address = "127.0.0.1:1";
  config.uuid = "bbs-z1-0";
  cells::LocketClientOptions options;
  options.address = config.locket_address;
  auto client = cells::LocketClient::Create(options);
  ASSERT_TRUE(client.ok());
  auto lock = MakeLeaderLock(config, client->get(), NullLogger());
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ((*lock)->Description(), "locket key bbs as owner bbs-z1-0");
}

TEST(MakeLeaderLockTest, AnExternalLocketWithoutUuidIsAnError) {
  Config config;
  config.locket_address = "127.0.0.1:1";
  cells::LocketClientOptions options;
  options.address = config.locket_address;
  auto client = cells::LocketClient::Create(options);
  ASSERT_TRUE(client.ok());
  auto lock = MakeLeaderLock(config, client->get(), NullLogger());
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), ErrorCode::kInvalidRequest);
  EXPECT_NE(lock.status().message().find("invalid-uuid"), std::string::npos);
}

TEST(MakeLeaderLockTest, AnSqliteFileGivesAFileLockBesideTheDatabase) {
  Config config;
  config.database_connection_string = "/var/lib/bbs/bbs.db";
  auto lock = MakeLeaderLock(config, nullptr, NullLogger());
  ASSERT_TRUE(lock.ok());
  EXPECT_EQ((*lock)->Description(), "flock of /var/lib/bbs/bbs.db.lock");
}

TEST(MakeLeaderLockTest, AStoreNoOtherProcessCanReachNeedsNoLock) {
  for (auto [driver, database] : {std::pair{"memory", ""}, std::pair{"sqlite", ":memory:"}}) {
    Config config;
    config.database_driver = driver;
    config.database_connection_string = database;
    auto lock = MakeLeaderLock(config, nullptr, NullLogger());
    ASSERT_TRUE(lock.ok());
    EXPECT_EQ(*(*lock)->Acquire(nullptr), lock::AcquireOutcome::kAcquired) << driver;
  }
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

}  // namespace
}  // namespace bbs::daemon
