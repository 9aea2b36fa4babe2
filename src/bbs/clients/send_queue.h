#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bbs::clients {

// A FIFO of fire-and-forget sends run by a few threads, with a shutdown that drains for a
// bounded time. The closures do their own network I/O and logging; no lock is held while one
// runs. Thread-safe.
class SendQueue {
 public:
  explicit SendQueue(int threads);
  ~SendQueue();  // Shutdown(0, {}) if not done yet
  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  // Queues `fn`. Returns false (and drops `fn`) once Shutdown() has begun.
  bool Submit(std::function<void()> fn);

  // Stops accepting, waits until everything queued has run or `timeout` passed, then drops
  // what is still queued, calls `abort_in_flight` (to make running sends return promptly) and
  // joins the threads. Returns how many queued sends were dropped. Idempotent (later calls
  // return 0).
  size_t Shutdown(std::chrono::milliseconds timeout, const std::function<void()>& abort_in_flight);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> queue_;
  int running_ = 0;
  bool accepting_ = true;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
};

}  // namespace bbs::clients
