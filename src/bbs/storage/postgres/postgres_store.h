#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/sql/sql_store.h"

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
// The Store contract (Load and Commit never concurrent) needs one connection for them; the
// run-info reads have a second one of their own (opened on first use, reads one at a time), so
// they never wait for a commit. `max_open_database_connections` and
// `max_idle_database_connections` of 1 or more are honoured loosely (two connections).
class PostgresStore final : public sql::SqlStore {
 public:
  struct Options : sql::SqlStoreOptions {
    std::string url;  // postgres://user:pass@host:port/db?...
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

  Result<std::vector<StoredRunInfo>> ReadRunInfos(
      std::span<const std::string> process_guids) override;
  Result<std::vector<StoredRunInfo>> ReadAllRunInfos() override;

 private:
  struct Statement;
  PostgresStore(Options options, Logger logger, std::shared_ptr<const encryption::Encoder> encoder);

  Status EnsureConnected();
  // The run-info reads: runs `sql` with `params` on the reader connection (connecting or
  // reconnecting it as needed, one retry on a lost connection) and appends (guid, run_info
  // column) of each row. REQUIRES: read_mu_ held.
  Status ReadRunInfoRows(const std::string& sql, const std::vector<std::string>& params,
                         std::vector<std::pair<std::string, std::string>>* out);
  Status Exec(const std::string& sql);
  // A new connection to options_.url with the store's timeouts and TLS (the writer's and the
  // run-info reader's).
  Result<pg_conn*> OpenConnection() const;
  // Runs `statements` as one transaction in one pipeline.
  Status RunPipeline(const std::vector<Statement>& statements);

  const sql::SqlStoreOptions& sql_options() const override { return options_; }
  Status Connect() override;
  Status CommitOnce(std::span<const Mutation> mutations) override;
  Status LoadOnce(Snapshot* out, std::vector<Mutation>* undecodable) override;
  Status ReadDesiredRows(std::vector<sql::DesiredRow>* out) override;
  Status ReadActualRows(std::vector<sql::ActualRow>* out) override;
  Status ReadTaskRows(std::vector<sql::TaskRow>* out) override;
  Result<std::optional<std::string>> ReadConfiguration(const std::string& id) override;
  Status CreateConfigurations() override;
  Status CreateSchema(int64_t version) override;
  Status ApplyMigration(size_t index) override;
  Status BeginReencryption(sql::RowSet* rows) override;
  Status FinishReencryption(const sql::RowSet& rows) override;
  Status AbortReencryption(const Status& failure) override;

  Options options_;
  pg_conn* conn_ = nullptr;
  std::chrono::steady_clock::time_point connected_at_;
  std::mutex read_mu_;
  pg_conn* read_conn_ = nullptr;  // guarded by read_mu_
};

}  // namespace bbs::storage
