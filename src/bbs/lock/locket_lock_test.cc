#include "bbs/lock/locket_lock.h"

#include <future>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "bbs/lock/lock_test_util.h"

#include "bbs/cells/locket_resource_testing.h"
#include "bbs/cells/locket_service.h"
#include "bbs/cells/presence_registry.h"

// gRPC suites are named Grpc* so that a TSan run can leave them out (toolchain.md).

namespace bbs::lock {
namespace {

using namespace std::chrono_literals;

// A real Locket gRPC server over an in-memory registry on simulated time, and a client of it.
class GrpcLocketLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::make_unique<cells::PresenceRegistry>(&clock_, Logger(LogSink::Null(), "t"));
    server_ = std::make_unique<cells::LocketServer>(registry_.get(), Logger(LogSink::Null(), "t"));
    ASSERT_TRUE(server_->Start(cells::LocketServerOptions{"127.0.0.1:0", std::nullopt}).ok());
    cells::LocketClientOptions options;
    options.address = "127.0.0.1:" + std::to_string(server_->port());
    auto client = cells::LocketClient::Create(options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
    ASSERT_TRUE(client_->WaitForConnected(10s).ok());
  }
  void TearDown() override { server_->Stop(); }

  std::unique_ptr<LocketLock> MakeLock(const std::string& owner, int64_t ttl = 15) {
    LocketLockOptions options;
    options.owner = owner;
    options.ttl_seconds = ttl;
    options.retry_interval = 50ms;
    return std::make_unique<LocketLock>(client_.get(), options,
                                        Logger(LogSink::Null(), "locket-lock"));
  }

  static cells::LocketResource BbsLock(const std::string& owner) {
    return cells::testing::Lock("bbs", owner);
  }

  FakeClock clock_;
  std::unique_ptr<cells::PresenceRegistry> registry_;
  std::unique_ptr<cells::LocketServer> server_;
  std::unique_ptr<cells::LocketClient> client_;
};

TEST_F(GrpcLocketLockTest, TakesTheBbsLockAsTheConfiguredOwner) {
  auto lock = MakeLock("bbs-uuid-1");
  auto outcome = lock->Acquire(nullptr);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, AcquireOutcome::kAcquired);
  EXPECT_TRUE(lock->Held());
  auto fetched = client_->Fetch("bbs");
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->owner, "bbs-uuid-1");
  EXPECT_EQ(fetched->type, cells::ResourceType::kLock);
  EXPECT_EQ(fetched->value, "");
}

TEST_F(GrpcLocketLockTest, WaitsWhileAnotherOwnerHoldsTheLockAndTakesItWhenReleased) {
  ASSERT_TRUE(registry_->Lock(BbsLock("other"), 15).ok());
  auto lock = MakeLock("me");
  auto waiting = testing::AcquireBehindHolder(lock.get(), 300ms);
  EXPECT_FALSE(lock->Held());
  ASSERT_TRUE(registry_->Release("bbs", "other").ok());
  testing::ExpectOutcome(waiting, AcquireOutcome::kAcquired);
  EXPECT_EQ(client_->Fetch("bbs")->owner, "me");
}

TEST_F(GrpcLocketLockTest, TakesTheLockOnceTheDeadHoldersTtlRanOut) {
  ASSERT_TRUE(registry_->Lock(BbsLock("dead"), 15).ok());
  auto lock = MakeLock("me");
  auto waiting = testing::AcquireBehindHolder(lock.get(), 200ms);
  clock_.Advance(16s);
  testing::ExpectOutcome(waiting, AcquireOutcome::kAcquired);
}

TEST_F(GrpcLocketLockTest, AFailedHeartbeatLosesTheLockWhenLocketGoesAway) {
  auto lock = MakeLock("me");
  std::promise<Status> lost;
  ASSERT_EQ(*lock->Acquire([&lost](const Status& why) { lost.set_value(why); }),
            AcquireOutcome::kAcquired);
  server_->Stop();
  auto future = lost.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  Status why = future.get();
  EXPECT_EQ(why.code(), ErrorCode::kUnrecoverable);
  EXPECT_EQ(why.message().rfind("lost lock (request", 0), 0u) << why.message();
  EXPECT_NE(why.message().find("request-uuid "), std::string::npos) << why.message();
  EXPECT_FALSE(lock->Held());
}

TEST_F(GrpcLocketLockTest, ACollisionOnHeartbeatLosesTheLock) {
  auto lock = MakeLock("me", /*ttl=*/1);
  std::promise<Status> lost;
  ASSERT_EQ(*lock->Acquire([&lost](const Status& why) { lost.set_value(why); }),
            AcquireOutcome::kAcquired);
  // Our record expires (simulated time jumps past the TTL) and another owner takes the key.
  clock_.Advance(5s);
  ASSERT_TRUE(registry_->Lock(BbsLock("usurper"), 15).ok());
  auto future = lost.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_NE(future.get().message().find("lock-collision"), std::string::npos);
  EXPECT_FALSE(lock->Held());
}

TEST_F(GrpcLocketLockTest, ReleaseGivesTheLockBackWithoutCallingOnLost) {
  auto lock = MakeLock("me");
  bool lost = false;
  ASSERT_EQ(*lock->Acquire([&lost](const Status&) { lost = true; }), AcquireOutcome::kAcquired);
  lock->Release();
  EXPECT_FALSE(lock->Held());
  EXPECT_EQ(client_->Fetch("bbs").status().code(), ErrorCode::kResourceNotFound);
  EXPECT_FALSE(lost);
  lock->Release();  // idempotent
}

TEST_F(GrpcLocketLockTest, CancelEndsAWaitingAcquire) {
  ASSERT_TRUE(registry_->Lock(BbsLock("other"), 15).ok());
  auto lock = MakeLock("me");
  auto waiting = testing::AcquireBehindHolder(lock.get(), 100ms);
  lock->Cancel();
  testing::ExpectOutcome(waiting, AcquireOutcome::kCancelled);
  EXPECT_EQ(client_->Fetch("bbs")->owner, "other");
}

}  // namespace
}  // namespace bbs::lock
