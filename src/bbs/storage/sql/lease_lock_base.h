#pragma once

// The part of the store locks that does not depend on where the lease is: the SQL lease row
// (lease_lock.h) and the etcd key (etcd/etcd_lock.h). docs/ha.md §"Store locks".

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/lock/lock_keeper.h"

namespace bbs::storage::sql {

// What a store needs to fence its commits: the owner and the epoch of the current tenure. The
// lock writes `epoch` (0 while not held); the store reads it at every commit and checks, inside
// the commit's transaction, that the lease row still names this owner and epoch and has not
// expired. Shared between the lock and the store; thread-safe.
struct LeaseFence {
  std::string owner;
  std::atomic<int64_t> epoch{0};
};

// One attempt to take a lease.
struct LeaseAttempt {
  bool acquired = false;
  int64_t epoch = 0;   // ours when acquired; the holder's otherwise (0: unknown)
  std::string holder;  // the current owner when not acquired
};

// What the store locks share (SqlLeaseLock, etcd::EtcdLeaseLock): a lease that a passive
// tries to take every retry_interval and the holder renews every retry_interval, losing it
// (on_lost) when a renewal fails, and a fence that the store checks in its own transactions, so
// that a holder paused or partitioned past its TTL commits nothing. The lease itself is the
// subclass's: TryAcquire, Renew, GiveBack.
//
// Logs under the logger's session: waiting-for-lock {lock-owner, epoch when known},
// failed-to-acquire-lock, acquired-lock {owner, epoch}, lost-lock {epoch}, released-lock
// {epoch}, failed-to-release-lock {epoch}; the first four with the subclass's *LogFields.
// Thread-safe, as LeaderLock.
class FencedLeaseLock : public lock::KeptLeaderLock {
 public:
  ~FencedLeaseLock() override;  // Does not release (as a crash would not).
  FencedLeaseLock(const FencedLeaseLock&) = delete;
  FencedLeaseLock& operator=(const FencedLeaseLock&) = delete;

  Result<lock::AcquireOutcome> Acquire(LostCallback on_lost) final;
  void Release() final;

  std::shared_ptr<const LeaseFence> fence() const { return fence_; }
  int64_t epoch() const { return fence_->epoch.load(); }

  // For tests: stop renewing without giving up the lease (a paused holder).
  void StopRenewingForTesting() { keeper().Stop(); }

 protected:
  // `owner`: the configured uuid (a unique owner when empty).
  FencedLeaseLock(std::string owner, std::chrono::milliseconds retry_interval, Logger logger);

  // One attempt to take the lease for owner().
  virtual Result<LeaseAttempt> TryAcquire() = 0;
  // One renewal of the lease taken at `epoch`; a non-OK status says why the lock is lost.
  virtual Status Renew(int64_t epoch) = 0;
  // Gives the lease taken at `epoch` up, so that a passive takes over at once.
  virtual Status GiveBack(int64_t epoch) = 0;
  // The fields the subclass adds to the log lines while acquiring (failed-to-acquire-lock,
  // waiting-for-lock) and to those of a tenure (acquired-lock, lost-lock).
  virtual nlohmann::json AcquiringLogFields() const { return nlohmann::json::object(); }
  virtual nlohmann::json TenureLogFields() const { return nlohmann::json::object(); }

  // Stops renewing: the first thing a subclass's destructor does, since the renewer uses it.
  void StopRenewing() { keeper().End(); }

  const std::string& owner() const { return fence_->owner; }
  const Logger& logger() const { return logger_; }

 private:
  const std::chrono::milliseconds retry_interval_;
  const Logger logger_;
  const std::shared_ptr<LeaseFence> fence_;
};

}  // namespace bbs::storage::sql
