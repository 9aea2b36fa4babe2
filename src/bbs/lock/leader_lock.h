#pragma once

#include <functional>
#include <string>

#include "bbs/base/status.h"

namespace bbs::lock {

// How a call to LeaderLock::Acquire ended.
enum class AcquireOutcome { kAcquired, kCancelled };

// The lock that makes exactly one bbs process the active one (behavior.md §9, docs/ha.md).
//
// A process calls Acquire once, before it opens the store for writing. Acquire blocks while
// another process holds the lock: the caller is then passive. Once Acquire returned kAcquired
// the implementation keeps the lock held in the background (Locket heartbeats, lease renewals,
// lock-file checks) until Release(). When it cannot — the lease expired, the backend became
// unreachable, another owner took the lock, the lock file was replaced — Held() turns false and
// `on_lost` is called exactly once, from a thread of the lock. The holder must stop writing at
// once; the daemon exits non-zero and its supervisor restarts it as a passive (as upstream).
//
// Implementations: LocketLock (the `bbs` resource in an external Locket), FileLock (flock on a
// file beside an SQLite database); the SQL lease row of docs/ha.md §"Store locks" plugs in here.
// Thread-safe: Cancel(), Held() and Release() may be called from any thread, also while Acquire
// runs on another.
class LeaderLock {
 public:
  using LostCallback = std::function<void(const Status& why)>;

  virtual ~LeaderLock() = default;

  // Blocks until this process holds the lock (kAcquired) or Cancel() was called (kCancelled).
  // Transient backend errors are logged and retried. Fails only when retrying cannot help (for
  // example the lock file cannot be created). REQUIRES: called at most once.
  virtual Result<AcquireOutcome> Acquire(LostCallback on_lost) = 0;

  // Makes a running or later Acquire return kCancelled soon. Does not release a held lock.
  virtual void Cancel() = 0;

  // True between a successful Acquire and Release() or the loss of the lock.
  virtual bool Held() const = 0;

  // Stops keeping the lock and gives it up, so that a passive process can take over without
  // waiting for a TTL. Never calls `on_lost`. Idempotent; a no-op when the lock is not held.
  virtual void Release() = 0;

  // What and where the lock is, for log lines ("locket key bbs at host:8891", ...).
  virtual std::string Description() const = 0;
};

}  // namespace bbs::lock
