#include "bbs/storage/sql/lease_lock.h"

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/storage/mysql/mysql_store.h"
#include "bbs/storage/mysql/mysql_test_util.h"
#include "bbs/storage/postgres/postgres_store.h"
#include "bbs/storage/postgres/postgres_test_util.h"
#include "bbs/storage/store_test_util.h"

namespace bbs::storage::sql {
namespace {

using ::testing::HasSubstr;
using testing::IsOk;
using testing::NullLogger;
using testing::StatusIs;
using namespace std::chrono_literals;

constexpr auto kWait = 10s;  // bound on waiting for something that must happen soon

enum class Engine { kPostgres, kMysql };

std::string EngineName(const ::testing::TestParamInfo<Engine>& info) {
  return info.param == Engine::kPostgres ? "Postgres" : "Mysql";
}

class SqlLeaseLockTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string seed = std::string("lease_") + info->name();
    for (char& c : seed) {
      if (c == '/') c = '_';
    }
    if (GetParam() == Engine::kPostgres) {
      if (testing::PostgresTestUrl().empty()) {
        GTEST_SKIP() << "BBS_TEST_POSTGRES_URL is not set (scripts/servers/postgres.sh)";
      }
      connection_ = testing::PostgresUrlWithFreshSchema(seed);
    } else {
      if (testing::MysqlTestDsn().empty()) {
        GTEST_SKIP() << "BBS_TEST_MYSQL_URL is not set (scripts/servers/mariadb.sh)";
      }
      connection_ = testing::MysqlDsnWithFreshDatabase(seed);
    }
  }

  std::unique_ptr<SqlLeaseLock> MakeLock(const std::string& owner,
                                         std::chrono::milliseconds ttl = 10s,
                                         std::chrono::milliseconds retry = 50ms) {
    SqlConnectionOptions connection{.connection_string = connection_, .timeout = 2s};
    auto backend = GetParam() == Engine::kPostgres ? MakePostgresLeaseBackend(connection)
                                                   : MakeMysqlLeaseBackend(connection);
    return std::make_unique<SqlLeaseLock>(std::move(backend), owner,
                                          SqlLeaseLockOptions{.ttl = ttl, .retry_interval = retry},
                                          NullLogger());
  }

  Result<std::unique_ptr<Store>> OpenStore(std::shared_ptr<const LeaseFence> fence) {
    if (GetParam() == Engine::kPostgres) {
      PostgresStore::Options options;
      options.url = connection_;
      return OpenFenced<PostgresStore>(std::move(options), std::move(fence));
    }
    MysqlStore::Options options;
    options.dsn = connection_;
    return OpenFenced<MysqlStore>(std::move(options), std::move(fence));
  }

  // Opens a SqlStore of type `S` (PostgresStore, MysqlStore) whose commits `fence` checks.
  template <typename S>
  static Result<std::unique_ptr<Store>> OpenFenced(typename S::Options options,
                                                   std::shared_ptr<const LeaseFence> fence) {
    options.retry_delay = 10ms;
    options.fence = std::move(fence);
    auto store = S::Open(options, NullLogger(), testing::TestEncoder());
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(store).value());
  }

  // Runs `sql` on the lease table with a connection of the test.
  void Exec(const std::string& sql) {
    if (GetParam() == Engine::kPostgres) {
      testing::PostgresExec(connection_, sql);
    } else {
      testing::MysqlExec(connection_, sql);
    }
  }

  static Status CommitDomain(Store& store, const std::string& domain) {
    Mutation put = PutDomain{domain, 0};
    return store.Commit(std::span<const Mutation>(&put, 1));
  }

  std::string connection_;
};

template <typename T>
Status StatusOf(const Result<T>& result) {
  return result.ok() ? Status::Ok() : result.status();
}

// Acquire on a thread, so that a test can watch a contender wait.
std::future<Result<lock::AcquireOutcome>> AcquireAsync(
    SqlLeaseLock* lock, lock::LeaderLock::LostCallback on_lost = nullptr) {
  return std::async(std::launch::async, [lock, on_lost] { return lock->Acquire(on_lost); });
}

TEST_P(SqlLeaseLockTest, OneOfTwoContendersWinsAndTheOtherWaits) {
  auto first = MakeLock("first");
  auto second = MakeLock("second");
  auto acquired = first->Acquire(nullptr);
  ASSERT_THAT(StatusOf(acquired), IsOk());
  EXPECT_EQ(acquired.value(), lock::AcquireOutcome::kAcquired);
  EXPECT_TRUE(first->Held());
  EXPECT_EQ(first->epoch(), 1);
  EXPECT_EQ(first->fence()->owner, "first");

  auto waiting = AcquireAsync(second.get());
  // The contender tries every 50 ms; a few tries later it still waits.
  EXPECT_EQ(waiting.wait_for(300ms), std::future_status::timeout);
  EXPECT_FALSE(second->Held());
  second->Cancel();
  ASSERT_EQ(waiting.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(waiting.get().value(), lock::AcquireOutcome::kCancelled);
  EXPECT_EQ(second->epoch(), 0);
}

TEST_P(SqlLeaseLockTest, ReleaseHandsTheLeaseOverAtOnceWithAHigherEpoch) {
  auto first = MakeLock("first");
  auto second = MakeLock("second");
  ASSERT_EQ(first->Acquire(nullptr).value(), lock::AcquireOutcome::kAcquired);
  auto waiting = AcquireAsync(second.get());
  first->Release();
  EXPECT_FALSE(first->Held());
  ASSERT_EQ(waiting.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(waiting.get().value(), lock::AcquireOutcome::kAcquired);
  EXPECT_EQ(second->epoch(), 2);  // releasing expires the row; the epoch keeps growing
}

TEST_P(SqlLeaseLockTest, APausedHolderIsFencedOffAfterASuccessorTookOver) {
  auto first = MakeLock("first", /*ttl=*/500ms);
  ASSERT_EQ(first->Acquire(nullptr).value(), lock::AcquireOutcome::kAcquired);
  auto first_store = OpenStore(first->fence());
  ASSERT_THAT(StatusOf(first_store), IsOk());
  EXPECT_THAT(CommitDomain(*first_store.value(), "before-takeover"), IsOk());

  // The holder pauses: it stops renewing but still believes it holds the lease.
  first->StopRenewingForTesting();
  auto second = MakeLock("second", /*ttl=*/10s);
  auto taken = AcquireAsync(second.get());
  ASSERT_EQ(taken.wait_for(kWait), std::future_status::ready);
  ASSERT_EQ(taken.get().value(), lock::AcquireOutcome::kAcquired);
  EXPECT_EQ(second->epoch(), first->epoch() + 1);
  EXPECT_TRUE(first->Held());  // it does not know yet

  // Its next commit is refused inside the transaction, and nothing of it is written.
  EXPECT_THAT(CommitDomain(*first_store.value(), "after-takeover"),
              StatusIs(ErrorCode::kUnrecoverable));
  auto second_store = OpenStore(second->fence());
  ASSERT_THAT(StatusOf(second_store), IsOk());
  EXPECT_THAT(CommitDomain(*second_store.value(), "by-successor"), IsOk());
  Snapshot snapshot;
  ASSERT_THAT(second_store.value()->Load(&snapshot), IsOk());
  EXPECT_NE(testing::FindDomain(snapshot, "before-takeover"), nullptr);
  EXPECT_NE(testing::FindDomain(snapshot, "by-successor"), nullptr);
  EXPECT_EQ(testing::FindDomain(snapshot, "after-takeover"), nullptr);
}

TEST_P(SqlLeaseLockTest, AnExpiredLeaseRefusesCommitsEvenBeforeAnyoneTakesOver) {
  auto first = MakeLock("first");
  ASSERT_EQ(first->Acquire(nullptr).value(), lock::AcquireOutcome::kAcquired);
  first->StopRenewingForTesting();
  auto store = OpenStore(first->fence());
  ASSERT_THAT(StatusOf(store), IsOk());
  // The lease lapses in database time (as for a holder paused longer than the TTL).
  Exec(std::string("UPDATE ") + kLeaseTable + " SET expires_at = '1970-01-01 00:00:00'");
  EXPECT_THAT(CommitDomain(*store.value(), "late"), StatusIs(ErrorCode::kUnrecoverable));
}

TEST_P(SqlLeaseLockTest, AHolderWhoseRowWasTakenLosesTheLockAtItsNextRenewal) {
  auto first = MakeLock("first");
  std::promise<Status> lost;
  ASSERT_EQ(first->Acquire([&](const Status& why) { lost.set_value(why); }).value(),
            lock::AcquireOutcome::kAcquired);
  Exec(std::string("UPDATE ") + kLeaseTable + " SET owner = 'intruder', epoch = epoch + 1");
  auto future = lost.get_future();
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  EXPECT_THAT(future.get(), StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_FALSE(first->Held());
  EXPECT_EQ(first->epoch(), 0);
}

TEST_P(SqlLeaseLockTest, ACommitWithoutTheLeaseIsRefused) {
  auto lock = MakeLock("first");
  ASSERT_EQ(lock->Acquire(nullptr).value(), lock::AcquireOutcome::kAcquired);
  auto store = OpenStore(lock->fence());
  ASSERT_THAT(StatusOf(store), IsOk());
  lock->Release();
  Status status = CommitDomain(*store.value(), "after-release");
  EXPECT_THAT(status, StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_THAT(status.message(), HasSubstr("lost the leader lease"));
}

TEST_P(SqlLeaseLockTest, AnUnreachableDatabaseIsRetriedUntilCancelled) {
  connection_ = GetParam() == Engine::kPostgres ? "postgres://bbs@127.0.0.1:1/none?sslmode=disable"
                                                : "bbs:pw@tcp(127.0.0.1:1)/none";
  auto lock = MakeLock("first");
  auto waiting = AcquireAsync(lock.get());
  EXPECT_EQ(waiting.wait_for(200ms), std::future_status::timeout);
  lock->Cancel();
  ASSERT_EQ(waiting.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(waiting.get().value(), lock::AcquireOutcome::kCancelled);
}

TEST_P(SqlLeaseLockTest, TheHealthCheckUpsertsRowOneOfTheHealthTableAndReadsItBack) {
  ASSERT_THAT(StatusOf(OpenStore(nullptr)), IsOk());  // the migrations create bbs_health_check
  SqlConnectionOptions connection{.connection_string = connection_, .timeout = 2s};
  auto backend = GetParam() == Engine::kPostgres ? MakePostgresLeaseBackend(connection)
                                                 : MakeMysqlLeaseBackend(connection);
  EXPECT_THAT(backend->HealthCheck(41), IsOk());
  EXPECT_THAT(backend->HealthCheck(42), IsOk());
  // One row, id 1, with the last time.
  Exec("DELETE FROM bbs_health_check WHERE id = 1 AND time = 42");
  EXPECT_THAT(backend->HealthCheck(43), IsOk());
}

TEST_P(SqlLeaseLockTest, TheHealthCheckFailsWhenTheDatabaseIsUnreachable) {
  SqlConnectionOptions connection{
      .connection_string = GetParam() == Engine::kPostgres
                               ? "postgres://bbs@127.0.0.1:1/none?sslmode=disable"
                               : "bbs:pw@tcp(127.0.0.1:1)/none",
      .timeout = 1s};
  auto backend = GetParam() == Engine::kPostgres ? MakePostgresLeaseBackend(connection)
                                                 : MakeMysqlLeaseBackend(connection);
  EXPECT_FALSE(backend->HealthCheck(1).ok());
}

TEST_P(SqlLeaseLockTest, OpeningTheStoreReportsTheMigrationsAndTheEncryptorOnceEach) {
  int migrations = 0;
  int encryption = 0;
  auto count = [](int* n) { return [n](std::chrono::nanoseconds) { ++*n; }; };
  if (GetParam() == Engine::kPostgres) {
    PostgresStore::Options options;
    options.url = connection_;
    options.on_migrations_finished = count(&migrations);
    options.on_encryption_finished = count(&encryption);
    ASSERT_THAT(StatusOf(PostgresStore::Open(options, NullLogger(), testing::TestEncoder())),
                IsOk());
  } else {
    MysqlStore::Options options;
    options.dsn = connection_;
    options.on_migrations_finished = count(&migrations);
    options.on_encryption_finished = count(&encryption);
    ASSERT_THAT(StatusOf(MysqlStore::Open(options, NullLogger(), testing::TestEncoder())), IsOk());
  }
  EXPECT_EQ(migrations, 1);
  EXPECT_EQ(encryption, 1);
}

INSTANTIATE_TEST_SUITE_P(Engines, SqlLeaseLockTest,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql), EngineName);

}  // namespace
}  // namespace bbs::storage::sql
