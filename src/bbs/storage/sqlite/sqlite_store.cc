#include "bbs/storage/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bbs/storage/sql/load.h"
#include "bbs/storage/sql/rows.h"
#include "bbs/storage/sql/schema.h"
#include "bbs/storage/sql/sql_store.h"

namespace bbs::storage {
namespace {

constexpr int kBusyTimeoutMs = 5000;
// Negative = KiB. The model serves every read from memory and the indexes stay empty, so the
// cache only needs the tables' interior pages for the upserts (leaf pages come from the OS).
constexpr const char* kCacheSizePragma = "PRAGMA cache_size=-16384";

// Upstream's final schema (spec/behavior.md §10.1) in SQLite types: encrypted columns are TEXT
// holding encoded values; the legacy columns actual_lrps.evacuating and expire_time are kept.
// bbs_health_check is created for parity with upstream's migration list.
std::string Schema() {
  return "\nCREATE TABLE IF NOT EXISTS configurations (\n  id VARCHAR(255) NOT NULL PRIMARY KEY,\n "
         " "
         "value VARCHAR(255)\n);\n" +
         sql::CreateRecordTablesSql(sql::Dialect::kSqlite) +
         "CREATE TABLE IF NOT EXISTS bbs_health_check (\n  id INTEGER PRIMARY KEY AUTOINCREMENT,\n "
         " "
         "time BIGINT NOT NULL\n);\n";
}

constexpr const char* kPutDomain = R"sql(
INSERT INTO domains (domain, expire_time) VALUES (?1, ?2)
ON CONFLICT (domain) DO UPDATE SET expire_time = excluded.expire_time)sql";

constexpr const char* kPutDesired = R"sql(
INSERT INTO desired_lrps (process_guid, domain, log_guid, annotation, instances, memory_mb,
  disk_mb, max_pids, rootfs, routes, volume_placement, modification_tag_epoch,
  modification_tag_index, run_info, placement_tags, metric_tags, update_strategy)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
ON CONFLICT (process_guid) DO UPDATE SET
  domain = excluded.domain, log_guid = excluded.log_guid, annotation = excluded.annotation,
  instances = excluded.instances, memory_mb = excluded.memory_mb, disk_mb = excluded.disk_mb,
  max_pids = excluded.max_pids, rootfs = excluded.rootfs, routes = excluded.routes,
  volume_placement = excluded.volume_placement,
  modification_tag_epoch = excluded.modification_tag_epoch,
  modification_tag_index = excluded.modification_tag_index, run_info = excluded.run_info,
  placement_tags = excluded.placement_tags, metric_tags = excluded.metric_tags,
  update_strategy = excluded.update_strategy)sql";

constexpr const char* kPutActual = R"sql(
INSERT INTO actual_lrps (process_guid, instance_index, presence, evacuating, domain, state,
  instance_guid, cell_id, placement_error, since, net_info, modification_tag_epoch,
  modification_tag_index, crash_count, crash_reason, expire_time, internal_routes, metric_tags,
  routable, availability_zone)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 0, ?16, ?17, ?18, ?19)
ON CONFLICT (process_guid, instance_index, presence) DO UPDATE SET
  evacuating = excluded.evacuating, domain = excluded.domain, state = excluded.state,
  instance_guid = excluded.instance_guid, cell_id = excluded.cell_id,
  placement_error = excluded.placement_error, since = excluded.since,
  net_info = excluded.net_info, modification_tag_epoch = excluded.modification_tag_epoch,
  modification_tag_index = excluded.modification_tag_index,
  crash_count = excluded.crash_count, crash_reason = excluded.crash_reason,
  internal_routes = excluded.internal_routes, metric_tags = excluded.metric_tags,
  routable = excluded.routable, availability_zone = excluded.availability_zone)sql";

constexpr const char* kPutTask = R"sql(
INSERT INTO tasks (guid, domain, updated_at, created_at, first_completed_at, state, cell_id,
  result, failed, failure_reason, task_definition, rejection_count, rejection_reason)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
ON CONFLICT (guid) DO UPDATE SET
  domain = excluded.domain, updated_at = excluded.updated_at, created_at = excluded.created_at,
  first_completed_at = excluded.first_completed_at, state = excluded.state,
  cell_id = excluded.cell_id, result = excluded.result, failed = excluded.failed,
  failure_reason = excluded.failure_reason, task_definition = excluded.task_definition,
  rejection_count = excluded.rejection_count, rejection_reason = excluded.rejection_reason)sql";

// Column order of the SELECTs below.
enum DesiredColumn : int {
  kDesiredProcessGuid,
  kDesiredDomain,
  kDesiredLogGuid,
  kDesiredAnnotation,
  kDesiredInstances,
  kDesiredMemoryMb,
  kDesiredDiskMb,
  kDesiredMaxPids,
  kDesiredRootfs,
  kDesiredRoutes,
  kDesiredVolumePlacement,
  kDesiredTagEpoch,
  kDesiredTagIndex,
  kDesiredRunInfo,
  kDesiredPlacementTags,
  kDesiredMetricTags,
  kDesiredUpdateStrategy,
};
constexpr const char* kSelectDesired = R"sql(
SELECT process_guid, domain, log_guid, annotation, instances, memory_mb, disk_mb, max_pids,
  rootfs, routes, volume_placement, modification_tag_epoch, modification_tag_index, run_info,
  placement_tags, metric_tags, update_strategy
FROM desired_lrps)sql";
// Load's read of the same columns without the run info (read on demand by ReadRunInfos): an
// empty run_info column decodes to no run info.
constexpr const char* kLoadDesired = R"sql(
SELECT process_guid, domain, log_guid, annotation, instances, memory_mb, disk_mb, max_pids,
  rootfs, routes, volume_placement, modification_tag_epoch, modification_tag_index, '',
  placement_tags, metric_tags, update_strategy
FROM desired_lrps)sql";
// The run-info reads (their own connections).
constexpr const char* kReadRunInfo = "SELECT run_info FROM desired_lrps WHERE process_guid = ?1";
constexpr const char* kReadAllRunInfos = "SELECT process_guid, run_info FROM desired_lrps";
constexpr const char* kReaderCacheSizePragma = "PRAGMA cache_size=-2048";

enum ActualColumn : int {
  kActualProcessGuid,
  kActualIndex,
  kActualPresence,
  kActualEvacuating,
  kActualDomain,
  kActualState,
  kActualInstanceGuid,
  kActualCellId,
  kActualPlacementError,
  kActualSince,
  kActualNetInfo,
  kActualTagEpoch,
  kActualTagIndex,
  kActualCrashCount,
  kActualCrashReason,
  kActualInternalRoutes,
  kActualMetricTags,
  kActualRoutable,
  kActualAvailabilityZone,
};
constexpr const char* kSelectActual = R"sql(
SELECT process_guid, instance_index, presence, evacuating, domain, state, instance_guid, cell_id,
  placement_error, since, net_info, modification_tag_epoch, modification_tag_index, crash_count,
  crash_reason, internal_routes, metric_tags, routable, availability_zone
FROM actual_lrps)sql";

enum TaskColumn : int {
  kTaskGuid,
  kTaskDomain,
  kTaskUpdatedAt,
  kTaskCreatedAt,
  kTaskFirstCompletedAt,
  kTaskState,
  kTaskCellId,
  kTaskResult,
  kTaskFailed,
  kTaskFailureReason,
  kTaskDefinition,
  kTaskRejectionCount,
  kTaskRejectionReason,
};
constexpr const char* kSelectTasks = R"sql(
SELECT guid, domain, updated_at, created_at, first_completed_at, state, cell_id, result, failed,
  failure_reason, task_definition, rejection_count, rejection_reason
FROM tasks)sql";

// --- binding: every pointer passed here must stay valid until the statement is reset. ---

void BindText(sqlite3_stmt* stmt, int index, const std::string& value) {
  sqlite3_bind_text64(stmt, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8);
}
void BindInt(sqlite3_stmt* stmt, int index, int64_t value) {
  sqlite3_bind_int64(stmt, index, value);
}
void BindOptionalText(sqlite3_stmt* stmt, int index, const std::optional<std::string>& value) {
  if (value.has_value()) {
    BindText(stmt, index, *value);
  } else {
    sqlite3_bind_null(stmt, index);
  }
}

// --- reading columns ---

std::string_view ColumnBytes(sqlite3_stmt* stmt, int column) {
  // sqlite3_column_blob must be called before sqlite3_column_bytes.
  const void* data = sqlite3_column_blob(stmt, column);
  int size = sqlite3_column_bytes(stmt, column);
  if (data == nullptr) {
    return std::string_view("");
  }
  return std::string_view(static_cast<const char*>(data), static_cast<size_t>(size));
}
void ReadString(sqlite3_stmt* stmt, int column, std::string* out) {
  std::string_view bytes = ColumnBytes(stmt, column);
  out->assign(bytes.data(), bytes.size());
}
bool ParseColumn(sqlite3_stmt* stmt, int column, google::protobuf::MessageLite* out) {
  std::string_view bytes = ColumnBytes(stmt, column);
  return out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}
bool IsNull(sqlite3_stmt* stmt, int column) {
  return sqlite3_column_type(stmt, column) == SQLITE_NULL;
}

bool DecodePlacementTags(std::string_view text,
                         google::protobuf::RepeatedPtrField<std::string>* out) {
  nlohmann::json array = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                               /*allow_exceptions=*/false);
  if (array.is_discarded()) {
    return false;
  }
  if (array.is_null()) {
    return true;
  }
  if (!array.is_array()) {
    return false;
  }
  out->Reserve(static_cast<int>(array.size()));
  for (const nlohmann::json& tag : array) {
    if (!tag.is_string()) {
      return false;
    }
    out->Add(std::string(tag.get_ref<const std::string&>()));
  }
  return true;
}

// Resets a statement when leaving the scope, whatever the outcome of the steps.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { sqlite3_reset(stmt_); }

 private:
  sqlite3_stmt* stmt_;
};

// One result row of a SELECT of load.h's column order, as sql::Read*Row reads it.
struct Columns {
  sqlite3_stmt* stmt;
  // Views into SQLite's row, valid until the next step: ReadRow copies them into its row.
  std::string_view Text(int c) const { return ColumnBytes(stmt, c); }
  std::optional<std::string_view> Optional(int c) const {
    return IsNull(stmt, c) ? std::nullopt : std::optional<std::string_view>(Text(c));
  }
  int64_t Int64(int c) const { return sqlite3_column_int64(stmt, c); }
  bool Boolean(int c) const { return sqlite3_column_int(stmt, c) != 0; }
};
void ReadColumns(const Columns& row, sql::DesiredRow* out) { sql::ReadDesiredRow(row, out); }
void ReadColumns(const Columns& row, sql::ActualRow* out) { sql::ReadActualRow(row, out); }
void ReadColumns(const Columns& row, sql::TaskRow* out) { sql::ReadTaskRow(row, out); }

}  // namespace

void SqliteStore::StmtDeleter::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

SqliteStore::SqliteStore(sqlite3* db, Logger logger,
                         std::shared_ptr<const encryption::Encoder> encoder)
    : db_(db), logger_(std::move(logger)), encoder_(std::move(encoder)) {}

Status SqliteStore::MigrateIfLegacy() { return legacy_rows_ ? MigrateLegacyRows() : Status::Ok(); }

SqliteStore::~SqliteStore() {
  // close_v2 defers the close until the member statements are finalized just after this body.
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const std::string& path, Logger logger, std::shared_ptr<const encryption::Encoder> encoder) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = fmt::format("sqlite: cannot open '{}': {}", path,
                                      db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return UnknownError(std::move(message));
  }
  logger = logger.Session("sqlite-store");
  std::unique_ptr<SqliteStore> store(
      new SqliteStore(db, std::move(logger), std::move(encoder)));  // private ctor
  store->path_ = path;
  for (Status (SqliteStore::*step)() :
       {&SqliteStore::Configure, &SqliteStore::CreateSchema, &SqliteStore::EmptyIndexes,
        &SqliteStore::PrepareStatements, &SqliteStore::MigrateIfLegacy,
        &SqliteStore::RunEncryptor}) {
    Status status = (store.get()->*step)();
    if (!status.ok()) {
      store->logger_.Error("failed-to-open", status.message(), {{"path", path}});
      return status;
    }
  }
  if (store->in_memory_) {
    auto reader = store->OpenReader(/*on_main_connection=*/true);
    if (!reader.ok()) {
      return reader.status();
    }
    store->main_reader_ = std::move(reader).value();
  }
  return store;
}

Status SqliteStore::Configure() {
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);

  Stmt journal;
  if (Status s = Prepare("PRAGMA journal_mode=WAL", &journal); !s.ok()) {
    return s;
  }
  int rc = sqlite3_step(journal.get());
  if (rc != SQLITE_ROW) {
    return Error(rc, "set journal_mode");
  }
  std::string_view mode = ColumnBytes(journal.get(), 0);
  // An in-memory database reports "memory"; it has nothing to make durable.
  if (mode != "wal" && mode != "memory") {
    return UnknownError(fmt::format("sqlite: cannot enable WAL mode (journal_mode is '{}')", mode));
  }
  in_memory_ = mode == "memory";
  journal.reset();

  if (Status s = Exec("PRAGMA synchronous=FULL"); !s.ok()) {
    return s;
  }
  if (Status s = Exec(kCacheSizePragma); !s.ok()) {
    return s;
  }
  return Status::Ok();
}

Status SqliteStore::CreateSchema() {
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) {
    return s;
  }
  Status status = Exec(Schema().c_str());
  if (status.ok()) {
    status = CheckVersion();
  }
  if (status.ok()) {
    status = Exec("COMMIT");
  }
  if (!status.ok()) {
    Rollback();
  }
  return status;
}

Status SqliteStore::CheckVersion() {
  Stmt select;
  if (Status s = Prepare("SELECT value FROM configurations WHERE id = 'version'", &select);
      !s.ok()) {
    return s;
  }
  int rc = sqlite3_step(select.get());
  if (rc == SQLITE_ROW) {
    Result<int64_t> version = sql::ParseVersionJson(ColumnBytes(select.get(), 0));
    if (!version.ok()) {
      return version.status();
    }
    if (version.value() > sql::kLatestVersion) {
      return Status(ErrorCode::kUnrecoverable,
                    fmt::format("Existing DB version ({}) exceeds bbs version ({})",
                                version.value(), sql::kLatestVersion));
    }
    if (version.value() == kLegacyVersion) {
      // Written before the upstream row format: MigrateLegacyRows rewrites every row.
      legacy_rows_ = true;
      return Status::Ok();
    }
    if (version.value() == sql::kLatestVersion) {
      return Status::Ok();
    }
    // No file of ours holds another version; CREATE IF NOT EXISTS above made the schema final.
  } else if (rc != SQLITE_DONE) {
    return Error(rc, "read schema version");
  }
  select.reset();
  return WriteConfiguration("version", sql::VersionJson(sql::kLatestVersion));
}

Status SqliteStore::WriteConfiguration(const std::string& id, const std::string& value) {
  Stmt upsert;
  if (Status s = Prepare("INSERT INTO configurations (id, value) VALUES (?1, ?2) "
                         "ON CONFLICT (id) DO UPDATE SET value = excluded.value",
                         &upsert);
      !s.ok()) {
    return s;
  }
  BindText(upsert.get(), 1, id);
  BindText(upsert.get(), 2, value);
  return Run(upsert.get(), "write configuration");
}

Result<std::optional<std::string>> SqliteStore::ReadConfiguration(const std::string& id) {
  Stmt select;
  if (Status s = Prepare("SELECT value FROM configurations WHERE id = ?1", &select); !s.ok()) {
    return s;
  }
  BindText(select.get(), 1, id);
  int rc = sqlite3_step(select.get());
  if (rc == SQLITE_ROW) {
    return std::optional<std::string>(std::string(ColumnBytes(select.get(), 0)));
  }
  if (rc != SQLITE_DONE) {
    return Error(rc, "read configuration");
  }
  return std::optional<std::string>();
}

Status SqliteStore::MigrateLegacyRows() {
  Snapshot snapshot;
  if (Status s = Run(begin_immediate_.get(), "begin"); !s.ok()) {
    return s;
  }
  Status status = LoadLegacyDesiredLrps(&snapshot);
  if (status.ok()) {
    status = LoadLegacyActualLrps(&snapshot);
  }
  if (status.ok()) {
    status = LoadLegacyTasks(&snapshot);
  }
  if (status.ok()) {
    status = Exec("DELETE FROM desired_lrps; DELETE FROM actual_lrps; DELETE FROM tasks;");
  }
  for (const auto& record : snapshot.desired_lrps) {
    if (status.ok()) {
      status = PutDesired(record);
    }
  }
  for (const auto& lrp : snapshot.actual_lrps) {
    if (status.ok()) {
      status = PutActual(lrp);
    }
  }
  for (const auto& task : snapshot.tasks) {
    if (status.ok()) {
      status = PutTaskRow(task);
    }
  }
  if (status.ok()) {
    status = WriteConfiguration("version", sql::VersionJson(sql::kLatestVersion));
  }
  if (status.ok()) {
    status = WriteConfiguration("encryption_key_label", encoder_->active_label());
  }
  if (status.ok()) {
    status = Run(commit_.get(), "commit");
  }
  if (!status.ok()) {
    Rollback();
    return status;
  }
  legacy_rows_ = false;
  logger_.Info("migrated-legacy-rows", {{"desired_lrps", snapshot.desired_lrps.size()},
                                        {"actual_lrps", snapshot.actual_lrps.size()},
                                        {"tasks", snapshot.tasks.size()}});
  return Status::Ok();
}

Status SqliteStore::RunEncryptor() {
  return sql::RunEncryptor({[this] { return ReadConfiguration("encryption_key_label"); },
                            [this](sql::RowSet* rows) {
                              Status status = Run(begin_immediate_.get(), "begin");
                              if (status.ok()) {
                                status = ReadDesiredRows(&rows->desired);
                              }
                              if (status.ok()) {
                                status = ReadActualRows(&rows->actual);
                              }
                              if (status.ok()) {
                                status = ReadTaskRows(&rows->tasks);
                              }
                              return status;
                            },
                            [this](const sql::RowSet& rows) {
                              Status status;
                              for (const auto& row : rows.desired) {
                                if (status.ok()) status = PutDesiredRow(row);
                              }
                              for (const auto& row : rows.actual) {
                                if (status.ok()) status = PutActualRow(row);
                              }
                              for (const auto& row : rows.tasks) {
                                if (status.ok()) status = PutTaskRowRaw(row);
                              }
                              if (status.ok()) {
                                status = WriteConfiguration("encryption_key_label",
                                                            encoder_->active_label());
                              }
                              if (status.ok()) {
                                status = Run(commit_.get(), "commit");
                              }
                              return status;
                            },
                            [this](const Status&) {
                              Rollback();
                              return Status::Ok();  // upstream logs and retries at the next start
                            }},
                           *encoder_, logger_);
}

Status SqliteStore::PrepareStatements() {
  const std::pair<Stmt*, const char*> statements[] = {
      {&begin_immediate_, "BEGIN IMMEDIATE"},
      {&begin_read_, "BEGIN"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&put_domain_, kPutDomain},
      {&delete_domain_, "DELETE FROM domains WHERE domain = ?1"},
      {&put_desired_, kPutDesired},
      {&delete_desired_, "DELETE FROM desired_lrps WHERE process_guid = ?1"},
      {&put_actual_, kPutActual},
      {&delete_actual_,
       "DELETE FROM actual_lrps WHERE process_guid = ?1 AND instance_index = ?2 AND "
       "presence = ?3"},
      {&put_task_, kPutTask},
      {&delete_task_, "DELETE FROM tasks WHERE guid = ?1"},
      {&select_domains_, "SELECT domain, expire_time FROM domains"},
      {&select_desired_, kSelectDesired},
      {&select_actual_, kSelectActual},
      {&select_tasks_, kSelectTasks},
      {&count_desired_, "SELECT COUNT(*) FROM desired_lrps"},
      {&count_actual_, "SELECT COUNT(*) FROM actual_lrps"},
      {&count_tasks_, "SELECT COUNT(*) FROM tasks"},
      {&load_desired_, kLoadDesired},
  };
  for (const auto& [stmt, sql] : statements) {
    if (Status s = Prepare(sql, stmt); !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

Status SqliteStore::Exec(const char* sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) {
    return Status::Ok();
  }
  Status status = Error(rc, message != nullptr ? message : sql);
  sqlite3_free(message);
  return status;
}

Status SqliteStore::Prepare(std::string_view sql, Stmt* out) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc, "prepare");
  }
  out->reset(stmt);
  return Status::Ok();
}

Status SqliteStore::Run(sqlite3_stmt* stmt, std::string_view what) {
  ResetOnExit reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) {
    return Status::Ok();
  }
  return Error(rc, what);
}

void SqliteStore::Rollback() {
  if (sqlite3_get_autocommit(db_)) {
    return;  // SQLite already rolled back (e.g. on IOERR).
  }
  sqlite3_stmt* stmt = rollback_ != nullptr ? rollback_.get() : nullptr;
  Status status = stmt != nullptr ? Run(stmt, "rollback") : Exec("ROLLBACK");
  if (!status.ok()) {
    logger_.Error("failed-to-rollback", status.message());
  }
}

Status SqliteStore::Error(int rc, std::string_view what) const {
  // SQLITE_ERROR is SQLite's "SQL error or missing table": our fixed statements only hit it when
  // the schema is not the one we created. I/O, locking and constraint errors are UnknownError.
  int primary = rc & 0xff;
  bool broken = primary == SQLITE_ERROR || primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
  ErrorCode code = broken ? ErrorCode::kUnrecoverable : ErrorCode::kUnknownError;
  return Status(code, fmt::format("sqlite: {}: {} ({})", what, sqlite3_errmsg(db_), rc));
}

// --- Indexes ---

// Upstream's indexes (domain, cell_id, state, since, ... of each table) serve its queries; the
// embedded store only ever reads whole tables at start-up and writes by primary key (the model
// is in memory), so each index would cost every write an index update for nothing. They stay
// in the schema by name (CREATE INDEX IF NOT EXISTS above, older bbs binaries and the schema
// version are unchanged) as partial indexes on `WHERE 0`: empty, never updated. A database
// written before loses its full indexes here, once (partial indexes are left as they are).
Status SqliteStore::EmptyIndexes() {
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) {
    return s;
  }
  Status status;
  std::vector<std::pair<std::string, std::string>> full;  // name, CREATE text
  {
    Stmt select;
    status = Prepare(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND sql NOT LIKE '% WHERE %'",
        &select);
    int rc = SQLITE_DONE;
    while (status.ok() && (rc = sqlite3_step(select.get())) == SQLITE_ROW) {
      full.emplace_back(ColumnBytes(select.get(), 0), ColumnBytes(select.get(), 1));
    }
    if (status.ok() && rc != SQLITE_DONE) {
      status = Error(rc, "list indexes");
    }
  }
  for (const auto& [name, create] : full) {
    if (!status.ok()) {
      break;
    }
    status = Exec(fmt::format("DROP INDEX \"{}\"; {} WHERE 0", name, create).c_str());
  }
  if (status.ok()) {
    status = Exec("COMMIT");
  }
  if (!status.ok()) {
    Rollback();
  } else if (!full.empty()) {
    logger_.Info("emptied-indexes", {{"count", full.size()}});
  }
  return status;
}

// --- Commit ---

Status SqliteStore::Commit(std::span<const Mutation> mutations) {
  if (mutations.empty()) {
    return Status::Ok();
  }
  std::lock_guard<std::mutex> db_lock(db_mu_);
  if (Status s = Run(begin_immediate_.get(), "begin"); !s.ok()) {
    logger_.Error("failed-to-begin", s.message());
    Rollback();
    return s;
  }
  for (size_t i = 0; i < mutations.size(); ++i) {
    if (Status s = Apply(mutations[i]); !s.ok()) {
      logger_.Error("failed-to-apply", s.message(), {{"mutation", i}, {"count", mutations.size()}});
      Rollback();
      return s;
    }
  }
  if (Status s = Run(commit_.get(), "commit"); !s.ok()) {
    logger_.Error("failed-to-commit", s.message(), {{"count", mutations.size()}});
    Rollback();
    return s;
  }
  return Status::Ok();
}

Status SqliteStore::Apply(const Mutation& mutation) {
  return std::visit(
      [this](const auto& m) -> Status {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, PutDomain>) {
          BindText(put_domain_.get(), 1, m.domain);
          BindInt(put_domain_.get(), 2, m.expire_time);
          return Run(put_domain_.get(), "put domain");
        } else if constexpr (std::is_same_v<M, DeleteDomain>) {
          BindText(delete_domain_.get(), 1, m.domain);
          return Run(delete_domain_.get(), "delete domain");
        } else if constexpr (std::is_same_v<M, PutDesiredLrp>) {
          return PutDesired(m.record);
        } else if constexpr (std::is_same_v<M, DeleteDesiredLrp>) {
          BindText(delete_desired_.get(), 1, m.process_guid);
          return Run(delete_desired_.get(), "delete desired lrp");
        } else if constexpr (std::is_same_v<M, PutActualLrp>) {
          return PutActual(m.lrp);
        } else if constexpr (std::is_same_v<M, DeleteActualLrp>) {
          sqlite3_stmt* stmt = delete_actual_.get();
          BindText(stmt, 1, m.process_guid);
          BindInt(stmt, 2, m.index);
          BindInt(stmt, 3, static_cast<int64_t>(m.presence));
          return Run(stmt, "delete actual lrp");
        } else if constexpr (std::is_same_v<M, PutTask>) {
          return PutTaskRow(m.task);
        } else if constexpr (std::is_same_v<M, DeleteTask>) {
          BindText(delete_task_.get(), 1, m.task_guid);
          return Run(delete_task_.get(), "delete task");
        } else {
          static_assert(sizeof(M) == 0, "unhandled mutation");
        }
      },
      mutation);
}

Status SqliteStore::PutDesired(const records::DesiredLRPRecord& record) {
  Result<sql::DesiredRow> row = sql::EncodeDesired(record, *encoder_);
  if (!row.ok()) {
    return row.status();
  }
  return PutDesiredRow(row.value());
}

Status SqliteStore::PutActual(const models::ActualLRP& lrp) {
  return PutActualRow(sql::EncodeActual(lrp, *encoder_));
}

Status SqliteStore::PutTaskRow(const models::Task& task) {
  return PutTaskRowRaw(sql::EncodeTask(task, *encoder_));
}

Status SqliteStore::PutDesiredRow(const sql::DesiredRow& row) {
  sqlite3_stmt* stmt = put_desired_.get();
  BindText(stmt, 1, row.process_guid);
  BindText(stmt, 2, row.domain);
  BindText(stmt, 3, row.log_guid);
  BindText(stmt, 4, row.annotation);
  BindInt(stmt, 5, row.instances);
  BindInt(stmt, 6, row.memory_mb);
  BindInt(stmt, 7, row.disk_mb);
  BindInt(stmt, 8, row.max_pids);
  BindText(stmt, 9, row.rootfs);
  BindText(stmt, 10, row.routes);
  BindText(stmt, 11, row.volume_placement);
  BindText(stmt, 12, row.modification_tag_epoch);
  BindInt(stmt, 13, row.modification_tag_index);
  BindText(stmt, 14, row.run_info);
  BindOptionalText(stmt, 15, row.placement_tags);
  BindOptionalText(stmt, 16, row.metric_tags);
  BindInt(stmt, 17, row.update_strategy);
  return Run(stmt, "put desired lrp");
}

Status SqliteStore::PutActualRow(const sql::ActualRow& row) {
  sqlite3_stmt* stmt = put_actual_.get();
  BindText(stmt, 1, row.process_guid);
  BindInt(stmt, 2, row.instance_index);
  BindInt(stmt, 3, row.presence);
  BindInt(stmt, 4, row.evacuating ? 1 : 0);
  BindText(stmt, 5, row.domain);
  BindText(stmt, 6, row.state);
  BindText(stmt, 7, row.instance_guid);
  BindText(stmt, 8, row.cell_id);
  BindText(stmt, 9, row.placement_error);
  BindInt(stmt, 10, row.since);
  BindText(stmt, 11, row.net_info);
  BindText(stmt, 12, row.modification_tag_epoch);
  BindInt(stmt, 13, row.modification_tag_index);
  BindInt(stmt, 14, row.crash_count);
  BindText(stmt, 15, row.crash_reason);
  BindOptionalText(stmt, 16, row.internal_routes);
  BindOptionalText(stmt, 17, row.metric_tags);
  BindInt(stmt, 18, row.routable ? 1 : 0);
  BindText(stmt, 19, row.availability_zone);
  return Run(stmt, "put actual lrp");
}

Status SqliteStore::PutTaskRowRaw(const sql::TaskRow& row) {
  sqlite3_stmt* stmt = put_task_.get();
  BindText(stmt, 1, row.guid);
  BindText(stmt, 2, row.domain);
  BindInt(stmt, 3, row.updated_at);
  BindInt(stmt, 4, row.created_at);
  BindInt(stmt, 5, row.first_completed_at);
  BindInt(stmt, 6, row.state);
  BindText(stmt, 7, row.cell_id);
  BindOptionalText(stmt, 8, row.result);
  BindInt(stmt, 9, row.failed ? 1 : 0);
  BindText(stmt, 10, row.failure_reason);
  BindText(stmt, 11, row.task_definition);
  BindInt(stmt, 12, row.rejection_count);
  BindText(stmt, 13, row.rejection_reason);
  return Run(stmt, "put task");
}

// --- Load ---

Status SqliteStore::Load(Snapshot* out) {
  std::unique_lock<std::mutex> db_lock(db_mu_);
  // A pipeline (sql::BatchLoader): this thread steps through the tables and copies the rows
  // into batches while worker threads decrypt and decode the batches and hand them to
  // out->on_batch (the model), so the reading, the decoding and the model's building run at
  // the same time on all cores. At most a few batches of row text are in memory next to the
  // decoded records; rows and records are reused from batch to batch. Without an on_batch the
  // records are collected into *out, in table order (one worker). What did not decode is
  // deleted afterwards.
  Snapshot snapshot;
  std::function<void(Snapshot*)> on_batch = out->on_batch;
  size_t workers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  if (!on_batch) {
    workers = 1;
    on_batch = [&snapshot](Snapshot* part) {
      for (auto& r : part->desired_lrps) snapshot.desired_lrps.push_back(std::move(r));
      for (auto& a : part->actual_lrps) snapshot.actual_lrps.push_back(std::move(a));
      for (auto& t : part->tasks) snapshot.tasks.push_back(std::move(t));
    };
  }
  sql::BatchLoader loader(*encoder_, logger_, on_batch, workers);
  sql::BatchLoader::Rows* batch = nullptr;
  auto read_table = [&](sqlite3_stmt* stmt, std::string_view what, auto next_row) {
    const Columns columns{stmt};
    ResetOnExit reset(stmt);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (batch == nullptr) batch = loader.Acquire();
      ReadColumns(columns, &next_row(*batch));
      if (batch->size() >= load_batch_rows_) {
        loader.Submit(batch);
        batch = nullptr;
      }
    }
    return rc == SQLITE_DONE ? Status::Ok() : Error(rc, what);
  };
  // One read transaction, so the four tables are read at the same point in time.
  Status status = Run(begin_read_.get(), "begin");
  if (status.ok()) {
    status = LoadDomains(&snapshot);
  }
  if (status.ok()) {
    status = read_table(
        load_desired_.get(), "read desired lrps",
        [](sql::BatchLoader::Rows & rows) -> auto& { return rows.NextDesired(); });
  }
  if (status.ok()) {
    status = read_table(
        select_actual_.get(), "read actual lrps",
        [](sql::BatchLoader::Rows & rows) -> auto& { return rows.NextActual(); });
  }
  if (status.ok()) {
    status = read_table(
        select_tasks_.get(), "read tasks",
        [](sql::BatchLoader::Rows & rows) -> auto& { return rows.NextTask(); });
  }
  if (batch != nullptr) {
    loader.Submit(batch);
  }
  loader.Finish();
  if (status.ok()) {
    status = Run(commit_.get(), "end read");
  }
  if (!status.ok()) {
    logger_.Error("failed-to-load", status.message());
    Rollback();
    return status;
  }
  db_lock.unlock();  // Commit takes it
  std::vector<Mutation>& deletes = loader.undecodable();
  if (!deletes.empty()) {
    // Upstream deletes a row it cannot decode when it reads it (§10.2).
    if (Status s = Commit(deletes); !s.ok()) {
      logger_.Error("failed-to-delete-undecodable-rows", s.message());
    }
  }
  // The full-table scans filled the page cache with table pages the writes never need again:
  // hand that memory back now instead of carrying it for the process's lifetime.
  {
    std::lock_guard<std::mutex> relock(db_mu_);
    sqlite3_db_release_memory(db_);
  }
  bool handed = out->on_batch != nullptr;
  logger_.Info("loaded",
               {{"domains", snapshot.domains.size()},
                {"desired_lrps", handed ? loader.desired_count() : snapshot.desired_lrps.size()},
                {"actual_lrps", handed ? loader.actual_count() : snapshot.actual_lrps.size()},
                {"tasks", handed ? loader.task_count() : snapshot.tasks.size()},
                {"undecodable", deletes.size()}});
  snapshot.on_batch = std::move(out->on_batch);
  *out = std::move(snapshot);
  return Status::Ok();
}

template <typename OnCount, typename OnRow>
Status SqliteStore::ScanRows(sqlite3_stmt* count_stmt, sqlite3_stmt* stmt, std::string_view what,
                             const OnCount& on_count, const OnRow& on_row) {
  size_t count = 0;
  if (Status s = CountRows(count_stmt, &count); !s.ok()) {
    return s;
  }
  on_count(count);
  ResetOnExit reset(stmt);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    on_row();
  }
  return rc == SQLITE_DONE ? Status::Ok() : Error(rc, what);
}

template <typename T, typename ReadRow>
Status SqliteStore::ScanInto(sqlite3_stmt* count_stmt, sqlite3_stmt* stmt, std::string_view what,
                             std::vector<T>* out, const ReadRow& read_row) {
  return ScanRows(
      count_stmt, stmt, what, [&](size_t count) { out->reserve(count); },
      [&] {
        if (!read_row(out->emplace_back())) {
          out->pop_back();
        }
      });
}

template <typename Row>
Status SqliteStore::ReadRowsInBatches(sqlite3_stmt* count_stmt, sqlite3_stmt* stmt,
                                      std::string_view what, std::vector<Row>* out, size_t* total,
                                      size_t batch_rows, const std::function<void()>& flush) {
  size_t batch = 0;
  const Columns columns{stmt};
  Status status = ScanRows(
      count_stmt, stmt, what,
      [&](size_t count) {
        if (total != nullptr) {
          *total = count;
        }
        batch = flush ? std::max<size_t>(1, std::min(count, batch_rows)) : count;
        out->reserve(batch);
      },
      [&] {
        ReadColumns(columns, &out->emplace_back());
        if (flush && out->size() >= batch) {
          flush();
          out->reserve(batch);
        }
      });
  if (status.ok() && flush && !out->empty()) {
    flush();
  }
  return status;
}

Status SqliteStore::ReadDesiredRows(std::vector<sql::DesiredRow>* out, size_t* total,
                                    size_t batch_rows, const std::function<void()>& flush) {
  return ReadRowsInBatches(count_desired_.get(), select_desired_.get(), "read desired lrps", out,
                           total, batch_rows, flush);
}

Status SqliteStore::ReadActualRows(std::vector<sql::ActualRow>* out, size_t* total,
                                   size_t batch_rows, const std::function<void()>& flush) {
  return ReadRowsInBatches(count_actual_.get(), select_actual_.get(), "read actual lrps", out,
                           total, batch_rows, flush);
}

Status SqliteStore::ReadTaskRows(std::vector<sql::TaskRow>* out, size_t* total, size_t batch_rows,
                                 const std::function<void()>& flush) {
  return ReadRowsInBatches(count_tasks_.get(), select_tasks_.get(), "read tasks", out, total,
                           batch_rows, flush);
}

// --- Run-info reads ---

struct SqliteStore::Reader {
  sqlite3* db = nullptr;
  bool owned = true;  // false: db is the store's main connection
  Stmt begin, end, one, all;

  Reader() = default;
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  ~Reader() {
    begin.reset();
    end.reset();
    one.reset();
    all.reset();
    if (owned && db != nullptr) {
      sqlite3_close_v2(db);
    }
  }
  Status Fail(int rc, std::string_view what) const {
    return UnknownError(fmt::format("sqlite: {}: {} ({})", what, sqlite3_errmsg(db), rc));
  }
  // Steps `stmt` to SQLITE_DONE, calling on_row() at each row; resets it.
  template <typename OnRow>
  Status Scan(sqlite3_stmt* stmt, std::string_view what, const OnRow& on_row) const {
    ResetOnExit reset(stmt);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      on_row();
    }
    return rc == SQLITE_DONE ? Status::Ok() : Fail(rc, what);
  }
  // Runs fn() inside one read transaction (one snapshot of the file).
  Status InTransaction(const std::function<Status()>& fn) const {
    if (Status s = Scan(begin.get(), "begin read", [] {}); !s.ok()) {
      return s;
    }
    Status status = fn();
    Status ended = Scan(end.get(), "end read", [] {});
    if (!ended.ok() && !sqlite3_get_autocommit(db)) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    return status.ok() ? ended : status;
  }
};

Result<std::unique_ptr<SqliteStore::Reader>> SqliteStore::OpenReader(bool on_main_connection) {
  auto reader = std::make_unique<Reader>();
  if (on_main_connection) {
    reader->db = db_;
    reader->owned = false;
  } else {
    int rc = sqlite3_open_v2(path_.c_str(), &reader->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      return UnknownError(
          fmt::format("sqlite: cannot open a reader: {}",
                      reader->db != nullptr ? sqlite3_errmsg(reader->db) : sqlite3_errstr(rc)));
    }
    sqlite3_extended_result_codes(reader->db, 1);
    sqlite3_busy_timeout(reader->db, kBusyTimeoutMs);
    if (int rc = sqlite3_exec(reader->db, kReaderCacheSizePragma, nullptr, nullptr, nullptr);
        rc != SQLITE_OK) {
      return reader->Fail(rc, "configure reader");
    }
  }
  const std::pair<Stmt*, const char*> statements[] = {
      {&reader->begin, "BEGIN"},
      {&reader->end, "COMMIT"},
      {&reader->one, kReadRunInfo},
      {&reader->all, kReadAllRunInfos},
  };
  for (const auto& [stmt, sql] : statements) {
    sqlite3_stmt* prepared = nullptr;
    int rc = sqlite3_prepare_v3(reader->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &prepared, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(prepared);
      return reader->Fail(rc, "prepare reader");
    }
    stmt->reset(prepared);
  }
  return reader;
}

Status SqliteStore::WithReader(const std::function<Status(Reader&)>& fn) {
  // At most this many idle readers are kept open (each holds its statements and a small cache).
  constexpr size_t kMaxIdleReaders = 4;
  if (main_reader_ != nullptr) {
    std::lock_guard<std::mutex> db_lock(db_mu_);
    return fn(*main_reader_);
  }
  std::unique_ptr<Reader> reader;
  {
    std::lock_guard<std::mutex> lock(readers_mu_);
    if (!idle_readers_.empty()) {
      reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (reader == nullptr) {
    auto opened = OpenReader(/*on_main_connection=*/false);
    if (!opened.ok()) {
      logger_.Error("failed-to-open-reader", opened.status().message());
      return opened.status();
    }
    reader = std::move(opened).value();
  }
  Status status = fn(*reader);
  if (!status.ok()) {
    logger_.Error("failed-to-read-run-info", status.message());
    return status;  // the reader is closed: the next read opens a fresh one
  }
  std::lock_guard<std::mutex> lock(readers_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) {
    idle_readers_.push_back(std::move(reader));
  }
  return status;
}

std::vector<StoredRunInfo> SqliteStore::DecodeRunInfos(
    std::vector<std::pair<std::string, std::string>> encoded) const {
  return sql::DecodeRunInfoColumns(std::move(encoded), *encoder_, logger_);
}

Result<std::vector<StoredRunInfo>> SqliteStore::ReadRunInfos(
    std::span<const std::string> process_guids) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(process_guids.size());
  Status status = WithReader([&](Reader& reader) {
    encoded.clear();
    return reader.InTransaction([&] {
      sqlite3_stmt* stmt = reader.one.get();
      for (const std::string& guid : process_guids) {
        BindText(stmt, 1, guid);
        Status s = reader.Scan(stmt, "read run info",
                               [&] { encoded.emplace_back(guid, ColumnBytes(stmt, 0)); });
        if (!s.ok()) {
          return s;
        }
      }
      return Status::Ok();
    });
  });
  if (!status.ok()) {
    return status;
  }
  return DecodeRunInfos(std::move(encoded));
}

Result<std::vector<StoredRunInfo>> SqliteStore::ReadAllRunInfos() {
  std::vector<std::pair<std::string, std::string>> encoded;
  Status status = WithReader([&](Reader& reader) {
    encoded.clear();
    return reader.InTransaction([&] {
      sqlite3_stmt* stmt = reader.all.get();
      return reader.Scan(stmt, "read run infos",
                         [&] { encoded.emplace_back(ColumnBytes(stmt, 0), ColumnBytes(stmt, 1)); });
    });
  });
  if (!status.ok()) {
    return status;
  }
  return DecodeRunInfos(std::move(encoded));
}

// --- Legacy rows (bbs before the upstream row format: unencrypted protobuf blobs) ---

Status SqliteStore::CountRows(sqlite3_stmt* stmt, size_t* out) {
  ResetOnExit reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) {
    return Error(rc, "count rows");
  }
  *out = static_cast<size_t>(sqlite3_column_int64(stmt, 0));
  return Status::Ok();
}

Status SqliteStore::LoadDomains(Snapshot* out) {
  sqlite3_stmt* stmt = select_domains_.get();
  ResetOnExit reset(stmt);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    PutDomain& domain = out->domains.emplace_back();
    ReadString(stmt, 0, &domain.domain);
    domain.expire_time = sqlite3_column_int64(stmt, 1);
  }
  return rc == SQLITE_DONE ? Status::Ok() : Error(rc, "read domains");
}

Status SqliteStore::LoadLegacyDesiredLrps(Snapshot* out) {
  sqlite3_stmt* stmt = select_desired_.get();
  records::MetricTags tags;
  return ScanInto(
      count_desired_.get(), stmt, "read desired lrps", &out->desired_lrps,
      [&](records::DesiredLRPRecord& record) {
        auto* info = record.mutable_scheduling_info();
        auto* key = info->mutable_desired_lrp_key();
        ReadString(stmt, kDesiredProcessGuid, key->mutable_process_guid());
        ReadString(stmt, kDesiredDomain, key->mutable_domain());
        ReadString(stmt, kDesiredLogGuid, key->mutable_log_guid());
        ReadString(stmt, kDesiredAnnotation, info->mutable_annotation());
        info->set_instances(sqlite3_column_int(stmt, kDesiredInstances));
        auto* resource = info->mutable_desired_lrp_resource();
        resource->set_memory_mb(sqlite3_column_int(stmt, kDesiredMemoryMb));
        resource->set_disk_mb(sqlite3_column_int(stmt, kDesiredDiskMb));
        resource->set_max_pids(sqlite3_column_int(stmt, kDesiredMaxPids));
        ReadString(stmt, kDesiredRootfs, resource->mutable_root_fs());
        auto* tag = info->mutable_modification_tag();
        ReadString(stmt, kDesiredTagEpoch, tag->mutable_epoch());
        tag->set_index(static_cast<uint32_t>(sqlite3_column_int64(stmt, kDesiredTagIndex)));
        ReadString(stmt, kDesiredRunInfo, record.mutable_run_info());
        record.set_update_strategy(static_cast<models::DesiredLRP::UpdateStrategy>(
            sqlite3_column_int(stmt, kDesiredUpdateStrategy)));

        const char* bad_column = nullptr;
        if (!ParseColumn(stmt, kDesiredRoutes, info->mutable_routes())) {
          bad_column = "routes";
        } else if (!ParseColumn(stmt, kDesiredVolumePlacement, info->mutable_volume_placement())) {
          bad_column = "volume_placement";
        } else if (!DecodePlacementTags(ColumnBytes(stmt, kDesiredPlacementTags),
                                        info->mutable_placementtags())) {
          bad_column = "placement_tags";
        } else if (!ParseColumn(stmt, kDesiredMetricTags, &tags)) {
          bad_column = "metric_tags";
        }
        if (bad_column != nullptr) {
          logger_.Error("failed-to-decode-desired-lrp", fmt::format("invalid {}", bad_column),
                        {{"process_guid", key->process_guid()}});
          return false;
        }
        record.mutable_metric_tags()->swap(*tags.mutable_tags());
        return true;
      });
}

Status SqliteStore::LoadLegacyActualLrps(Snapshot* out) {
  sqlite3_stmt* stmt = select_actual_.get();
  records::InternalRoutes routes;
  records::StringMap tags;
  return ScanInto(
      count_actual_.get(), stmt, "read actual lrps", &out->actual_lrps,
      [&](models::ActualLRP& lrp) {
        auto* key = lrp.mutable_actual_lrp_key();
        ReadString(stmt, kActualProcessGuid, key->mutable_process_guid());
        key->set_index(sqlite3_column_int(stmt, kActualIndex));
        ReadString(stmt, kActualDomain, key->mutable_domain());
        lrp.set_presence(
            static_cast<models::ActualLRP::Presence>(sqlite3_column_int(stmt, kActualPresence)));
        ReadString(stmt, kActualState, lrp.mutable_state());
        auto* instance = lrp.mutable_actual_lrp_instance_key();
        ReadString(stmt, kActualInstanceGuid, instance->mutable_instance_guid());
        ReadString(stmt, kActualCellId, instance->mutable_cell_id());
        ReadString(stmt, kActualPlacementError, lrp.mutable_placement_error());
        lrp.set_since(sqlite3_column_int64(stmt, kActualSince));
        auto* tag = lrp.mutable_modification_tag();
        ReadString(stmt, kActualTagEpoch, tag->mutable_epoch());
        tag->set_index(static_cast<uint32_t>(sqlite3_column_int64(stmt, kActualTagIndex)));
        lrp.set_crash_count(sqlite3_column_int(stmt, kActualCrashCount));
        ReadString(stmt, kActualCrashReason, lrp.mutable_crash_reason());
        if (!IsNull(stmt, kActualRoutable)) {
          lrp.set_routable(sqlite3_column_int(stmt, kActualRoutable) != 0);
        }
        ReadString(stmt, kActualAvailabilityZone, lrp.mutable_availability_zone());

        const char* bad_column = nullptr;
        if (!ParseColumn(stmt, kActualNetInfo, lrp.mutable_actual_lrp_net_info())) {
          bad_column = "net_info";
        } else if (!ParseColumn(stmt, kActualInternalRoutes, &routes)) {
          bad_column = "internal_routes";
        } else if (!ParseColumn(stmt, kActualMetricTags, &tags)) {
          bad_column = "metric_tags";
        }
        if (bad_column != nullptr) {
          logger_.Error("failed-to-decode-actual-lrp", fmt::format("invalid {}", bad_column),
                        {{"process_guid", key->process_guid()},
                         {"index", key->index()},
                         {"presence", static_cast<int>(lrp.presence())}});
          return false;
        }
        lrp.mutable_actual_lrp_internal_routes()->Swap(routes.mutable_routes());
        lrp.mutable_metric_tags()->swap(*tags.mutable_entries());
        return true;
      });
}

Status SqliteStore::LoadLegacyTasks(Snapshot* out) {
  sqlite3_stmt* stmt = select_tasks_.get();
  return ScanInto(count_tasks_.get(), stmt, "read tasks", &out->tasks, [&](models::Task& task) {
    ReadString(stmt, kTaskGuid, task.mutable_task_guid());
    ReadString(stmt, kTaskDomain, task.mutable_domain());
    task.set_updated_at(sqlite3_column_int64(stmt, kTaskUpdatedAt));
    task.set_created_at(sqlite3_column_int64(stmt, kTaskCreatedAt));
    task.set_first_completed_at(sqlite3_column_int64(stmt, kTaskFirstCompletedAt));
    task.set_state(static_cast<models::Task::State>(sqlite3_column_int(stmt, kTaskState)));
    ReadString(stmt, kTaskCellId, task.mutable_cell_id());
    ReadString(stmt, kTaskResult, task.mutable_result());
    task.set_failed(sqlite3_column_int(stmt, kTaskFailed) != 0);
    ReadString(stmt, kTaskFailureReason, task.mutable_failure_reason());
    task.set_rejection_count(sqlite3_column_int(stmt, kTaskRejectionCount));
    ReadString(stmt, kTaskRejectionReason, task.mutable_rejection_reason());
    if (!ParseColumn(stmt, kTaskDefinition, task.mutable_task_definition())) {
      logger_.Error("failed-to-decode-task", "invalid task_definition",
                    {{"task_guid", task.task_guid()}});
      return false;
    }
    return true;
  });
}

}  // namespace bbs::storage
