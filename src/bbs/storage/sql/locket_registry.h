#pragma once

#include <atomic>
// The built-in Locket's records in the store's own database (docs/ha.md §"The built-in Locket
// service"): upstream Locket's `locks` table, shared by every bbs process on that database, so
// that the active and every passive serve the same locks and presences (upstream's Locket is
// active-active on one table in the same way).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bbs/base/guid.h"
#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/cells/locket_registry.h"

namespace bbs::storage::sql {

// The table: upstream Locket's schema (locket.md §7) plus one column of ours, `expires_at`
// (microseconds since the epoch in the database's clock; NULL in rows an upstream Locket wrote,
// which this registry then never expires).
inline constexpr const char* kLocketTable = "locks";

struct SqlLocketOptions {
  std::string driver{};             // "postgres", "mysql" or "sqlite"
  std::string connection_string{};  // as the store's: postgres URL, mysql DSN, sqlite file path
  std::string ca_cert_file{};       // postgres/mysql TLS, as the store's
  bool verify_identity = true;
  // Bounds connecting and every statement (postgres statement_timeout, mysql read/write
  // timeouts, sqlite busy timeout).
  std::chrono::milliseconds timeout{5000};
  // Tests only: "now" in microseconds since the epoch instead of the database's clock.
  std::function<int64_t()> now_micros_for_testing{};
};

// A cells::LocketRegistry on the `locks` table (locket.md §5). Every call is one transaction on
// one connection of its own (calls are serialised): Lock and Release read the row with
// SELECT ... FOR UPDATE (sqlite: BEGIN IMMEDIATE) and then insert, update or delete it. A
// transaction that fails with a deadlock, a unique-key race or a broken connection is tried at
// most 3 times in all (behavior.md §10.5). Every time is the database's: a resource whose
// `expires_at` (set to now + ttl by every successful Lock) has passed is gone for every call of
// every process at the same moment, and ExpireNow() (also run at the start of FetchAll) deletes
// such rows, each delete conditional on the row not having been refreshed meanwhile. An expired
// row locked by another owner is taken over as a new resource (modified_index 1, new
// modified_id), as after upstream's deletion. The table is created when missing (and
// `expires_at` added to a table an upstream Locket created). Thread-safe.
class SqlLocketRegistry final : public cells::LocketRegistry {
 public:
  // Connects (and creates the table) at the first call, so that a database that is not up yet
  // fails calls rather than construction. Fails only for an unknown driver or a bad DSN.
  static Result<std::unique_ptr<SqlLocketRegistry>> Create(SqlLocketOptions options, Logger logger);
  ~SqlLocketRegistry() override;

  Status Lock(const cells::LocketResource& resource, int64_t ttl_seconds) override;
  Status Release(const std::string& key, const std::string& owner) override;
  Result<cells::LocketResource> Fetch(const std::string& key) override;
  Result<std::vector<cells::LocketResource>> FetchAll(cells::ResourceType type) override;
  size_t ExpireNow() override;
  int64_t locks_expired() const override { return locks_expired_.load(); }
  int64_t presences_expired() const override { return presences_expired_.load(); }

  // "postgres table locks" etc., for the logs.
  std::string Description() const;

  class Connection;  // one engine's connection (locket_registry.cc)

 private:
  SqlLocketRegistry(SqlLocketOptions options, std::unique_ptr<Connection> connection,
                    Logger logger);
  std::string Now() const;  // SQL expression: now in microseconds since the epoch
  Status Prepare();         // REQUIRES: mu_ held; connects and creates the table
  // Runs `body` as one transaction (`write`; otherwise its one statement in autocommit),
  // retried as documented above. REQUIRES: mu_ held.
  Status InTransaction(bool write, const std::function<Status()>& body);
  Result<size_t> ExpireLocked();

  const SqlLocketOptions options_;
  const Logger logger_;
  RandomGuidGenerator guids_;
  mutable std::mutex mu_;
  std::unique_ptr<Connection> connection_;  // guarded by mu_
  bool prepared_ = false;                   // guarded by mu_
  std::atomic<int64_t> locks_expired_ = 0;
  std::atomic<int64_t> presences_expired_ = 0;
};

}  // namespace bbs::storage::sql
