#include "bbs/lock/lock_keeper.h"

namespace bbs::lock {

void LockKeeper::Cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

bool LockKeeper::Cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

bool LockKeeper::WaitUnlessCancelled(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [this] { return cancelled_; });
  return !cancelled_;
}

void LockKeeper::Start(std::chrono::milliseconds interval, Check check, Lose lose,
                       LostCallback on_lost) {
  std::lock_guard lock(mu_);
  StartLocked(interval, std::move(check), std::move(lose), std::move(on_lost));
}

bool LockKeeper::StartUnlessCancelled(std::chrono::milliseconds interval, Check check, Lose lose,
                                      LostCallback on_lost) {
  std::lock_guard lock(mu_);
  if (cancelled_) return false;
  StartLocked(interval, std::move(check), std::move(lose), std::move(on_lost));
  return true;
}

void LockKeeper::StartLocked(std::chrono::milliseconds interval, Check check, Lose lose,
                             LostCallback on_lost) {
  on_lost_ = std::move(on_lost);
  stopping_ = false;
  held_.store(true);
  thread_ = std::thread([this, interval, check = std::move(check), lose = std::move(lose)] {
    Run(interval, check, lose);
  });
}

void LockKeeper::Run(std::chrono::milliseconds interval, const Check& check, const Lose& lose) {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, interval, [this] { return stopping_; })) return;
    }
    Status why = check();
    if (why.ok()) continue;
    LostCallback on_lost;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;  // Stop raced with a failing check: not a loss
      on_lost = std::move(on_lost_);
    }
    held_.store(false);
    lose(why);
    if (on_lost) on_lost(why);
    return;
  }
}

void LockKeeper::Stop() {
  // Joins the thread, or detaches it when Stop runs on that very thread (called from on_lost),
  // which ends right after anyway.
  std::thread stopped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    stopped = std::move(thread_);
  }
  cv_.notify_all();
  if (!stopped.joinable()) return;
  if (stopped.get_id() == std::this_thread::get_id()) {
    stopped.detach();
  } else {
    stopped.join();
  }
}

bool LockKeeper::End() {
  Stop();
  return held_.exchange(false);
}

}  // namespace bbs::lock
