#include "bbs/storage/postgres/postgres_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <thread>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "bbs/storage/sql/connect.h"
#include "bbs/storage/sql/load.h"
#include "bbs/storage/sql/schema.h"

namespace bbs::storage {

struct PostgresStore::Statement {
  std::string sql;
  std::vector<std::optional<std::string>> params;
};

namespace {

// Upstream's final schema (spec/behavior.md §10.1) in PostgreSQL types.
std::string Schema() {
  return "\n" + sql::CreateRecordTablesSql(sql::Dialect::kPostgres) +
         "CREATE TABLE IF NOT EXISTS bbs_health_check (\n  id SERIAL PRIMARY KEY,\n  time BIGINT "
         "NOT NULL\n);\n";
}

// The schema change of each migration after the first (§10.4), in PostgreSQL, written so that
// running it on a database that already has the change is harmless. Data steps that need
// decryption run in code (CopyMetricTagsOutOfRunInfo).
struct Migration {
  int64_t version;
  const char* sql;  // may be empty (MySQL-only changes, and routes encrypted since 2016)
};
// The version row's upsert.
std::string SetVersion(int64_t version) {
  return fmt::format(
      "INSERT INTO configurations (id, value) VALUES ('version', '{}') ON CONFLICT (id) DO "
      "UPDATE SET value = excluded.value",
      sql::VersionJson(version));
}
constexpr Migration kMigrations[] = {
    {1471030898, ""},
    {1472757022, "ALTER TABLE desired_lrps ADD COLUMN IF NOT EXISTS placement_tags TEXT"},
    {1474908092,
     "ALTER TABLE actual_lrps ALTER COLUMN crash_reason TYPE VARCHAR(1024), "
     "ALTER COLUMN placement_error TYPE VARCHAR(1024)"},
    {1474993971, ""},
    {1481761088, "ALTER TABLE desired_lrps ADD COLUMN IF NOT EXISTS max_pids INTEGER DEFAULT 0"},
    {1502289152, "ALTER TABLE desired_lrps ALTER COLUMN rootfs TYPE VARCHAR(1024)"},
    {1522700600,
     "ALTER TABLE tasks ADD COLUMN IF NOT EXISTS rejection_count INTEGER NOT NULL DEFAULT 0"},
    {1523050077,
     "ALTER TABLE tasks ADD COLUMN IF NOT EXISTS rejection_reason VARCHAR(255) NOT NULL "
     "DEFAULT ''"},
    {1528928964,
     "ALTER TABLE tasks ALTER COLUMN rejection_reason TYPE VARCHAR(1024), "
     "ALTER COLUMN failure_reason TYPE VARCHAR(1024)"},
    {1529530809,
     "ALTER TABLE actual_lrps ADD COLUMN IF NOT EXISTS presence INT NOT NULL DEFAULT 0; "
     "UPDATE actual_lrps SET presence = 1 WHERE evacuating = true; "
     "ALTER TABLE actual_lrps DROP CONSTRAINT IF EXISTS actual_lrps_pkey; "
     "ALTER TABLE actual_lrps ADD PRIMARY KEY (process_guid, instance_index, presence)"},
    {1643660541, "ALTER TABLE actual_lrps ADD COLUMN IF NOT EXISTS internal_routes TEXT"},
    {1674146125, ""},
    {1676360874, "ALTER TABLE actual_lrps ADD COLUMN IF NOT EXISTS metric_tags TEXT"},
    {1686692176,
     "DO $$ BEGIN "
     "IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = "
     "current_schema() AND table_name = 'actual_lrps' AND column_name = 'routable') THEN "
     "ALTER TABLE actual_lrps ADD COLUMN routable BOOL DEFAULT false; "
     "UPDATE actual_lrps SET routable = true WHERE state = 'RUNNING'; "
     "END IF; END $$"},
    {1698182853,
     "ALTER TABLE actual_lrps ADD COLUMN IF NOT EXISTS availability_zone VARCHAR(255) NOT NULL "
     "DEFAULT ''"},
    {1722634733, "ALTER TABLE desired_lrps ADD COLUMN IF NOT EXISTS metric_tags TEXT"},
    {1764949919,
     "CREATE TABLE IF NOT EXISTS bbs_health_check (id SERIAL PRIMARY KEY, time BIGINT NOT NULL)"},
    {1772581987,
     "ALTER TABLE desired_lrps ADD COLUMN IF NOT EXISTS update_strategy INT NOT NULL DEFAULT 0"},
};
static_assert(std::size(kMigrations) + 1 == std::size(sql::kMigrationVersions));

// The upserts of the record tables, rendered once.
struct Upserts {
  std::string domain = sql::UpsertSql(sql::Dialect::kPostgres, sql::DomainsTable());
  std::string desired = sql::UpsertSql(sql::Dialect::kPostgres, sql::DesiredLrpsTable());
  std::string actual = sql::UpsertSql(sql::Dialect::kPostgres, sql::ActualLrpsTable());
  std::string task = sql::UpsertSql(sql::Dialect::kPostgres, sql::TasksTable());
};
const Upserts& PostgresUpserts() {
  static const Upserts upserts;
  return upserts;
}

std::string Int(int64_t v) { return std::to_string(v); }
std::string Bool(bool v) { return v ? "true" : "false"; }

std::string OneLine(std::string text) { return sql::PostgresOneLine(std::move(text)); }

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// A SQLSTATE that upstream retries (deadlock, serialization failure) or a lost connection.
bool Retryable(const PGresult* result) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr) {
    return true;  // no server answer: the connection broke
  }
  std::string_view code(state);
  return code == "40P01" || code == "40001" || code.starts_with("08") || code == "57P01";
}

class Row {
 public:
  Row(const PGresult* result, int row) : result_(result), row_(row) {}
  bool IsNull(int c) const { return PQgetisnull(result_, row_, c) != 0; }
  std::string Text(int c) const {
    return std::string(PQgetvalue(result_, row_, c),
                       static_cast<size_t>(PQgetlength(result_, row_, c)));
  }
  std::optional<std::string> Optional(int c) const {
    return IsNull(c) ? std::nullopt : std::optional<std::string>(Text(c));
  }
  int64_t Int64(int c) const {
    int64_t v = 0;
    const char* s = PQgetvalue(result_, row_, c);
    std::from_chars(s, s + PQgetlength(result_, row_, c), v);
    return v;
  }
  bool Boolean(int c) const { return !IsNull(c) && PQgetvalue(result_, row_, c)[0] == 't'; }

 private:
  const PGresult* result_;
  int row_;
};

}  // namespace

PostgresStore::PostgresStore(Options options, Logger logger,
                             std::shared_ptr<const encryption::Encoder> encoder)
    : SqlStore(std::move(logger), std::move(encoder)), options_(std::move(options)) {}

PostgresStore::~PostgresStore() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
  }
  if (read_conn_ != nullptr) {
    PQfinish(read_conn_);
  }
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(
    const Options& options, Logger logger, std::shared_ptr<const encryption::Encoder> encoder) {
  std::unique_ptr<PostgresStore> store(
      new PostgresStore(options, logger.Session("postgres-store"), std::move(encoder)));
  if (Status status = store->SqlStore::Open(); !status.ok()) {
    return status;
  }
  return store;
}

Result<pg_conn*> PostgresStore::OpenConnection() const {
  std::string timeout = Int(std::max<int64_t>(
      2, std::chrono::duration_cast<std::chrono::seconds>(options_.connection_timeout).count()));
  return sql::ConnectPostgres(
      options_.url, "bbs",
      {{"connect_timeout", timeout}, {"keepalives", "1"}, {"keepalives_idle", timeout}},
      {options_.ca_cert_file, options_.verify_identity}, "postgres");
}

Status PostgresStore::Connect() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  auto conn = OpenConnection();
  if (!conn.ok()) {
    return conn.status();
  }
  conn_ = conn.value();
  connected_at_ = std::chrono::steady_clock::now();
  return Exec("SET client_min_messages = warning");
}

Status PostgresStore::EnsureConnected() {
  bool expired =
      options_.max_connection_lifetime.count() > 0 &&
      std::chrono::steady_clock::now() - connected_at_ > options_.max_connection_lifetime;
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK && !expired) {
    return Status::Ok();
  }
  return Connect();
}

Status PostgresStore::Exec(const std::string& sql) {
  PgResult result(PQexec(conn_, sql.c_str()));
  ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    return Status::Ok();
  }
  return UnknownError("postgres: " + OneLine(PQerrorMessage(conn_)));
}

Status PostgresStore::RunPipeline(const std::vector<Statement>& statements) {
  if (PQenterPipelineMode(conn_) != 1) {
    return UnknownError("postgres: cannot enter pipeline mode");
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  bool sent = true;
  for (const Statement& statement : statements) {
    values.clear();
    lengths.clear();
    for (const auto& param : statement.params) {
      values.push_back(param.has_value() ? param->c_str() : nullptr);
      lengths.push_back(param.has_value() ? static_cast<int>(param->size()) : 0);
    }
    if (PQsendQueryParams(conn_, statement.sql.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), lengths.data(), nullptr, 0) != 1) {
      sent = false;
      break;
    }
  }
  // The statements up to the sync run as one implicit transaction, committed at the sync.
  if (!sent || PQpipelineSync(conn_) != 1) {
    std::string message = OneLine(PQerrorMessage(conn_));
    PQexitPipelineMode(conn_);
    return Status(ErrorCode::kUnknownError, "postgres: cannot send: " + message);
  }
  Status first_error;
  bool retryable = false;
  bool synced = false;
  while (!synced) {
    PgResult result(PQgetResult(conn_));
    if (result == nullptr) {
      if (PQstatus(conn_) != CONNECTION_OK) {
        if (first_error.ok()) {
          first_error =
              UnknownError("postgres: connection lost: " + OneLine(PQerrorMessage(conn_)));
          retryable = true;
        }
        break;
      }
      continue;  // end of one statement's results
    }
    switch (PQresultStatus(result.get())) {
      case PGRES_PIPELINE_SYNC:
        synced = true;
        break;
      case PGRES_COMMAND_OK:
      case PGRES_TUPLES_OK:
      case PGRES_PIPELINE_ABORTED:
        break;
      default:
        if (first_error.ok()) {
          first_error = UnknownError("postgres: " + OneLine(PQresultErrorMessage(result.get())));
          retryable = Retryable(result.get());
          const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
          if (state != nullptr && std::string_view(state) == sql::kPostgresFenceSqlState) {
            first_error = Status(ErrorCode::kUnrecoverable, first_error.message());  // fenced
          }
        }
        break;
    }
  }
  if (PQstatus(conn_) == CONNECTION_OK) {
    PQexitPipelineMode(conn_);
  }
  if (!first_error.ok() && retryable) {
    return Status(ErrorCode::kDeadlock, first_error.message());
  }
  return first_error;
}

// --- Commit ---

Status PostgresStore::CommitOnce(std::span<const Mutation> mutations) {
  if (Status s = EnsureConnected(); !s.ok()) {
    return Status(ErrorCode::kDeadlock, s.message());
  }
  std::vector<Statement> statements;
  statements.reserve(mutations.size() + 1);
  if (options_.fence != nullptr) {
    int64_t epoch = options_.fence->epoch.load();
    if (epoch == 0) {
      return sql::LeaseLostError(*options_.fence, epoch);
    }
    statements.push_back({sql::PostgresFenceStatement(*options_.fence, epoch), {}});
  }
  const Upserts& upserts = PostgresUpserts();
  for (const Mutation& mutation : mutations) {
    Status status = std::visit(
        [&](const auto& m) -> Status {
          using M = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<M, PutDomain>) {
            statements.push_back({upserts.domain, {m.domain, Int(m.expire_time)}});
          } else if constexpr (std::is_same_v<M, DeleteDomain>) {
            statements.push_back({"DELETE FROM domains WHERE domain = $1", {m.domain}});
          } else if constexpr (std::is_same_v<M, PutDesiredLrp>) {
            Result<sql::DesiredRow> encoded = sql::EncodeDesired(m.record, encoder());
            if (!encoded.ok()) {
              return encoded.status();
            }
            sql::DesiredRow& r = encoded.value();
            statements.push_back(
                {upserts.desired,
                 {r.process_guid, r.domain, r.log_guid, r.annotation, Int(r.instances),
                  Int(r.memory_mb), Int(r.disk_mb), Int(r.max_pids), r.rootfs, r.routes,
                  r.volume_placement, r.modification_tag_epoch, Int(r.modification_tag_index),
                  r.run_info, r.placement_tags, r.metric_tags, Int(r.update_strategy)}});
          } else if constexpr (std::is_same_v<M, DeleteDesiredLrp>) {
            statements.push_back(
                {"DELETE FROM desired_lrps WHERE process_guid = $1", {m.process_guid}});
          } else if constexpr (std::is_same_v<M, PutActualLrp>) {
            sql::ActualRow r = sql::EncodeActual(m.lrp, encoder());
            statements.push_back(
                {upserts.actual,
                 {r.process_guid, Int(r.instance_index), Int(r.presence), Bool(r.evacuating),
                  r.domain, r.state, r.instance_guid, r.cell_id, r.placement_error, Int(r.since),
                  r.net_info, r.modification_tag_epoch, Int(r.modification_tag_index),
                  Int(r.crash_count), r.crash_reason, r.internal_routes, r.metric_tags,
                  Bool(r.routable), r.availability_zone}});
          } else if constexpr (std::is_same_v<M, DeleteActualLrp>) {
            statements.push_back(
                {"DELETE FROM actual_lrps WHERE process_guid = $1 AND "
                 "instance_index = $2 AND presence = $3",
                 {m.process_guid, Int(m.index), Int(m.presence)}});
          } else if constexpr (std::is_same_v<M, PutTask>) {
            sql::TaskRow r = sql::EncodeTask(m.task, encoder());
            statements.push_back(
                {upserts.task,
                 {r.guid, r.domain, Int(r.updated_at), Int(r.created_at), Int(r.first_completed_at),
                  Int(r.state), r.cell_id, r.result, Bool(r.failed), r.failure_reason,
                  r.task_definition, Int(r.rejection_count), r.rejection_reason}});
          } else if constexpr (std::is_same_v<M, DeleteTask>) {
            statements.push_back({"DELETE FROM tasks WHERE guid = $1", {m.task_guid}});
          } else {
            static_assert(sizeof(M) == 0, "unhandled mutation");
          }
          return Status::Ok();
        },
        mutation);
    if (!status.ok()) {
      return status;
    }
  }
  return RunPipeline(statements);
}

// --- Load ---

namespace {

Status QueryRows(pg_conn* conn, const char* sql, PgResult* out) {
  out->reset(PQexec(conn, sql));
  if (PQresultStatus(out->get()) != PGRES_TUPLES_OK) {
    return Status(Retryable(out->get()) ? ErrorCode::kDeadlock : ErrorCode::kUnknownError,
                  "postgres: " + OneLine(PQerrorMessage(conn)));
  }
  return Status::Ok();
}

// Runs `sql` and appends each result row to `out` through `read(const Row&, T*)`.
template <typename T, typename Read>
Status ReadAll(pg_conn* conn, const char* sql, std::vector<T>* out, const Read& read) {
  PgResult result;
  if (Status s = QueryRows(conn, sql, &result); !s.ok()) {
    return s;
  }
  int n = PQntuples(result.get());
  out->reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    read(Row(result.get(), i), &out->emplace_back());
  }
  return Status::Ok();
}

}  // namespace

Status PostgresStore::LoadOnce(Snapshot* out, std::vector<Mutation>* undecodable) {
  if (Status s = EnsureConnected(); !s.ok()) {
    return Status(ErrorCode::kDeadlock, s.message());
  }
  Snapshot snapshot;
  sql::RowSet rows;
  // One snapshot of the four tables.
  Status status = Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (status.ok()) {
    PgResult result(PQexec(conn_, "SELECT domain, expire_time FROM domains"));
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      status = Status(Retryable(result.get()) ? ErrorCode::kDeadlock : ErrorCode::kUnknownError,
                      "postgres: " + OneLine(PQerrorMessage(conn_)));
    } else {
      for (int i = 0; i < PQntuples(result.get()); ++i) {
        Row row(result.get(), i);
        snapshot.domains.push_back(PutDomain{row.Text(0), row.Int64(1)});
      }
    }
  }
  if (status.ok()) {
    // Without the run info: it stays in the table (ReadRunInfos).
    status = ReadAll(conn_, sql::kLoadDesired, &rows.desired, sql::ReadDesiredRow<Row>);
  }
  if (status.ok()) {
    status = ReadActualRows(&rows.actual);
  }
  if (status.ok()) {
    status = ReadTaskRows(&rows.tasks);
  }
  if (status.ok()) {
    status = Exec("COMMIT");
  }
  if (!status.ok()) {
    if (PQstatus(conn_) == CONNECTION_OK) {
      Exec("ROLLBACK");
      return status;
    }
    return Status(ErrorCode::kDeadlock, status.message());
  }
  sql::DecodeRows(rows.desired, rows.actual, rows.tasks, encoder(), logger(), &snapshot,
                  undecodable);
  *out = std::move(snapshot);
  return Status::Ok();
}

Status PostgresStore::ReadDesiredRows(std::vector<sql::DesiredRow>* out) {
  return ReadAll(conn_, sql::kSelectDesired, out, sql::ReadDesiredRow<Row>);
}

Status PostgresStore::ReadActualRows(std::vector<sql::ActualRow>* out) {
  return ReadAll(conn_, sql::kSelectActual, out, sql::ReadActualRow<Row>);
}

Status PostgresStore::ReadTaskRows(std::vector<sql::TaskRow>* out) {
  return ReadAll(conn_, sql::kSelectTasks, out, sql::ReadTaskRow<Row>);
}

// --- Migrations and the encryptor ---

Result<std::optional<std::string>> PostgresStore::ReadConfiguration(const std::string& id) {
  const char* values[] = {id.c_str()};
  PgResult result(PQexecParams(conn_, "SELECT value FROM configurations WHERE id = $1", 1, nullptr,
                               values, nullptr, nullptr, 0));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return UnknownError("postgres: " + OneLine(PQerrorMessage(conn_)));
  }
  if (PQntuples(result.get()) == 0) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(Row(result.get(), 0).Text(0));
}

Status PostgresStore::CreateConfigurations() {
  return Exec(
      "CREATE TABLE IF NOT EXISTS configurations (id VARCHAR(255) PRIMARY KEY, "
      "value VARCHAR(255))");
}

Status PostgresStore::CreateSchema(int64_t version) {
  Status s = Exec("BEGIN; " + Schema() + SetVersion(version) + "; COMMIT");
  if (!s.ok()) {
    Exec("ROLLBACK");
  }
  return s;
}

Status PostgresStore::ApplyMigration(size_t index) {
  const Migration& migration = kMigrations[index];
  Status s = Exec(std::string("BEGIN; ") + migration.sql + "; ");
  if (s.ok() && migration.version == 1722634733) {
    PgResult result;
    s = QueryRows(conn_,
                  "SELECT process_guid, run_info FROM desired_lrps WHERE metric_tags IS NULL FOR "
                  "UPDATE",
                  &result);
    std::vector<std::pair<std::string, std::string>> rows;
    for (int i = 0; s.ok() && i < PQntuples(result.get()); ++i) {
      Row row(result.get(), i);
      rows.emplace_back(row.Text(0), row.Text(1));
    }
    if (s.ok()) {
      s = CopyMetricTagsOutOfRunInfo(
          rows, [this](const std::string& guid, const std::string& tags) {
            const char* values[] = {tags.c_str(), guid.c_str()};
            PgResult update(PQexecParams(
                conn_, "UPDATE desired_lrps SET metric_tags = $1 WHERE process_guid = $2", 2,
                nullptr, values, nullptr, nullptr, 0));
            if (PQresultStatus(update.get()) != PGRES_COMMAND_OK) {
              return UnknownError("postgres: " + OneLine(PQerrorMessage(conn_)));
            }
            return Status::Ok();
          });
    }
  }
  if (s.ok()) {
    s = Exec(SetVersion(migration.version) + "; COMMIT");
  }
  if (!s.ok()) {
    Exec("ROLLBACK");
  }
  return s;
}

Status PostgresStore::BeginReencryption(sql::RowSet* rows) {
  Status status = Exec("BEGIN");
  if (status.ok()) {
    status = Exec("LOCK TABLE desired_lrps, actual_lrps, tasks IN EXCLUSIVE MODE");
  }
  if (status.ok()) {
    status = ReadRows(rows);
  }
  return status;
}

Status PostgresStore::FinishReencryption(const sql::RowSet& rows) {
  std::vector<Statement> updates;
  for (const auto& r : rows.desired) {
    updates.push_back(
        {"UPDATE desired_lrps SET run_info = $1, volume_placement = $2, routes = "
         "$3, metric_tags = $4 WHERE process_guid = $5",
         {r.run_info, r.volume_placement, r.routes, r.metric_tags, r.process_guid}});
  }
  for (const auto& r : rows.actual) {
    updates.push_back(
        {"UPDATE actual_lrps SET net_info = $1, internal_routes = $2, metric_tags = "
         "$3 WHERE process_guid = $4 AND instance_index = $5 AND presence = $6",
         {r.net_info, r.internal_routes, r.metric_tags, r.process_guid, Int(r.instance_index),
          Int(r.presence)}});
  }
  for (const auto& r : rows.tasks) {
    updates.push_back(
        {"UPDATE tasks SET task_definition = $1 WHERE guid = $2", {r.task_definition, r.guid}});
  }
  updates.push_back(
      {"INSERT INTO configurations (id, value) VALUES ('encryption_key_label', $1) "
       "ON CONFLICT (id) DO UPDATE SET value = excluded.value",
       {encoder().active_label()}});
  // Inside the explicit transaction the pipeline's sync does not commit; COMMIT does.
  Status status = RunPipeline(updates);
  if (status.ok()) {
    status = Exec("COMMIT");
  }
  return status;
}

Status PostgresStore::AbortReencryption(const Status&) {
  Exec("ROLLBACK");
  return Status::Ok();  // upstream logs and retries at the next start
}

}  // namespace bbs::storage

namespace bbs::storage {

// --- Run-info reads (their own connection) ---

Status PostgresStore::ReadRunInfoRows(const std::string& sql,
                                      const std::vector<std::string>& params,
                                      std::vector<std::pair<std::string, std::string>>* out) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) {
    values.push_back(p.c_str());
  }
  Status failure;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (read_conn_ == nullptr || PQstatus(read_conn_) != CONNECTION_OK) {
      if (read_conn_ != nullptr) {
        PQfinish(read_conn_);
        read_conn_ = nullptr;
      }
      auto conn = OpenConnection();
      if (!conn.ok()) {
        return conn.status();
      }
      read_conn_ = conn.value();
    }
    PgResult result(PQexecParams(read_conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0));
    if (PQresultStatus(result.get()) == PGRES_TUPLES_OK) {
      int n = PQntuples(result.get());
      for (int i = 0; i < n; ++i) {
        Row row(result.get(), i);
        out->emplace_back(row.Text(0), row.Text(1));
      }
      return Status::Ok();
    }
    failure = UnknownError("postgres: " + OneLine(PQerrorMessage(read_conn_)));
    if (PQstatus(read_conn_) == CONNECTION_OK) {
      break;  // the server answered with an error: retrying would not help
    }
  }
  logger().Error("failed-to-read-run-info", failure.message());
  return failure;
}

Result<std::vector<StoredRunInfo>> PostgresStore::ReadRunInfos(
    std::span<const std::string> process_guids) {
  // Up to this many guids per statement (PostgreSQL takes at most 65,535 parameters).
  constexpr size_t kChunk = 1000;
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(process_guids.size());
  {
    std::lock_guard<std::mutex> lock(read_mu_);
    for (size_t begin = 0; begin < process_guids.size(); begin += kChunk) {
      size_t end = std::min(process_guids.size(), begin + kChunk);
      std::string sql = "SELECT process_guid, run_info FROM desired_lrps WHERE process_guid IN (";
      for (size_t i = begin; i < end; ++i) {
        sql += fmt::format("{}${}", i == begin ? "" : ",", i - begin + 1);
      }
      sql += ")";
      std::vector<std::string> params(process_guids.begin() + static_cast<ptrdiff_t>(begin),
                                      process_guids.begin() + static_cast<ptrdiff_t>(end));
      if (Status s = ReadRunInfoRows(sql, params, &encoded); !s.ok()) {
        return s;
      }
    }
  }
  return sql::DecodeRunInfoColumns(std::move(encoded), encoder(), logger());
}

Result<std::vector<StoredRunInfo>> PostgresStore::ReadAllRunInfos() {
  std::vector<std::pair<std::string, std::string>> encoded;
  {
    std::lock_guard<std::mutex> lock(read_mu_);
    if (Status s = ReadRunInfoRows("SELECT process_guid, run_info FROM desired_lrps", {}, &encoded);
        !s.ok()) {
      return s;
    }
  }
  return sql::DecodeRunInfoColumns(std::move(encoded), encoder(), logger());
}

}  // namespace bbs::storage
