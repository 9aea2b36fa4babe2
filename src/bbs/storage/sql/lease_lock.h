#pragma once

// The leader lock of PostgreSQL and MySQL without an external Locket: a lease row in the store
// itself, with fencing (docs/ha.md §"Store locks").

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/storage/sql/lease_lock_base.h"

namespace bbs::storage::sql {

// The table of the lease (ours: upstream's schema has no such table), created when missing:
//   bbs_leader_lease (name PRIMARY KEY = 'bbs', owner, epoch, expires_at in database time).
inline constexpr const char* kLeaseTable = "bbs_leader_lease";
inline constexpr const char* kLeaseName = "bbs";

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
  using Attempt = LeaseAttempt;
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

// A LeaderLock on the lease row (FencedLeaseLock): a renewal is lost when it fails, returns no
// row or does not answer.
class SqlLeaseLock final : public FencedLeaseLock {
 public:
  // REQUIRES: backend != nullptr.
  SqlLeaseLock(std::unique_ptr<LeaseBackend> backend, std::string owner,
               SqlLeaseLockOptions options, Logger logger);
  ~SqlLeaseLock() override { StopRenewing(); }

  std::string Description() const override;

 private:
  Result<LeaseAttempt> TryAcquire() override;
  Status Renew(int64_t epoch) override;
  Status GiveBack(int64_t epoch) override;

  const SqlLeaseLockOptions options_;
  std::mutex backend_mu_;  // serialises the backend's calls
  std::unique_ptr<LeaseBackend> backend_;
};

}  // namespace bbs::storage::sql
