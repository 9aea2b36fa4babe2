#pragma once

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bbs::state {

// The locks that serialise writes to one key: a process guid (its desired LRP and all its
// actual LRPs), "task:<guid>" for a task. Keys hash onto a fixed set of stripes.
//
// A stripe's lock belongs to no thread: whoever holds it may hand it to another thread, which
// releases it (the I/O thread takes it for a write and the committer thread releases it once
// the write is applied). Lock() blocks; TryLock() never does.
//
// Thread-safe. A thread holds either one lock (Lock) or one set taken together (LockMany), so
// stripes are always taken in ascending order and never deadlock. A lock taken by TryLock and
// handed to the committer is released without waiting for any other lock.
class KeyLocks {
 public:
  // One held stripe, released on destruction or unlock(). Movable, not copyable.
  class Held {
   public:
    Held() = default;
    Held(Held&& other) noexcept
        : locks_(std::exchange(other.locks_, nullptr)), stripe_(other.stripe_) {}
    Held& operator=(Held&& other) noexcept {
      if (this != &other) {
        unlock();
        locks_ = std::exchange(other.locks_, nullptr);
        stripe_ = other.stripe_;
      }
      return *this;
    }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    ~Held() { unlock(); }

    bool owns_lock() const { return locks_ != nullptr; }
    explicit operator bool() const { return owns_lock(); }

    void unlock() {
      if (locks_ != nullptr) std::exchange(locks_, nullptr)->Unlock(stripe_);
    }

   private:
    friend class KeyLocks;
    Held(KeyLocks* locks, size_t stripe) : locks_(locks), stripe_(stripe) {}

    KeyLocks* locks_ = nullptr;
    size_t stripe_ = 0;
  };

  // The lock of `key`, waiting while another holder has it.
  Held Lock(const std::string& key) {
    const size_t s = StripeOf(key);
    Acquire(s);
    return Held(this, s);
  }

  // The lock of `key` when it is free now; otherwise an empty Held (owns_lock() false).
  Held TryLock(const std::string& key) {
    const size_t s = StripeOf(key);
    Stripe& stripe = stripes_[s];
    std::lock_guard lock(stripe.mu);
    if (stripe.held) return Held();
    stripe.held = true;
    return Held(this, s);
  }

  // The locks of all `keys` at once (each stripe once, in ascending order).
  std::vector<Held> LockMany(const std::vector<std::string>& keys) {
    std::vector<size_t> stripes;
    stripes.reserve(keys.size());
    for (const auto& key : keys) stripes.push_back(StripeOf(key));
    std::sort(stripes.begin(), stripes.end());
    stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
    std::vector<Held> locks;
    locks.reserve(stripes.size());
    for (size_t s : stripes) {
      Acquire(s);
      locks.push_back(Held(this, s));
    }
    return locks;
  }

  static std::string TaskKey(const std::string& task_guid) { return "task:" + task_guid; }

 private:
  struct Stripe {
    std::mutex mu;
    std::condition_variable cv;
    bool held = false;
    int waiters = 0;
  };

  size_t StripeOf(const std::string& key) const {
    return std::hash<std::string>{}(key) % stripes_.size();
  }

  void Acquire(size_t s) {
    Stripe& stripe = stripes_[s];
    std::unique_lock lock(stripe.mu);
    if (stripe.held) {
      ++stripe.waiters;
      stripe.cv.wait(lock, [&] { return !stripe.held; });
      --stripe.waiters;
    }
    stripe.held = true;
  }

  void Unlock(size_t s) {
    Stripe& stripe = stripes_[s];
    bool wake;
    {
      std::lock_guard lock(stripe.mu);
      stripe.held = false;
      wake = stripe.waiters > 0;
    }
    if (wake) stripe.cv.notify_one();
  }

  std::array<Stripe, 1024> stripes_;
};

}  // namespace bbs::state
