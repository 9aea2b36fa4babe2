#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/storage/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace bbs::storage {

// SqliteStore keeps records in one SQLite file laid out like upstream's SQL schema
// (spec/behavior.md §10.1): tables configurations, domains, desired_lrps, actual_lrps, tasks,
// scalar fields in their own columns, nested messages as serialized protobuf in blob columns
// (unencrypted). The database runs in WAL mode with synchronous=FULL, so a Commit that
// returned OK survives kill -9 and power loss. Each Commit is one BEGIN IMMEDIATE transaction.
//
// Thread-compatible: the Store contract (never Load and Commit concurrently) is all the
// synchronisation it needs; it owns one connection and its cached prepared statements.
class SqliteStore final : public Store {
 public:
  // The schema version this code writes, kept as {"CurrentVersion": N} in configurations.
  static constexpr int64_t kSchemaVersion = 1;

  // Opens the database file at `path`, creating the file, the tables and the version row if
  // missing. The parent directory must exist. Fails with UnknownError if the file cannot be
  // opened or configured, and with Unrecoverable if it holds a newer schema version than ours
  // or is not a database.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, Logger logger);

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override;

  Status Load(Snapshot* out) override;
  Status Commit(std::span<const Mutation> mutations) override;

 private:
  struct StmtDeleter {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

  SqliteStore(sqlite3* db, Logger logger);

  Status Configure();
  Status CreateSchema();
  Status CheckVersion();
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

  Status LoadDomains(Snapshot* out);
  Status LoadDesiredLrps(Snapshot* out);
  Status LoadActualLrps(Snapshot* out);
  Status LoadTasks(Snapshot* out);
  // Number of rows of `table`, to size the snapshot vectors.
  Status CountRows(sqlite3_stmt* stmt, size_t* out);

  sqlite3* db_;
  Logger logger_;

  Stmt begin_immediate_, begin_read_, commit_, rollback_;
  Stmt put_domain_, delete_domain_;
  Stmt put_desired_, delete_desired_;
  Stmt put_actual_, delete_actual_;
  Stmt put_task_, delete_task_;
  Stmt select_domains_, select_desired_, select_actual_, select_tasks_;
  Stmt count_desired_, count_actual_, count_tasks_;

  // Serialization buffers bound with SQLITE_STATIC; reused to avoid an allocation per write.
  std::string blob_a_, blob_b_, blob_c_, blob_d_;
};

}  // namespace bbs::storage
