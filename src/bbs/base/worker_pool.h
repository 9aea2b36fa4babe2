#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bbs {

// A fixed set of threads running submitted closures in FIFO order. Request handlers that may
// block (waiting for a group commit, walking a large list) run here so that the HTTP I/O threads
// never block. Thread-safe.
class WorkerPool {
 public:
  explicit WorkerPool(size_t threads);
  ~WorkerPool();  // finishes queued work, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `fn`. Returns false (and drops `fn`) once Shutdown() has begun.
  bool Submit(std::function<void()> fn);
  // Runs what is queued, then stops the threads. Idempotent.
  void Shutdown();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace bbs
