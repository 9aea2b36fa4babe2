#include "bbs/clients/send_queue.h"

#include <algorithm>
#include <utility>

namespace bbs::clients {

SendQueue::SendQueue(int threads, size_t max_queued, Logger logger)
    : max_queued_(std::max<size_t>(max_queued, 1)), logger_(std::move(logger)) {
  int count = std::max(1, threads);
  threads_.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) threads_.emplace_back([this] { Run(); });
}

SendQueue::~SendQueue() { Shutdown(std::chrono::milliseconds(0), {}); }

bool SendQueue::Submit(std::function<void()> fn) {
  std::function<void()> oldest;  // destroyed outside the lock
  uint64_t log_count = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_) return false;
    if (queue_.size() >= max_queued_) {
      oldest = std::move(queue_.front());
      queue_.pop_front();
      dropped_.fetch_add(1);
      ++unlogged_drops_;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_log_ >= std::chrono::seconds(1)) {
        last_log_ = now;
        log_count = unlogged_drops_;
        unlogged_drops_ = 0;
      }
    }
    queue_.push_back(std::move(fn));
    work_cv_.notify_one();
  }
  if (log_count > 0) {
    logger_.Error("send-queue-full-dropped-oldest", "the peer is not keeping up",
                  {{"dropped", log_count}, {"max_queued", max_queued_}});
  }
  return true;
}

size_t SendQueue::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void SendQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::function<void()> fn = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    fn();
    fn = nullptr;  // release captures before taking the lock again
    lock.lock();
    --running_;
    idle_cv_.notify_all();
  }
}

size_t SendQueue::Shutdown(std::chrono::milliseconds timeout,
                           const std::function<void()>& abort_in_flight) {
  std::lock_guard<std::mutex> serial(shutdown_mu_);
  if (shut_down_) return 0;
  shut_down_ = true;
  std::deque<std::function<void()>> dropped;
  {
    std::unique_lock<std::mutex> lock(mu_);
    accepting_ = false;
    idle_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && running_ == 0; });
    stopping_ = true;
    dropped.swap(queue_);
    work_cv_.notify_all();
  }
  if (abort_in_flight) abort_in_flight();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  return dropped.size();
}

}  // namespace bbs::clients
