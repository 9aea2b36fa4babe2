#pragma once

// The leader lock of PostgreSQL and MySQL without an external Locket: a lease row in the store
// itself, with fencing (docs/ha.md §"Store locks").

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/lock/leader_lock.h"

namespace bbs::storage::sql {

// The table of the lease (ours: upstream's schema has no such table), created when missing:
//   bbs_leader_lease (name PRIMARY KEY = 'bbs', owner, epoch, expires_at in database time).
inline constexpr const char* kLeaseTable = "bbs_leader_lease";
inline constexpr const char* kLeaseName = "bbs";

// What a store needs to fence its commits: the owner and the epoch of the current tenure. The
// lock writes `epoch` (0 while not held); the store reads it at every commit and checks, inside
// the commit's transaction, that the lease row still names this owner and epoch and has not
// expired. Shared between the lock and the store; thread-safe.
struct LeaseFence {
  std::string owner;
  std::atomic<int64_t> epoch{0};
};

// The error of a commit refused by the fence: Unrecoverable, as a lost lock (the daemon exits).
Status LeaseLostError(const LeaseFence& fence, int64_t epoch);

// PostgreSQL: the statement a fenced commit runs first in its transaction. It share-locks the
// lease row (a successor's takeover waits for our commit, or we see its new epoch) and raises
// SQLSTATE kPostgresFenceSqlState when the row does not name `fence.owner` and `epoch` or has
// expired, which aborts the rest of the transaction.
inline constexpr const char* kPostgresFenceSqlState = "BBSLL";
std::string PostgresFenceStatement(const LeaseFence& fence, int64_t epoch);

// MySQL: the same check as a locking read, run by a fenced commit right after START
// TRANSACTION; true when the row still names `fence.owner` and `epoch` and has not expired.
std::string MysqlFenceQuery(const std::string& quoted_owner, int64_t epoch);

// One connection to the lease row. Times are the database's (now() + ttl), never the client's.
// Implementations: postgres (libpq) and mysql (MariaDB C client). Thread-compatible.
class LeaseBackend {
 public:
  struct Attempt {
    bool acquired = false;
    int64_t epoch = 0;   // ours when acquired, the holder's otherwise
    std::string holder;  // the current owner when not acquired
  };
  virtual ~LeaseBackend() = default;
  // One transaction: creates the table when missing, then takes the row when it is missing,
  // expired, or already ours (epoch + 1), else reports the holder.
  virtual Result<Attempt> TryAcquire(const std::string& owner, std::chrono::milliseconds ttl) = 0;
  // Extends our unexpired lease; false when the row no longer names `owner` and `epoch` or has
  // expired.
  virtual Result<bool> Renew(const std::string& owner, int64_t epoch,
                             std::chrono::milliseconds ttl) = 0;
  // Deletes the row when it is still ours.
  virtual Status Release(const std::string& owner, int64_t epoch) = 0;
  // "postgres table bbs_leader_lease at host:port/db" (no credentials).
  virtual std::string Description() const = 0;

  // The DB health check of behavior.md §10.5 on this connection (a backend made for it, not the
  // lock's): upserts row id 1 of bbs_health_check (created by the migrations) with `now` and
  // reads it back. Fails when the database does not answer within the connection's timeout.
  virtual Status HealthCheck(int64_t now) = 0;
};

struct SqlConnectionOptions {
  std::string connection_string{};  // postgres URL or mysql DSN (as the store's)
  std::string ca_cert_file{};
  bool verify_identity = true;
  // Bounds every call of the backend (connect, each statement), so that an unreachable database
  // ends a renewal in time.
  std::chrono::milliseconds timeout{5000};
};
std::unique_ptr<LeaseBackend> MakePostgresLeaseBackend(SqlConnectionOptions options);
std::unique_ptr<LeaseBackend> MakeMysqlLeaseBackend(SqlConnectionOptions options);

struct SqlLeaseLockOptions {
  std::chrono::milliseconds ttl{15000};            // lock_ttl
  std::chrono::milliseconds retry_interval{5000};  // lock_retry_interval: acquire and renew
};

// A LeaderLock on the lease row: a passive tries to take it every retry_interval; the holder
// renews it every retry_interval and loses it (on_lost) when a renewal fails, returns no row or
// does not answer. Fencing makes this safe even for a holder that is paused or partitioned past
// its TTL: `fence()` goes to the store, whose commits check the epoch in their own transaction.
//
// Logs under the logger's session: waiting-for-lock {lock-owner}, failed-to-acquire-lock,
// acquired-lock {epoch}, lost-lock, released-lock. Thread-safe, as LeaderLock.
class SqlLeaseLock final : public lock::LeaderLock {
 public:
  // `owner`: the configured uuid (a unique owner when empty). REQUIRES: backend != nullptr.
  SqlLeaseLock(std::unique_ptr<LeaseBackend> backend, std::string owner,
               SqlLeaseLockOptions options, Logger logger);
  ~SqlLeaseLock() override;  // Stops renewing; does not release (as a crash would not).
  SqlLeaseLock(const SqlLeaseLock&) = delete;
  SqlLeaseLock& operator=(const SqlLeaseLock&) = delete;

  Result<lock::AcquireOutcome> Acquire(LostCallback on_lost) override;
  void Cancel() override;
  bool Held() const override { return held_.load(); }
  void Release() override;
  std::string Description() const override;

  std::shared_ptr<const LeaseFence> fence() const { return fence_; }
  int64_t epoch() const { return fence_->epoch.load(); }

  // For tests: stop renewing without giving up the lease (a paused holder).
  void StopRenewingForTesting();

 private:
  void RenewLoop();
  // Waits `d` or until woken; returns false when stopping or cancelled.
  bool WaitFor(std::chrono::milliseconds d, const bool& flag);

  const SqlLeaseLockOptions options_;
  const Logger logger_;
  const std::shared_ptr<LeaseFence> fence_;
  std::atomic<bool> held_{false};

  std::mutex backend_mu_;  // serialises the backend's calls
  std::unique_ptr<LeaseBackend> backend_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  LostCallback on_lost_;
  std::thread renewer_;
};

}  // namespace bbs::storage::sql
