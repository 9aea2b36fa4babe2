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

struct st_mysql;

namespace bbs::storage {

// Go's DSN form: [user[:password]@][net[(addr)]]/dbname[?params] (params are ignored).
struct MysqlDsn {
  std::string user, password, host = "127.0.0.1", socket, database;
  unsigned int port = 3306;
};
Result<MysqlDsn> ParseMysqlDsn(std::string_view dsn);

// MysqlStore keeps records in a MySQL or MariaDB database with upstream's tables, MySQL column
// types, indexes and blob format (spec/behavior.md §10.1-10.2), so a Go BBS and bbs can take
// turns on the same database. Open brings an older upstream schema forward through the
// migration list (§10.4) and re-encrypts rows when the active key label changed (§10.3).
//
// Commit sends a batch as one multi-statement query (START TRANSACTION; upserts; COMMIT): one
// round trip per batch. A transaction that fails with a deadlock (1213) or a lost connection is
// retried (3 tries in total, 500 ms apart, §10.5) on a fresh connection; nothing is
// acknowledged that was not committed. Connections set group_concat_max_len like upstream.
//
// One connection for Load and Commit (the Store contract has a single writer); the run-info
// reads have a second one of their own (opened on first use, reads one at a time), so they
// never wait for a commit.
class MysqlStore final : public sql::SqlStore {
 public:
  struct Options : sql::SqlStoreOptions {
    std::string dsn;  // user:pass@tcp(host:port)/db?...
    std::chrono::nanoseconds read_timeout = std::chrono::minutes(10);
    std::chrono::nanoseconds write_timeout = std::chrono::minutes(10);
  };

  // Connects, creates or migrates the schema, checks the version and the key label, and runs
  // the encryptor. Fails with UnknownError if the server cannot be reached (one line, no
  // credentials), and with Unrecoverable if the database is newer than this code or names an
  // unknown key label. REQUIRES: encoder != nullptr.
  static Result<std::unique_ptr<MysqlStore>> Open(
      const Options& options, Logger logger, std::shared_ptr<const encryption::Encoder> encoder);

  MysqlStore(const MysqlStore&) = delete;
  MysqlStore& operator=(const MysqlStore&) = delete;
  ~MysqlStore() override;

  Result<std::vector<StoredRunInfo>> ReadRunInfos(
      std::span<const std::string> process_guids) override;
  Result<std::vector<StoredRunInfo>> ReadAllRunInfos() override;

 private:
  MysqlStore(Options options, Logger logger, std::shared_ptr<const encryption::Encoder> encoder);

  Status EnsureConnected();
  // The run-info reads: runs the SELECT `sql` (of process_guid, run_info) on the reader
  // connection (connecting it as needed, one retry on a lost connection) and appends its rows.
  // `sql` is built by make_sql(reader connection), for quoting. REQUIRES: read_mu_ held.
  Status ReadRunInfoRows(const std::function<std::string(st_mysql*)>& make_sql,
                         std::vector<std::pair<std::string, std::string>>* out);
  // Runs `sql` (one or more statements) and discards its results. A failure on a lost
  // connection or a deadlock has code kDeadlock (retryable).
  Status Exec(const std::string& sql);
  // A string literal for `value` (quoted and escaped for this connection), or NULL.
  std::string Quote(const std::optional<std::string>& value);
  Result<bool> ColumnExists(const std::string& table, const std::string& column);
  // Opens the commit's transaction and checks the lease fence in it (docs/ha.md).
  Status BeginFenced();
  Status AddRoutableColumn();

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
  st_mysql* conn_ = nullptr;
  std::chrono::steady_clock::time_point connected_at_;
  std::mutex read_mu_;
  st_mysql* read_conn_ = nullptr;  // guarded by read_mu_
};

}  // namespace bbs::storage
