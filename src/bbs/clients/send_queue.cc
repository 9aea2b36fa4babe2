#include "bbs/clients/send_queue.h"

#include <algorithm>
#include <utility>

namespace bbs::clients {

SendQueue::SendQueue(int threads) {
  int count = std::max(1, threads);
  threads_.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) threads_.emplace_back([this] { Run(); });
}

SendQueue::~SendQueue() { Shutdown(std::chrono::milliseconds(0), {}); }

bool SendQueue::Submit(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!accepting_) return false;
  queue_.push_back(std::move(fn));
  work_cv_.notify_one();
  return true;
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
