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
// One connection (the Store contract has a single writer). Thread-compatible.
class MysqlStore final : public Store {
 public:
  struct Options {
    std::string dsn;  // user:pass@tcp(host:port)/db?...
    std::chrono::nanoseconds read_timeout = std::chrono::minutes(10);
    std::chrono::nanoseconds write_timeout = std::chrono::minutes(10);
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
  static Result<std::unique_ptr<MysqlStore>> Open(
      const Options& options, Logger logger, std::shared_ptr<const encryption::Encoder> encoder);

  MysqlStore(const MysqlStore&) = delete;
  MysqlStore& operator=(const MysqlStore&) = delete;
  ~MysqlStore() override;

  Status Load(Snapshot* out) override;
  Status Commit(std::span<const Mutation> mutations) override;

 private:
  MysqlStore(Options options, Logger logger, std::shared_ptr<const encryption::Encoder> encoder);

  Status Connect();
  Status EnsureConnected();
  // Runs `sql` (one or more statements) and discards its results. A failure on a lost
  // connection or a deadlock has code kDeadlock (retryable).
  Status Exec(const std::string& sql);
  // A string literal for `value` (quoted and escaped for this connection), or NULL.
  std::string Quote(const std::optional<std::string>& value);
  Result<bool> ColumnExists(const std::string& table, const std::string& column);
  Status CommitOnce(std::span<const Mutation> mutations);
  // Opens the commit's transaction and checks the lease fence in it (docs/ha.md).
  Status BeginFenced();
  Status LoadOnce(Snapshot* out, std::vector<Mutation>* undecodable);

  Status Migrate();
  Status RunEncryptor();
  Result<std::optional<std::string>> ReadConfiguration(const std::string& id);
  Status CopyMetricTagsOutOfRunInfo();
  Status AddRoutableColumn();

  Status ReadDesiredRows(std::vector<sql::DesiredRow>* out);
  Status ReadActualRows(std::vector<sql::ActualRow>* out);
  Status ReadTaskRows(std::vector<sql::TaskRow>* out);

  Options options_;
  Logger logger_;
  std::shared_ptr<const encryption::Encoder> encoder_;
  st_mysql* conn_ = nullptr;
  std::chrono::steady_clock::time_point connected_at_;
};

}  // namespace bbs::storage
