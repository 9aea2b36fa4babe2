#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/sql/rows.h"
#include "bbs/storage/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace bbs::storage {

// SqliteStore keeps records in one SQLite file laid out exactly like upstream's SQL rows
// (spec/behavior.md §10.1-10.2): tables configurations, domains, desired_lrps, actual_lrps,
// tasks, scalar fields in their own columns, nested data as encrypted encoded values. The
// configurations rows "version" (upstream's latest migration) and "encryption_key_label" are
// kept as upstream keeps them. The database runs in WAL mode with synchronous=FULL, so a Commit
// that returned OK survives kill -9 and power loss. Each Commit is one BEGIN IMMEDIATE
// transaction.
//
// Files written before the upstream row format (version 1: unencrypted protobuf blobs) are
// rewritten in the new format, in one transaction, when opened. When the stored key label
// differs from the encoder's active label every row is re-encrypted at open (§10.3).
//
// Load and Commit use one connection and its cached prepared statements (the Store contract
// never runs them concurrently). The run-info reads use their own connections (a small pool,
// opened on demand), so they run concurrently with a Commit: WAL lets readers read the last
// committed state while a writer writes. An in-memory database (":memory:") has only the one
// connection; its reads then wait for a Commit to finish.
class SqliteStore final : public Store {
 public:
  // The version of files written before the upstream row format.
  static constexpr int64_t kLegacyVersion = 1;

  // Opens the database file at `path`, creating the file, the tables and the version row if
  // missing, migrating legacy rows and re-encrypting rows as described above. The parent
  // directory must exist. Fails with UnknownError if the file cannot be opened or configured,
  // and with Unrecoverable if it holds a newer schema version than ours, is not a database, or
  // names an encryption key label that `encoder` does not know.
  // REQUIRES: encoder != nullptr.
  static Result<std::unique_ptr<SqliteStore>> Open(
      const std::string& path, Logger logger, std::shared_ptr<const encryption::Encoder> encoder);

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override;

  Status Load(Snapshot* out) override;
  Status Commit(std::span<const Mutation> mutations) override;
  Result<std::vector<StoredRunInfo>> ReadRunInfos(
      std::span<const std::string> process_guids) override;
  Result<std::vector<StoredRunInfo>> ReadAllRunInfos() override;

  // Rows per batch of Load's pipeline (sql::BatchLoader; default 2,048): bounds how much row
  // text and how many decoded records are in memory at start-up (a few batches at a time).
  // REQUIRES: rows > 0.
  void set_load_batch_rows(size_t rows) { load_batch_rows_ = rows; }

 private:
  struct StmtDeleter {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

  // A connection for the run-info reads and its statements.
  struct Reader;

  SqliteStore(sqlite3* db, Logger logger, std::shared_ptr<const encryption::Encoder> encoder);

  // A new reader connection on path_ (or, for an in-memory database, on db_).
  Result<std::unique_ptr<Reader>> OpenReader(bool on_main_connection);
  // Runs fn(Reader&) on an idle reader (opened if there is none), or, in memory, on the main
  // connection while no Commit runs. Returns fn's status.
  Status WithReader(const std::function<Status(Reader&)>& fn);
  // Decrypts (guid, run_info column) pairs.
  std::vector<StoredRunInfo> DecodeRunInfos(
      std::vector<std::pair<std::string, std::string>> encoded) const;

  Status Configure();
  Status CreateSchema();
  // Turns every index of the schema into an empty partial index (see the .cc).
  Status EmptyIndexes();
  Status CheckVersion();
  Status MigrateIfLegacy();
  Status MigrateLegacyRows();
  Status RunEncryptor();
  Status WriteConfiguration(const std::string& id, const std::string& value);
  Result<std::optional<std::string>> ReadConfiguration(const std::string& id);
  Status PrepareStatements();

  Status Exec(const char* sql);
  Status Prepare(std::string_view sql, Stmt* out);
  // Steps `stmt` to completion (SQLITE_DONE) and resets it.
  Status Run(sqlite3_stmt* stmt, std::string_view what);
  // Rolls back the open transaction, if any.
  void Rollback();
  // A Status for the last error on the connection, given the result code `rc`.
  Status Error(int rc, std::string_view what) const;

  Status Apply(const Mutation& mutation);
  Status PutDesired(const records::DesiredLRPRecord& record);
  Status PutActual(const models::ActualLRP& lrp);
  Status PutTaskRow(const models::Task& task);
  Status PutDesiredRow(const sql::DesiredRow& row);
  Status PutActualRow(const sql::ActualRow& row);
  Status PutTaskRowRaw(const sql::TaskRow& row);

  Status LoadDomains(Snapshot* out);
  // Read every row of a table into `out`. With a `flush`, the rows are handed over in batches
  // instead: flush() is called whenever `out` holds `batch_rows` rows (and once more for the
  // rest) and must consume them (leave `out` empty). `total`, if given, receives the row count
  // before the first flush.
  Status ReadDesiredRows(std::vector<sql::DesiredRow>* out, size_t* total = nullptr,
                         size_t batch_rows = 0, const std::function<void()>& flush = {});
  Status ReadActualRows(std::vector<sql::ActualRow>* out, size_t* total = nullptr,
                        size_t batch_rows = 0, const std::function<void()>& flush = {});
  Status ReadTaskRows(std::vector<sql::TaskRow>* out, size_t* total = nullptr,
                      size_t batch_rows = 0, const std::function<void()>& flush = {});
  // Counts the rows of `stmt` with `count_stmt` and hands the count to on_count(size_t), then
  // steps through `stmt`, calling on_row() at each row; `what` names the scan in an error.
  template <typename OnCount, typename OnRow>
  Status ScanRows(sqlite3_stmt* count_stmt, sqlite3_stmt* stmt, std::string_view what,
                  const OnCount& on_count, const OnRow& on_row);
  // ScanRows into `out`: each row is read into a new element by read_row(T&), which returns
  // false to drop it (a row that does not decode).
  template <typename T, typename ReadRow>
  Status ScanInto(sqlite3_stmt* count_stmt, sqlite3_stmt* stmt, std::string_view what,
                  std::vector<T>* out, const ReadRow& read_row);
  // What the three above share: `count_stmt` counts the rows `stmt` selects (in load.h's
  // column order); `what` names the read in an error.
  template <typename Row>
  Status ReadRowsInBatches(sqlite3_stmt* count_stmt, sqlite3_stmt* stmt, std::string_view what,
                           std::vector<Row>* out, size_t* total, size_t batch_rows,
                           const std::function<void()>& flush);
  Status LoadLegacyDesiredLrps(Snapshot* out);
  Status LoadLegacyActualLrps(Snapshot* out);
  Status LoadLegacyTasks(Snapshot* out);
  // Number of rows of `table`, to size the snapshot vectors.
  Status CountRows(sqlite3_stmt* stmt, size_t* out);

  sqlite3* db_;
  std::string path_;
  bool in_memory_ = false;  // journal_mode "memory": a second connection would not see db_
  std::mutex db_mu_;        // held by Load, Commit and the in-memory run-info reads
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Reader>> idle_readers_;  // guarded by readers_mu_
  std::unique_ptr<Reader> main_reader_;                // in memory: statements on db_
  Logger logger_;
  std::shared_ptr<const encryption::Encoder> encoder_;
  bool legacy_rows_ = false;

  Stmt begin_immediate_, begin_read_, commit_, rollback_;
  Stmt put_domain_, delete_domain_;
  Stmt put_desired_, delete_desired_;
  Stmt put_actual_, delete_actual_;
  Stmt put_task_, delete_task_;
  Stmt select_domains_, select_desired_, select_actual_, select_tasks_;
  Stmt count_desired_, count_actual_, count_tasks_;
  Stmt load_desired_;  // select_desired_ without the run_info column (Load)
  size_t load_batch_rows_ = 1024;
};

}  // namespace bbs::storage
