#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace bbs {

// A background thread that can be told to stop: its body runs until it returns, and waits
// between rounds with WaitFor()/WaitUntil(), which return true as soon as Stop() was called.
// Stop() (also run by the destructor) wakes those waits and joins the thread; a stopped thread
// is not started again. Thread-safe.
class StoppableThread {
 public:
  StoppableThread() = default;
  ~StoppableThread() { Stop(); }
  StoppableThread(const StoppableThread&) = delete;
  StoppableThread& operator=(const StoppableThread&) = delete;

  // Runs `body` on a new thread, unless one was started already or Stop() was called.
  void Start(std::function<void()> body) {
    std::lock_guard lock(mu_);
    if (thread_.joinable() || stopping_) return;
    thread_ = std::thread(std::move(body));
  }

  // Idempotent. REQUIRES: not called from the body.
  void Stop() {
    std::thread running;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      running = std::move(thread_);
    }
    cv_.notify_all();
    if (running.joinable()) running.join();
  }

  // For the body: waits `timeout`, or less when Stop() is called; true when stopping.
  bool WaitFor(std::chrono::nanoseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return stopping_; });
  }
  template <typename TimePoint>
  bool WaitUntil(TimePoint deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, deadline, [this] { return stopping_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;     // guarded by mu_; Stop() takes it out to join it
};

}  // namespace bbs
