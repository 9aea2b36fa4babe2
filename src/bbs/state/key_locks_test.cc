#include "bbs/state/key_locks.h"

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace bbs::state {
namespace {

TEST(KeyLocksTest, TryLockFailsWhileTheKeyIsHeldAndSucceedsOnceReleased) {
  KeyLocks locks;
  KeyLocks::Held held = locks.TryLock("pg");
  ASSERT_TRUE(held.owns_lock());
  EXPECT_FALSE(locks.TryLock("pg").owns_lock());
  held.unlock();
  EXPECT_FALSE(held.owns_lock());
  EXPECT_TRUE(locks.TryLock("pg").owns_lock());  // and released again at once
  EXPECT_TRUE(locks.TryLock("pg").owns_lock());
}

TEST(KeyLocksTest, AMovedLockIsReleasedOnceByItsNewOwner) {
  KeyLocks locks;
  KeyLocks::Held a = locks.Lock("pg");
  KeyLocks::Held b = std::move(a);
  EXPECT_FALSE(a.owns_lock());
  EXPECT_TRUE(b.owns_lock());
  a.unlock();  // a no-op: `a` holds nothing
  EXPECT_FALSE(locks.TryLock("pg").owns_lock());
  b = KeyLocks::Held();  // releases
  EXPECT_TRUE(locks.TryLock("pg").owns_lock());
}

TEST(KeyLocksTest, ALockTakenOnOneThreadIsReleasedOnAnotherAndWakesAWaiter) {
  KeyLocks locks;
  KeyLocks::Held held = locks.TryLock("pg");
  ASSERT_TRUE(held.owns_lock());

  std::atomic<bool> acquired{false};
  std::promise<void> waiting;
  std::thread waiter([&] {
    waiting.set_value();
    KeyLocks::Held mine = locks.Lock("pg");  // blocks until the releaser below
    acquired = true;
  });
  waiting.get_future().wait();
  EXPECT_FALSE(acquired.load());  // still held by this thread's TryLock

  std::thread releaser([h = std::move(held)]() mutable { h.unlock(); });
  releaser.join();
  waiter.join();
  EXPECT_TRUE(acquired.load());
  EXPECT_TRUE(locks.TryLock("pg").owns_lock());
}

TEST(KeyLocksTest, ConcurrentHoldersOfOneKeyNeverOverlap) {
  KeyLocks locks;
  int inside = 0;  // guarded by the key lock only: TSan flags any overlap
  int total = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        KeyLocks::Held held;
        if (t % 2 == 0) {
          held = locks.Lock("pg");
        } else {
          while (!(held = locks.TryLock("pg"))) std::this_thread::yield();
        }
        ++inside;
        EXPECT_EQ(inside, 1);
        ++total;
        --inside;
        if (t == 3) {
          // Released by another thread, as the committer does.
          std::thread([h = std::move(held)]() mutable { h.unlock(); }).join();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(total, 2000);
}

TEST(KeyLocksTest, LockManyTakesEveryStripeOnceAndReleasesThemAll) {
  KeyLocks locks;
  {
    auto held = locks.LockMany({"a", "b", "a", "task:c"});
    EXPECT_FALSE(locks.TryLock("a").owns_lock());
    EXPECT_FALSE(locks.TryLock("b").owns_lock());
    EXPECT_FALSE(locks.TryLock(KeyLocks::TaskKey("c")).owns_lock());
  }
  EXPECT_TRUE(locks.TryLock("a").owns_lock());
  EXPECT_TRUE(locks.TryLock("b").owns_lock());
}

}  // namespace
}  // namespace bbs::state
