// EtcdLeaseLock against a real etcd (BBS_TEST_ETCD_ENDPOINTS): acquisition, waiting, release,
// loss of the lease, a restart with the same owner, and the fence of the EtcdStore.
#include "bbs/storage/etcd/etcd_lock.h"

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbs/storage/etcd/etcd_store.h"
#include "bbs/storage/etcd/etcd_testing.h"
#include "bbs/storage/store_test_util.h"

namespace bbs::storage::etcd {
namespace {

using namespace std::chrono_literals;
using storage::testing::IsOk;
using storage::testing::NullLogger;
using storage::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class EtcdLockTest : public testing::SharedEtcdTest {
 protected:
  EtcdLockTest() : SharedEtcdTest("lock") {}

  void SetUpOnEtcd() override {
    EtcdClientOptions client;
    client.endpoints = endpoints_;
    auto created = EtcdClient::Create(client, NullLogger());
    ASSERT_TRUE(created.ok());
    client_ = std::move(created).value();
  }

  std::unique_ptr<EtcdLeaseLock> NewLock(const std::string& owner) {
    EtcdLockOptions options;
    options.client.endpoints = endpoints_;
    options.root = root_;
    options.owner = owner;
    options.ttl = 1s;  // etcd grants at least its minimum TTL (2 s by default)
    options.retry_interval = 100ms;
    auto lock = EtcdLeaseLock::Create(options, NullLogger());
    EXPECT_TRUE(lock.ok()) << lock.status().ToString();
    return lock.ok() ? std::move(lock).value() : nullptr;
  }

  // The lock key as stored, or nullopt when it does not exist.
  std::optional<mvccpb::KeyValue> LockKey() {
    etcdserverpb::RangeRequest request;
    request.set_key(KeyLayout{root_}.LockKey());
    etcdserverpb::RangeResponse response;
    EXPECT_THAT(client_->Range(request, &response), IsOk());
    if (response.kvs_size() != 1) return std::nullopt;
    return response.kvs(0);
  }

  // What a lease expiring (the holder paused past its TTL) does, without waiting for it.
  void RevokeHoldersLease() {
    auto kv = LockKey();
    ASSERT_TRUE(kv.has_value());
    etcdserverpb::LeaseRevokeRequest request;
    request.set_id(kv->lease());
    etcdserverpb::LeaseRevokeResponse response;
    ASSERT_THAT(client_->LeaseRevoke(request, &response), IsOk());
  }

  std::unique_ptr<EtcdStore> FencedStore(const EtcdLeaseLock& lock) {
    EtcdStore::Options options = testing::TestOptions(endpoints_, root_);
    options.fence = lock.fence();
    auto store = EtcdStore::Open(options, NullLogger());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  static bool Acquired(EtcdLeaseLock& holder, lock::LeaderLock::LostCallback on_lost) {
    auto outcome = holder.Acquire(std::move(on_lost));
    return outcome.ok() && *outcome == lock::AcquireOutcome::kAcquired;
  }

  static Status CommitTask(EtcdStore& store, const std::string& guid) {
    return store.Commit(std::vector<Mutation>{PutTask{storage::testing::SmallTask(guid)}});
  }

  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdLockTest, TheHolderWritesItsOwnerUnderTheLockKeyWithALease) {
  auto lock = NewLock("bbs-a");
  ASSERT_TRUE(Acquired(*lock, nullptr));
  EXPECT_TRUE(lock->Held());
  auto kv = LockKey();
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->key(), root_ + "/v1/locks/bbs_lock");
  EXPECT_EQ(nlohmann::json::parse(kv->value()), (nlohmann::json{{"id", "bbs-a"}}));
  EXPECT_NE(kv->lease(), 0);
  EXPECT_EQ(lock->fence()->owner, "bbs-a");
  EXPECT_EQ(lock->fence()->epoch.load(), kv->create_revision());
  EXPECT_THAT(lock->Description(), HasSubstr(root_ + "/v1/locks/bbs_lock"));
}

TEST_F(EtcdLockTest, ASecondOwnerWaitsUntilTheHolderReleasesAndThenTakesTheLock) {
  auto a = NewLock("bbs-a");
  ASSERT_TRUE(Acquired(*a, nullptr));
  const int64_t a_epoch = a->fence()->epoch.load();
  auto b = NewLock("bbs-b");
  auto waiting = std::async(std::launch::async, [&] { return b->Acquire(nullptr); });
  EXPECT_EQ(waiting.wait_for(300ms), std::future_status::timeout);  // still held by a
  EXPECT_FALSE(b->Held());

  a->Release();
  EXPECT_FALSE(a->Held());
  EXPECT_EQ(a->fence()->epoch.load(), 0);
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  auto outcome = waiting.get();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, lock::AcquireOutcome::kAcquired);
  EXPECT_TRUE(b->Held());
  EXPECT_GT(b->fence()->epoch.load(), a_epoch);
  EXPECT_EQ(nlohmann::json::parse(LockKey()->value())["id"], "bbs-b");
}

TEST_F(EtcdLockTest, CancelEndsAWaitingAcquire) {
  auto a = NewLock("bbs-a");
  ASSERT_TRUE(Acquired(*a, nullptr));
  auto b = NewLock("bbs-b");
  auto waiting = std::async(std::launch::async, [&] { return b->Acquire(nullptr); });
  b->Cancel();
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  auto outcome = waiting.get();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, lock::AcquireOutcome::kCancelled);
  EXPECT_FALSE(b->Held());
}

TEST_F(EtcdLockTest, AHolderWhoseLeaseIsGoneLosesTheLockOnceAndAnotherTakesIt) {
  auto a = NewLock("bbs-a");
  std::promise<Status> lost;
  ASSERT_TRUE(Acquired(*a, [&](const Status& why) { lost.set_value(why); }));
  RevokeHoldersLease();
  auto why = lost.get_future();
  ASSERT_EQ(why.wait_for(10s), std::future_status::ready);
  EXPECT_THAT(why.get(), StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_FALSE(a->Held());
  EXPECT_EQ(a->fence()->epoch.load(), 0);

  auto b = NewLock("bbs-b");
  ASSERT_TRUE(Acquired(*b, nullptr));
}

TEST_F(EtcdLockTest, ARestartWithTheSameOwnerTakesItsOwnLockAtOnce) {
  auto first = NewLock("bbs-a");
  ASSERT_TRUE(Acquired(*first, nullptr));
  const int64_t first_epoch = first->fence()->epoch.load();
  first->StopRenewingForTesting();  // a crash: the key and its lease stay

  auto restarted = NewLock("bbs-a");
  ASSERT_TRUE(Acquired(*restarted, nullptr));
  EXPECT_GT(restarted->fence()->epoch.load(), first_epoch);
  EXPECT_EQ(LockKey()->create_revision(), restarted->fence()->epoch.load());
}

TEST_F(EtcdLockTest, AFencedStoreCommitsNothingOnceAnotherProcessTookTheLock) {
  auto a = NewLock("bbs-a");
  ASSERT_TRUE(Acquired(*a, nullptr));
  auto a_store = FencedStore(*a);
  ASSERT_NE(a_store, nullptr);
  ASSERT_THAT(CommitTask(*a_store, "by-a"), IsOk());

  // a is paused past its lease: it neither renews nor notices; b takes over.
  a->StopRenewingForTesting();
  RevokeHoldersLease();
  auto b = NewLock("bbs-b");
  ASSERT_TRUE(Acquired(*b, nullptr));
  ASSERT_TRUE(a->Held());  // a still believes it holds the lock

  Status refused = CommitTask(*a_store, "by-a-after-takeover");
  EXPECT_THAT(refused, StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_THAT(refused.message(), HasSubstr("lost its lock"));
  auto b_store = FencedStore(*b);
  ASSERT_NE(b_store, nullptr);
  ASSERT_THAT(CommitTask(*b_store, "by-b"), IsOk());
  Snapshot snapshot;
  ASSERT_THAT(b_store->Load(&snapshot), IsOk());
  ASSERT_THAT(snapshot.tasks, SizeIs(2));
  EXPECT_EQ(storage::testing::FindTask(snapshot, "by-a-after-takeover"), nullptr);
}

TEST_F(EtcdLockTest, AFencedStoreRefusesToCommitWhileItsLockIsNotHeld) {
  auto a = NewLock("bbs-a");
  ASSERT_TRUE(Acquired(*a, nullptr));
  auto store = FencedStore(*a);
  ASSERT_NE(store, nullptr);
  a->Release();
  Status refused = CommitTask(*store, "after-release");
  EXPECT_THAT(refused, StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_THAT(refused.message(), HasSubstr("not held"));
}

}  // namespace
}  // namespace bbs::storage::etcd
