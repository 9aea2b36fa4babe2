#include "bbs/state/actual_lrps.h"

#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>

#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/domain/event_testing.h"
#include "bbs/state/desired_lrps.h"
#include "bbs/state/engine_testing.h"
#include "bbs/storage/memory_store.h"

namespace bbs::state {
namespace {

using testing::InstanceKey;
using testing::NewLrp;
using testing::Started;

// A MemoryStore whose commits wait while it is closed (open at first).
class GateStore final : public storage::Store {
 public:
  Status Load(storage::Snapshot* out) override { return target_.Load(out); }
  Status Commit(std::span<const storage::Mutation> mutations) override {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return target_.Commit(mutations);
  }
  void Close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits until `n` commits have started in all.
  void WaitUntilEntered(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  int entered() {
    std::lock_guard lock(mu_);
    return entered_;
  }

 private:
  storage::MemoryStore target_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int entered_ = 0;
};

// The write path of ActualLrps on its own: a model, a committer on a GateStore, key locks the
// test can take, no outbound peers.
class ActualLrpsTest : public ::testing::Test {
 protected:
  ActualLrpsTest() {
    committer_.Start();
    EXPECT_THAT(desired_.DesireLrp(NewLrp("pg", 1), ""), IsOk());
  }
  ~ActualLrpsTest() override {
    store_.Open();
    committer_.Stop();
  }

  WriteContext Context() {
    return WriteContext{
        &model_, &committer_, &locks_, &outbound_, &clock_, &guids_, Logger(LogSink::Null(), "t")};
  }
  std::string StateOf(const std::string& guid, int index) {
    auto rows = model_.ActualLrps({"", "", guid, index});
    return rows.size() == 1 ? rows[0]->state() : "";
  }

  GateStore store_;
  Model model_;
  domain::testing::NullEventPublisher publisher_;
  Committer committer_{&store_, &model_, &publisher_, Logger(LogSink::Null(), "t"), {}};
  KeyLocks locks_;
  Outbound outbound_{Logger(LogSink::Null(), "t")};
  FakeClock clock_;
  SequentialGuidGenerator guids_;
  DesiredLrps desired_{Context(), &store_};
  ActualLrps actual_{Context()};
};

TEST_F(ActualLrpsTest, ANonBlockingClaimAnswersOnceMemoryShowsItAndReleasesTheKeyLock) {
  std::promise<std::pair<Status, std::string>> answered;
  ASSERT_TRUE(actual_.TryClaimActualLrp("pg", 0, InstanceKey("ig-1", "cell-1"), [&](Status s) {
    answered.set_value({std::move(s), StateOf("pg", 0)});
  }));
  auto [status, state_seen] = answered.get_future().get();
  EXPECT_THAT(status, IsOk());
  EXPECT_EQ(state_seen, "CLAIMED");
  EXPECT_TRUE(locks_.TryLock("pg").owns_lock());
}

TEST_F(ActualLrpsTest, ANonBlockingWriteHoldsTheKeyLockUntilTheCommitterAppliedIt) {
  ASSERT_THAT(actual_.ClaimActualLrp("pg", 0, InstanceKey("ig-1", "cell-1")), IsOk());
  const int before = store_.entered();
  store_.Close();
  std::promise<Status> answered;
  std::future<Status> done = answered.get_future();
  ASSERT_TRUE(actual_.TryStartActualLrp(Started("pg", 0, InstanceKey("ig-1", "cell-1")),
                                        [&](Status s) { answered.set_value(std::move(s)); }));
  store_.WaitUntilEntered(before + 1);
  // The write is in the store: the key stays locked, memory and the answer wait.
  EXPECT_FALSE(locks_.TryLock("pg").owns_lock());
  EXPECT_EQ(StateOf("pg", 0), "CLAIMED");
  // Another non-blocking write of the key backs off without answering.
  bool called = false;
  EXPECT_FALSE(actual_.TryClaimActualLrp("pg", 0, InstanceKey("ig-1", "cell-1"),
                                         [&](Status) { called = true; }));
  EXPECT_FALSE(called);

  store_.Open();
  EXPECT_THAT(done.get(), IsOk());
  EXPECT_EQ(StateOf("pg", 0), "RUNNING");
  EXPECT_TRUE(locks_.TryLock("pg").owns_lock());
}

TEST_F(ActualLrpsTest, ANonBlockingWriteBacksOffWithoutChangingAnythingWhileTheKeyIsLocked) {
  KeyLocks::Held held = locks_.Lock("pg");
  bool called = false;
  EXPECT_FALSE(actual_.TryClaimActualLrp("pg", 0, InstanceKey("ig-1", "cell-1"),
                                         [&](Status) { called = true; }));
  EXPECT_FALSE(actual_.TryStartActualLrp(Started("pg", 0, InstanceKey("ig-1", "cell-1")),
                                         [&](Status) { called = true; }));
  EXPECT_FALSE(called);
  EXPECT_EQ(StateOf("pg", 0), "UNCLAIMED");
  held.unlock();
  // The blocking variant then does the work.
  EXPECT_THAT(actual_.ClaimActualLrp("pg", 0, InstanceKey("ig-1", "cell-1")), IsOk());
  EXPECT_EQ(StateOf("pg", 0), "CLAIMED");
}

TEST_F(ActualLrpsTest, ANonBlockingWriteThatIsRefusedOrChangesNothingAnswersAtOnce) {
  ASSERT_THAT(actual_.ClaimActualLrp("pg", 0, InstanceKey("ig-1", "cell-1")), IsOk());
  const int before = store_.entered();
  std::optional<Status> refused;
  ASSERT_TRUE(actual_.TryClaimActualLrp("pg", 0, InstanceKey("ig-2", "cell-2"),
                                        [&](Status s) { refused = std::move(s); }));
  ASSERT_TRUE(refused.has_value());
  EXPECT_THAT(*refused, StatusIs(ErrorCode::kActualLrpCannotBeClaimed));

  std::optional<Status> same;
  ASSERT_TRUE(actual_.TryClaimActualLrp("pg", 0, InstanceKey("ig-1", "cell-1"),
                                        [&](Status s) { same = std::move(s); }));
  ASSERT_TRUE(same.has_value());
  EXPECT_THAT(*same, IsOk());
  EXPECT_EQ(store_.entered(), before);  // nothing written
  EXPECT_TRUE(locks_.TryLock("pg").owns_lock());
}

TEST_F(ActualLrpsTest, ANonBlockingDesireHoldsTheKeyLockUntilMemoryShowsTheLrpAndItsInstances) {
  const int before = store_.entered();
  store_.Close();
  std::promise<Status> answered;
  std::future<Status> done = answered.get_future();
  ASSERT_TRUE(desired_.TryDesireLrp(NewLrp("pg-2", 2), "",
                                    [&](Status s) { answered.set_value(std::move(s)); }));
  store_.WaitUntilEntered(before + 1);
  EXPECT_FALSE(locks_.TryLock("pg-2").owns_lock());
  EXPECT_EQ(model_.DesiredLrp("pg-2"), nullptr);
  store_.Open();
  EXPECT_THAT(done.get(), IsOk());
  ASSERT_NE(model_.DesiredLrp("pg-2"), nullptr);
  EXPECT_EQ(StateOf("pg-2", 0), "UNCLAIMED");
  EXPECT_EQ(StateOf("pg-2", 1), "UNCLAIMED");
  EXPECT_TRUE(locks_.TryLock("pg-2").owns_lock());
}

TEST_F(ActualLrpsTest, ANonBlockingDesireBacksOffWhileTheKeyIsLockedAndRefusesAnExistingLrp) {
  {
    KeyLocks::Held held = locks_.Lock("pg-2");
    bool called = false;
    EXPECT_FALSE(desired_.TryDesireLrp(NewLrp("pg-2", 1), "", [&](Status) { called = true; }));
    EXPECT_FALSE(called);
    EXPECT_EQ(model_.DesiredLrp("pg-2"), nullptr);
  }
  const int before = store_.entered();
  std::optional<Status> exists;
  ASSERT_TRUE(desired_.TryDesireLrp(NewLrp("pg", 1), "", [&](Status s) { exists = std::move(s); }));
  ASSERT_TRUE(exists.has_value());
  EXPECT_THAT(*exists, StatusIs(ErrorCode::kResourceExists));
  EXPECT_EQ(store_.entered(), before);  // nothing written
  EXPECT_TRUE(locks_.TryLock("pg").owns_lock());
}

}  // namespace
}  // namespace bbs::state
