#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "bbs/base/status.h"
#include "bbs/lock/leader_lock.h"

namespace bbs::lock {

// The part every LeaderLock with a background thread shares (LocketLock, FileLock, the SQL and
// etcd lease locks): the cancel flag of Acquire, the held flag, and the thread that keeps the
// lock held once acquired. The lock itself keeps what is its own: the attempts, the checks, the
// log lines. Thread-safe.
class LockKeeper {
 public:
  using LostCallback = LeaderLock::LostCallback;
  // One check of a held lock: OK while it is still held, else why it was lost.
  using Check = std::function<Status()>;
  // Runs once when a check fails, after Held() turned false and before on_lost: the lock's
  // lost-lock log line and its own clean-up.
  using Lose = std::function<void(const Status& why)>;

  LockKeeper() = default;
  ~LockKeeper() { Stop(); }
  LockKeeper(const LockKeeper&) = delete;
  LockKeeper& operator=(const LockKeeper&) = delete;

  // --- Acquire's side.

  // Makes WaitUnlessCancelled return false from now on (also a wait in progress).
  void Cancel();
  bool Cancelled() const;
  // Waits `d`; false when Cancel() was called (before or while waiting).
  bool WaitUnlessCancelled(std::chrono::milliseconds d);

  // The acquisition loop of a lock that polls (the SQL lease row, the etcd key): an attempt at
  // once, then one every `interval` after the end of the previous one, until an attempt takes
  // the lock (returned) or Cancel() (nullopt). A failed attempt is passed to `failed` once per
  // run of failures; a lock held by another holder to `waiting` whenever the holder changes.
  // `Attempt` has `bool acquired` and `std::string holder`.
  template <typename Attempt>
  std::optional<Attempt> PollUntilAcquired(std::chrono::milliseconds interval,
                                           const std::function<Result<Attempt>()>& attempt,
                                           const std::function<void(const Status&)>& failed,
                                           const std::function<void(const Attempt&)>& waiting);

  // --- The tenure.

  bool Held() const { return held_.load(); }
  // Marks the lock held and starts the background thread: every `interval` it runs `check`
  // until Stop(); the first failed check (unless Stop() raced with it) ends the tenure: Held()
  // turns false, then `lose(why)` runs, then `on_lost(why)`, and the thread ends.
  void Start(std::chrono::milliseconds interval, Check check, Lose lose, LostCallback on_lost);
  // Start, unless Cancel() was called (then false, and nothing started): one step, so that a
  // Cancel cannot slip in between.
  bool StartUnlessCancelled(std::chrono::milliseconds interval, Check check, Lose lose,
                            LostCallback on_lost);
  // Ends the background thread (joins it, or detaches it when called on it, from on_lost).
  // Held() stays as it is: a paused holder, for tests.
  void Stop();
  // Stop(), then Held() turns false; returns whether the lock was held.
  bool End();

 private:
  // Start with mu_ held.
  void StartLocked(std::chrono::milliseconds interval, Check check, Lose lose,
                   LostCallback on_lost);
  void Run(std::chrono::milliseconds interval, const Check& check, const Lose& lose);

  std::atomic<bool> held_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  LostCallback on_lost_;    // guarded by mu_
  std::thread thread_;
};

// A LeaderLock kept by a LockKeeper: Held() and Cancel() are the keeper's (a subclass may
// cancel more).
class KeptLeaderLock : public LeaderLock {
 public:
  void Cancel() override { keeper_.Cancel(); }
  bool Held() const final { return keeper_.Held(); }

 protected:
  LockKeeper& keeper() { return keeper_; }

 private:
  LockKeeper keeper_;
};

template <typename Attempt>
std::optional<Attempt> LockKeeper::PollUntilAcquired(
    std::chrono::milliseconds interval, const std::function<Result<Attempt>()>& attempt,
    const std::function<void(const Status&)>& failed,
    const std::function<void(const Attempt&)>& waiting) {
  std::string last_holder;
  bool logged_error = false;
  while (!Cancelled()) {
    Result<Attempt> result = attempt();
    if (!result.ok()) {
      if (!logged_error) {
        failed(result.status());
        logged_error = true;
      }
    } else if (result.value().acquired) {
      return std::move(result).value();
    } else {
      logged_error = false;
      if (result.value().holder != last_holder) {
        last_holder = result.value().holder;
        waiting(result.value());
      }
    }
    if (!WaitUnlessCancelled(interval)) break;
  }
  return std::nullopt;
}

}  // namespace bbs::lock
