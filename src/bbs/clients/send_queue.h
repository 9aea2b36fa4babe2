#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "bbs/base/logger.h"

namespace bbs::clients {

// A FIFO of fire-and-forget sends run by a few threads, with a shutdown that drains for a
// bounded time. The closures do their own network I/O and logging; no lock is held while one
// runs. Thread-safe.
//
// Bounded: at most `max_queued` sends wait (those running do not count). When a peer hangs and
// the queue is full, Submit() drops the oldest waiting send to make room (the newest work is the
// most relevant; what is dropped is fire-and-forget work that convergence re-finds or that a
// later send supersedes), counts it in dropped() and logs "send-queue-full-dropped-oldest" at
// most once a second with the number dropped since the last line.
class SendQueue {
 public:
  static constexpr size_t kDefaultMaxQueued = 10000;

  explicit SendQueue(int threads, size_t max_queued = kDefaultMaxQueued,
                     Logger logger = Logger(LogSink::Null(), "send-queue"));
  ~SendQueue();  // Shutdown(0, {}) if not done yet
  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  // Queues `fn` (dropping the oldest waiting send when the queue is full). Returns false (and
  // drops `fn`) once Shutdown() has begun.
  bool Submit(std::function<void()> fn);

  // Stops accepting, waits until everything queued has run or `timeout` passed, then drops
  // what is still queued, calls `abort_in_flight` (to make running sends return promptly) and
  // joins the threads. Returns how many queued sends were dropped. Idempotent (later calls
  // return 0).
  size_t Shutdown(std::chrono::milliseconds timeout, const std::function<void()>& abort_in_flight);

  // Sends dropped so far because the queue was full (not counting Shutdown()'s drops).
  uint64_t dropped() const { return dropped_.load(); }
  // Sends waiting now.
  size_t queued() const;

 private:
  void Run();

  const size_t max_queued_;
  const Logger logger_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> queue_;
  int running_ = 0;
  bool accepting_ = true;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
  std::atomic<uint64_t> dropped_{0};
  uint64_t unlogged_drops_ = 0;                     // guarded by mu_
  std::chrono::steady_clock::time_point last_log_;  // guarded by mu_
};

}  // namespace bbs::clients
