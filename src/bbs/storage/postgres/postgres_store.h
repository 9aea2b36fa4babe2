#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/sql/lease_lock.h"
#include "bbs/storage/sql/rows.h"
#include "bbs/storage/store.h"

struct pg_conn;

namespace bbs::storage {

// PostgresStore keeps records in a PostgreSQL database with upstream's tables, column types,
// indexes and blob format (spec/behavior.md §10.1-10.2), so a Go BBS and bbs can take turns on
// the same database. Open brings an older upstream schema forward through the migration list
// (§10.4) and re-encrypts rows when the active key label changed (§10.3).
//
// Commit sends all statements of a batch in one libpq pipeline ending in a single sync: one
// implicit transaction and one round trip per batch. A transaction that fails on a broken
// connection, a deadlock or a serialization failure is retried (3 tries in total, 500 ms apart,
// §10.5) on a fresh connection; nothing is acknowledged that was not committed.
//
// The Store contract (Load and Commit never concurrent) needs one connection, so the pool is
// one connection: `max_open_database_connections` and `max_idle_database_connections` of 1 or
// more are honoured trivially. Thread-compatible.
class PostgresStore final : public Store {
 public:
  struct Options {
    std::string url;  // postgres://user:pass@host:port/db?...
    std::chrono::nanoseconds connection_timeout = std::chrono::minutes(10);
    std::chrono::nanoseconds max_connection_lifetime{0};  // 0 = unlimited
    std::string ca_cert_file;  // non-empty: TLS, verified against this CA
    bool verify_identity = true;
    std::chrono::milliseconds retry_delay{500};
    // Set with the lease lock: every Commit checks the lease epoch in its own transaction and
    // fails with Unrecoverable when another process took over (docs/ha.md).
    std::shared_ptr<const sql::LeaseFence> fence;
    // Called with the duration of the migrations and of the encryptor once each finished (the
    // daemon logs bbs.migration-manager.finished-migrations / bbs.encryptor.encryption-finished).
    std::function<void(std::chrono::nanoseconds)> on_migrations_finished;
    std::function<void(std::chrono::nanoseconds)> on_encryption_finished;
  };

  // Connects, creates or migrates the schema, checks the version and the key label, and runs
  // the encryptor. Fails with UnknownError if the server cannot be reached (one line, no
  // credentials), and with Unrecoverable if the database is newer than this code or names an
  // unknown key label. REQUIRES: encoder != nullptr.
  static Result<std::unique_ptr<PostgresStore>> Open(
      const Options& options, Logger logger, std::shared_ptr<const encryption::Encoder> encoder);

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;
  ~PostgresStore() override;

  Status Load(Snapshot* out) override;
  Status Commit(std::span<const Mutation> mutations) override;

 private:
  struct Statement;
  PostgresStore(Options options, Logger logger, std::shared_ptr<const encryption::Encoder> encoder);

  Status Connect();
  Status EnsureConnected();
  Status Exec(const std::string& sql);
  // Runs `statements` as one transaction in one pipeline.
  Status RunPipeline(const std::vector<Statement>& statements);
  Status CommitOnce(std::span<const Mutation> mutations);
  Status LoadOnce(Snapshot* out, std::vector<Mutation>* undecodable);

  Status Migrate();
  Status RunEncryptor();
  Result<std::optional<std::string>> ReadConfiguration(const std::string& id);
  Status CopyMetricTagsOutOfRunInfo();

  Status ReadDesiredRows(std::vector<sql::DesiredRow>* out);
  Status ReadActualRows(std::vector<sql::ActualRow>* out);
  Status ReadTaskRows(std::vector<sql::TaskRow>* out);

  Options options_;
  Logger logger_;
  std::shared_ptr<const encryption::Encoder> encoder_;
  pg_conn* conn_ = nullptr;
  std::chrono::steady_clock::time_point connected_at_;
};

}  // namespace bbs::storage
