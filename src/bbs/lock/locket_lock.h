#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "bbs/base/guid.h"
#include "bbs/base/logger.h"
#include "bbs/cells/locket_client.h"
#include "bbs/lock/lock_keeper.h"

namespace bbs::lock {

// The Locket resource of the lock and its timing (locket.md §9.1; behavior.md §11.6).
struct LocketLockOptions {
  std::string key = "bbs";
  std::string owner;         // the configured uuid; must be unique per process. REQUIRES: not empty
  int64_t ttl_seconds = 15;  // lock_ttl in whole seconds
  std::chrono::milliseconds retry_interval{5000};  // lock_retry_interval
};

// A LeaderLock held as a Locket lock resource, as upstream's lock runner holds it (locket.md
// §8): one Lock attempt at once, then one every `retry_interval` (measured from the end of the
// previous attempt) with that interval as deadline and wait-for-ready, each attempt carrying a
// fresh "uuid" metadata value. Collisions while waiting are silent; other errors are logged as
// failed-to-acquire-lock. Once acquired, the same call every `retry_interval` is the heartbeat;
// a single failed heartbeat (error, timeout, collision) loses the lock: lost-lock is logged and
// on_lost called. Release() stops the heartbeat and sends Release. Deviation from upstream
// (locket.md §14.6): the first attempt also has the `retry_interval` deadline, so a hung Locket
// cannot hang start-up.
//
// Logs under the logger's session (the daemon names it "locket-lock"): acquired-lock,
// failed-to-acquire-lock (with lock-owner after the first attempt), lost-lock, released-lock,
// failed-to-release-lock. Thread-safe, as LeaderLock.
class LocketLock final : public KeptLeaderLock {
 public:
  // `client` must outlive the lock.
  LocketLock(cells::LocketClient* client, LocketLockOptions options, Logger logger);
  ~LocketLock() override;  // Cancels a running Acquire and releases the lock.
  LocketLock(const LocketLock&) = delete;
  LocketLock& operator=(const LocketLock&) = delete;

  // Never fails: Locket errors are retried until Cancel().
  Result<AcquireOutcome> Acquire(LostCallback on_lost) override;
  void Release() override;
  std::string Description() const override;

 private:
  // One Lock call; `first` = the fail-fast attempt that starts Acquire.
  Status Attempt(bool first, std::string* request_uuid);
  // One heartbeat of the held lock: OK, or why the lock is lost.
  Status Heartbeat();

  cells::LocketClient* client_;
  const LocketLockOptions options_;
  const Logger logger_;
  cells::LocketResource resource_;
  RandomGuidGenerator guids_;
};

}  // namespace bbs::lock
