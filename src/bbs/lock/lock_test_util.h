#pragma once

#include <chrono>
#include <future>

#include <gtest/gtest.h>

#include "bbs/base/status.h"
#include "bbs/lock/leader_lock.h"

// Helpers for the tests of every LeaderLock (file, Locket, SQL lease).
namespace bbs::lock::testing {

using Acquiring = std::future<Result<AcquireOutcome>>;

// Starts lock->Acquire(nullptr) on another thread.
inline Acquiring AcquireAsync(LeaderLock* lock) {
  return std::async(std::launch::async, [lock] { return lock->Acquire(nullptr); });
}

// The Acquire is still waiting `wait` later.
inline void ExpectStillWaiting(Acquiring& acquiring, std::chrono::milliseconds wait) {
  EXPECT_EQ(acquiring.wait_for(wait), std::future_status::timeout);
}

// Starts lock->Acquire(nullptr) on another thread and expects it still waiting `wait` later,
// behind another holder.
inline Acquiring AcquireBehindHolder(LeaderLock* lock, std::chrono::milliseconds wait) {
  Acquiring acquiring = AcquireAsync(lock);
  ExpectStillWaiting(acquiring, wait);
  return acquiring;
}

// The Acquire ends (within 10 s) with `outcome`.
inline void ExpectOutcome(Acquiring& acquiring, AcquireOutcome outcome) {
  ASSERT_EQ(acquiring.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  Result<AcquireOutcome> result = acquiring.get();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(*result, outcome);
}

}  // namespace bbs::lock::testing
