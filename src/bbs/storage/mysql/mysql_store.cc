#include "bbs/storage/mysql/mysql_store.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include <algorithm>
#include <charconv>
#include <thread>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "bbs/storage/sql/connect.h"
#include "bbs/storage/sql/load.h"
#include "bbs/storage/sql/schema.h"

namespace bbs::storage {
namespace {

// Upstream's final schema (spec/behavior.md §10.1) in MySQL types, one statement a table.
std::vector<std::string> Schema() {
  std::vector<std::string> statements;
  for (const sql::Table& table : sql::RecordTables()) {
    statements.push_back(sql::CreateTableSql(sql::Dialect::kMysql, table));
  }
  statements.push_back(
      "CREATE TABLE IF NOT EXISTS bbs_health_check (\n  id INT AUTO_INCREMENT PRIMARY KEY,\n  "
      "time BIGINT NOT NULL\n)");
  return statements;
}

// The upserts of the record tables (fmt formats for quoted values), rendered once.
struct Upserts {
  std::string domain = Render(sql::DomainsTable());
  std::string desired = Render(sql::DesiredLrpsTable());
  std::string actual = Render(sql::ActualLrpsTable());
  std::string task = Render(sql::TasksTable());

  static std::string Render(const sql::Table& table) {
    return sql::UpsertSql(sql::Dialect::kMysql, table) + ";\n";
  }
};
const Upserts& MysqlUpserts() {
  static const Upserts upserts;
  return upserts;
}

// The schema change of each migration after the first (§10.4), in MySQL, harmless when the
// change is already there. Steps that need code (routable, metric tags) run separately.
struct Migration {
  int64_t version;
  const char* sql;
};

// The version row's upsert.
std::string SetVersion(int64_t version) {
  return fmt::format(
      "INSERT INTO configurations (id, value) VALUES ('version', '{}') ON DUPLICATE KEY "
      "UPDATE value = VALUES(value)",
      sql::VersionJson(version));
}
constexpr Migration kMigrations[] = {
    {1471030898,
     "ALTER TABLE desired_lrps MODIFY annotation MEDIUMTEXT, MODIFY routes MEDIUMTEXT NOT NULL, "
     "MODIFY volume_placement MEDIUMTEXT NOT NULL, MODIFY run_info MEDIUMTEXT NOT NULL; "
     "ALTER TABLE actual_lrps MODIFY net_info MEDIUMTEXT NOT NULL; "
     "ALTER TABLE tasks MODIFY result MEDIUMTEXT, MODIFY task_definition MEDIUMTEXT NOT NULL"},
    {1472757022, "ALTER TABLE desired_lrps ADD COLUMN IF NOT EXISTS placement_tags TEXT"},
    {1474908092,
     "ALTER TABLE actual_lrps MODIFY crash_reason VARCHAR(1024) NOT NULL DEFAULT '', "
     "MODIFY placement_error VARCHAR(1024) NOT NULL DEFAULT ''"},
    {1474993971, ""},
    {1481761088, "ALTER TABLE desired_lrps ADD COLUMN IF NOT EXISTS max_pids INTEGER DEFAULT 0"},
    {1502289152, "ALTER TABLE desired_lrps MODIFY rootfs VARCHAR(1024) NOT NULL"},
    {1522700600,
     "ALTER TABLE tasks ADD COLUMN IF NOT EXISTS rejection_count INTEGER NOT NULL DEFAULT 0"},
    {1523050077,
     "ALTER TABLE tasks ADD COLUMN IF NOT EXISTS rejection_reason VARCHAR(255) NOT NULL "
     "DEFAULT ''"},
    {1528928964,
     "ALTER TABLE tasks MODIFY rejection_reason VARCHAR(1024) NOT NULL DEFAULT '', "
     "MODIFY failure_reason VARCHAR(1024) NOT NULL DEFAULT ''"},
    {1529530809,
     "ALTER TABLE actual_lrps ADD COLUMN IF NOT EXISTS presence INT NOT NULL DEFAULT 0; "
     "UPDATE actual_lrps SET presence = 1 WHERE evacuating = true; "
     "ALTER TABLE actual_lrps DROP PRIMARY KEY, "
     "ADD PRIMARY KEY (process_guid, instance_index, presence)"},
    {1643660541, "ALTER TABLE actual_lrps ADD COLUMN IF NOT EXISTS internal_routes MEDIUMTEXT"},
    {1674146125,
     "ALTER TABLE desired_lrps MODIFY annotation LONGTEXT, MODIFY routes LONGTEXT NOT NULL, "
     "MODIFY volume_placement LONGTEXT NOT NULL, MODIFY run_info LONGTEXT NOT NULL; "
     "ALTER TABLE actual_lrps MODIFY net_info LONGTEXT NOT NULL; "
     "ALTER TABLE tasks MODIFY result LONGTEXT, MODIFY task_definition LONGTEXT NOT NULL"},
    {1676360874, "ALTER TABLE actual_lrps ADD COLUMN IF NOT EXISTS metric_tags MEDIUMTEXT"},
    {1686692176, ""},  // AddRoutableColumn
    {1698182853,
     "ALTER TABLE actual_lrps ADD COLUMN IF NOT EXISTS availability_zone VARCHAR(255) NOT NULL "
     "DEFAULT ''"},
    {1722634733, "ALTER TABLE desired_lrps ADD COLUMN IF NOT EXISTS metric_tags MEDIUMTEXT"},
    {1764949919,
     "CREATE TABLE IF NOT EXISTS bbs_health_check (id INT AUTO_INCREMENT PRIMARY KEY, time "
     "BIGINT NOT NULL)"},
    {1772581987,
     "ALTER TABLE desired_lrps ADD COLUMN IF NOT EXISTS update_strategy INT NOT NULL DEFAULT 0"},
};
static_assert(std::size(kMigrations) + 1 == std::size(sql::kMigrationVersions));

std::string Bool(bool v) { return v ? "1" : "0"; }

bool Retryable(unsigned int error) {
  return error == ER_LOCK_DEADLOCK || error == CR_SERVER_GONE_ERROR || error == CR_SERVER_LOST ||
         error == CR_CONNECTION_ERROR || error == CR_CONN_HOST_ERROR ||
         error == ER_LOCK_WAIT_TIMEOUT;
}

}  // namespace

Result<MysqlDsn> ParseMysqlDsn(std::string_view dsn) {
  MysqlDsn out;
  size_t query = dsn.find('?');
  std::string_view main = dsn.substr(0, query);
  size_t slash = main.rfind('/');
  if (slash == std::string_view::npos) {
    return InvalidRequest("mysql: the connection string is not user:pass@tcp(host:port)/db");
  }
  out.database = std::string(main.substr(slash + 1));
  std::string_view left = main.substr(0, slash);
  size_t at = left.rfind('@');
  std::string_view net = left;
  if (at != std::string_view::npos) {
    std::string_view credentials = left.substr(0, at);
    net = left.substr(at + 1);
    size_t colon = credentials.find(':');
    out.user = std::string(credentials.substr(0, colon));
    if (colon != std::string_view::npos) {
      out.password = std::string(credentials.substr(colon + 1));
    }
  }
  size_t open = net.find('(');
  if (open != std::string_view::npos && net.ends_with(")")) {
    std::string_view kind = net.substr(0, open);
    std::string_view address = net.substr(open + 1, net.size() - open - 2);
    if (kind == "unix") {
      out.socket = std::string(address);
      out.host = "localhost";
    } else {
      size_t colon = address.rfind(':');
      out.host = std::string(address.substr(0, colon));
      if (colon != std::string_view::npos) {
        unsigned int port = 0;
        auto port_text = address.substr(colon + 1);
        if (std::from_chars(port_text.data(), port_text.data() + port_text.size(), port).ec !=
            std::errc()) {
          return InvalidRequest("mysql: invalid port in the connection string");
        }
        out.port = port;
      }
    }
  }
  return out;
}

namespace {

unsigned int Seconds(std::chrono::nanoseconds d) {
  return static_cast<unsigned int>(
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(d).count()));
}

struct ResultDeleter {
  void operator()(MYSQL_RES* r) const { mysql_free_result(r); }
};
using MyResult = std::unique_ptr<MYSQL_RES, ResultDeleter>;

class Row {
 public:
  Row(MYSQL_ROW row, unsigned long* lengths) : row_(row), lengths_(lengths) {}
  bool IsNull(int c) const { return row_[c] == nullptr; }
  std::string Text(int c) const {
    return IsNull(c) ? std::string() : std::string(row_[c], lengths_[c]);
  }
  std::optional<std::string> Optional(int c) const {
    return IsNull(c) ? std::nullopt : std::optional<std::string>(Text(c));
  }
  int64_t Int64(int c) const {
    int64_t v = 0;
    if (!IsNull(c)) {
      std::from_chars(row_[c], row_[c] + lengths_[c], v);
    }
    return v;
  }
  bool Boolean(int c) const { return Int64(c) != 0; }

 private:
  MYSQL_ROW row_;
  unsigned long* lengths_;
};

}  // namespace

MysqlStore::MysqlStore(Options options, Logger logger,
                       std::shared_ptr<const encryption::Encoder> encoder)
    : SqlStore(std::move(logger), std::move(encoder)), options_(std::move(options)) {}

MysqlStore::~MysqlStore() {
  if (conn_ != nullptr) {
    mysql_close(conn_);
  }
  if (read_conn_ != nullptr) {
    mysql_close(read_conn_);
  }
}

Result<std::unique_ptr<MysqlStore>> MysqlStore::Open(
    const Options& options, Logger logger, std::shared_ptr<const encryption::Encoder> encoder) {
  std::unique_ptr<MysqlStore> store(
      new MysqlStore(options, logger.Session("mysql-store"), std::move(encoder)));
  if (Status status = store->SqlStore::Open(); !status.ok()) {
    return status.code() == ErrorCode::kDeadlock ? UnknownError(status.message()) : status;
  }
  return store;
}

Status MysqlStore::Connect() {
  if (conn_ != nullptr) {
    mysql_close(conn_);
    conn_ = nullptr;
  }
  auto conn = sql::ConnectMysql(options_.dsn,
                                {Seconds(options_.connection_timeout),
                                 Seconds(options_.read_timeout), Seconds(options_.write_timeout)},
                                {options_.ca_cert_file, options_.verify_identity},
                                CLIENT_MULTI_STATEMENTS | CLIENT_FOUND_ROWS, "mysql");
  if (!conn.ok()) {
    return conn.status();
  }
  conn_ = conn.value();
  connected_at_ = std::chrono::steady_clock::now();
  return Exec("SET SESSION group_concat_max_len = 78888889");
}

Status MysqlStore::EnsureConnected() {
  bool expired =
      options_.max_connection_lifetime.count() > 0 &&
      std::chrono::steady_clock::now() - connected_at_ > options_.max_connection_lifetime;
  if (conn_ != nullptr && !expired) {
    return Status::Ok();
  }
  Status s = Connect();
  return s.ok() ? s : Status(ErrorCode::kDeadlock, s.message());
}

Status MysqlStore::Exec(const std::string& sql) {
  Status first_error;
  auto fail = [&] {
    unsigned int error = mysql_errno(conn_);
    if (first_error.ok()) {
      first_error = Status(Retryable(error) ? ErrorCode::kDeadlock : ErrorCode::kUnknownError,
                           fmt::format("mysql: {} ({})", mysql_error(conn_), error));
    }
    if (error == CR_SERVER_GONE_ERROR || error == CR_SERVER_LOST) {
      mysql_close(conn_);
      conn_ = nullptr;
    }
  };
  if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) {
    fail();
    return first_error;
  }
  while (true) {
    MYSQL_RES* result = mysql_store_result(conn_);
    if (result != nullptr) {
      mysql_free_result(result);
    } else if (mysql_field_count(conn_) != 0) {
      fail();
      return first_error;
    }
    int next = mysql_next_result(conn_);
    if (next == -1) {
      break;
    }
    if (next > 0) {
      fail();
      return first_error;
    }
  }
  return Status::Ok();
}

std::string MysqlStore::Quote(const std::optional<std::string>& value) {
  if (!value.has_value()) {
    return "NULL";
  }
  return sql::QuoteMysql(conn_, *value);
}

// --- Commit ---

Status MysqlStore::BeginFenced() {
  int64_t epoch = options_.fence->epoch.load();
  if (epoch == 0) {
    return sql::LeaseLostError(*options_.fence, epoch);
  }
  if (Status s = Exec("START TRANSACTION"); !s.ok()) {
    return s;
  }
  std::string query = sql::MysqlFenceQuery(Quote(options_.fence->owner), epoch);
  MyResult result;
  if (mysql_real_query(conn_, query.data(), query.size()) != 0 ||
      (result.reset(mysql_store_result(conn_)), result == nullptr)) {
    unsigned int error = mysql_errno(conn_);
    Status s(Retryable(error) ? ErrorCode::kDeadlock : ErrorCode::kUnknownError,
             fmt::format("mysql: {} ({})", mysql_error(conn_), error));
    mysql_close(conn_);  // also ends the transaction
    conn_ = nullptr;
    return s;
  }
  if (mysql_num_rows(result.get()) != 1) {
    return sql::LeaseLostError(*options_.fence, epoch);
  }
  return Status::Ok();
}

Status MysqlStore::CommitOnce(std::span<const Mutation> mutations) {
  if (Status s = EnsureConnected(); !s.ok()) {
    return s;
  }
  std::string sql;
  const Upserts& upserts = MysqlUpserts();
  for (const Mutation& mutation : mutations) {
    Status status = std::visit(
        [&](const auto& m) -> Status {
          using M = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<M, PutDomain>) {
            sql += fmt::format(fmt::runtime(upserts.domain), Quote(m.domain), m.expire_time);
          } else if constexpr (std::is_same_v<M, DeleteDomain>) {
            sql += fmt::format("DELETE FROM domains WHERE domain = {};\n", Quote(m.domain));
          } else if constexpr (std::is_same_v<M, PutDesiredLrp>) {
            Result<sql::DesiredRow> encoded = sql::EncodeDesired(m.record, encoder());
            if (!encoded.ok()) {
              return encoded.status();
            }
            const sql::DesiredRow& r = encoded.value();
            sql += fmt::format(fmt::runtime(upserts.desired), Quote(r.process_guid),
                               Quote(r.domain), Quote(r.log_guid), Quote(r.annotation), r.instances,
                               r.memory_mb, r.disk_mb, r.max_pids, Quote(r.rootfs), Quote(r.routes),
                               Quote(r.volume_placement), Quote(r.modification_tag_epoch),
                               r.modification_tag_index, Quote(r.run_info), Quote(r.placement_tags),
                               Quote(r.metric_tags), r.update_strategy);
          } else if constexpr (std::is_same_v<M, DeleteDesiredLrp>) {
            sql += fmt::format("DELETE FROM desired_lrps WHERE process_guid = {};\n",
                               Quote(m.process_guid));
          } else if constexpr (std::is_same_v<M, PutActualLrp>) {
            sql::ActualRow r = sql::EncodeActual(m.lrp, encoder());
            sql += fmt::format(fmt::runtime(upserts.actual), Quote(r.process_guid),
                               r.instance_index, r.presence, Bool(r.evacuating), Quote(r.domain),
                               Quote(r.state), Quote(r.instance_guid), Quote(r.cell_id),
                               Quote(r.placement_error), r.since, Quote(r.net_info),
                               Quote(r.modification_tag_epoch), r.modification_tag_index,
                               r.crash_count, Quote(r.crash_reason), Quote(r.internal_routes),
                               Quote(r.metric_tags), Bool(r.routable), Quote(r.availability_zone));
          } else if constexpr (std::is_same_v<M, DeleteActualLrp>) {
            sql += fmt::format(
                "DELETE FROM actual_lrps WHERE process_guid = {} AND instance_index = {} AND "
                "presence = {};\n",
                Quote(m.process_guid), m.index, static_cast<int>(m.presence));
          } else if constexpr (std::is_same_v<M, PutTask>) {
            sql::TaskRow r = sql::EncodeTask(m.task, encoder());
            sql += fmt::format(fmt::runtime(upserts.task), Quote(r.guid), Quote(r.domain),
                               r.updated_at, r.created_at, r.first_completed_at, r.state,
                               Quote(r.cell_id), Quote(r.result), Bool(r.failed),
                               Quote(r.failure_reason), Quote(r.task_definition), r.rejection_count,
                               Quote(r.rejection_reason));
          } else if constexpr (std::is_same_v<M, DeleteTask>) {
            sql += fmt::format("DELETE FROM tasks WHERE guid = {};\n", Quote(m.task_guid));
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
  sql += "COMMIT";
  Status status;
  if (options_.fence != nullptr) {
    status = BeginFenced();
  } else {
    sql.insert(0, "START TRANSACTION;\n");
  }
  if (status.ok()) {
    status = Exec(sql);
  }
  if (!status.ok() && conn_ != nullptr) {
    // A statement failed: the ones after it did not run and the transaction is still open.
    if (Status rollback = Exec("ROLLBACK"); !rollback.ok() && conn_ != nullptr) {
      mysql_close(conn_);
      conn_ = nullptr;
    }
  }
  return status;
}

// --- Load ---

namespace {

// Streams the rows of `sql` (mysql_use_result: no whole-result buffer) into `each`.
template <typename Each>
Status QueryRows(MYSQL* conn, const char* sql, const Each& each) {
  if (mysql_query(conn, sql) != 0) {
    unsigned int error = mysql_errno(conn);
    return Status(Retryable(error) ? ErrorCode::kDeadlock : ErrorCode::kUnknownError,
                  fmt::format("mysql: {} ({})", mysql_error(conn), error));
  }
  MyResult result(mysql_use_result(conn));
  if (result == nullptr) {
    unsigned int error = mysql_errno(conn);
    return Status(Retryable(error) ? ErrorCode::kDeadlock : ErrorCode::kUnknownError,
                  fmt::format("mysql: {} ({})", mysql_error(conn), error));
  }
  while (MYSQL_ROW row = mysql_fetch_row(result.get())) {
    each(Row(row, mysql_fetch_lengths(result.get())));
  }
  if (unsigned int error = mysql_errno(conn); error != 0) {
    return Status(Retryable(error) ? ErrorCode::kDeadlock : ErrorCode::kUnknownError,
                  fmt::format("mysql: {} ({})", mysql_error(conn), error));
  }
  return Status::Ok();
}

}  // namespace

Status MysqlStore::LoadOnce(Snapshot* out, std::vector<Mutation>* undecodable) {
  if (Status s = EnsureConnected(); !s.ok()) {
    return s;
  }
  Snapshot snapshot;
  sql::RowSet rows;
  Status status = Exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
  if (status.ok()) {
    status = QueryRows(conn_, "SELECT domain, expire_time FROM domains", [&](const Row& row) {
      snapshot.domains.push_back(PutDomain{row.Text(0), row.Int64(1)});
    });
  }
  if (status.ok()) {
    // Without the run info: it stays in the table (ReadRunInfos).
    status = QueryRows(conn_, sql::kLoadDesired, [&](const Row& row) {
      sql::ReadDesiredRow(row, &rows.desired.emplace_back());
    });
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
    if (conn_ != nullptr) {
      mysql_close(conn_);  // the connection may be mid-result; start clean
      conn_ = nullptr;
    }
    return status;
  }
  sql::DecodeRows(rows.desired, rows.actual, rows.tasks, encoder(), logger(), &snapshot,
                  undecodable);
  *out = std::move(snapshot);
  return Status::Ok();
}

Status MysqlStore::ReadDesiredRows(std::vector<sql::DesiredRow>* out) {
  return QueryRows(conn_, sql::kSelectDesired,
                   [&](const Row& row) { sql::ReadDesiredRow(row, &out->emplace_back()); });
}

Status MysqlStore::ReadActualRows(std::vector<sql::ActualRow>* out) {
  return QueryRows(conn_, sql::kSelectActual,
                   [&](const Row& row) { sql::ReadActualRow(row, &out->emplace_back()); });
}

Status MysqlStore::ReadTaskRows(std::vector<sql::TaskRow>* out) {
  return QueryRows(conn_, sql::kSelectTasks,
                   [&](const Row& row) { sql::ReadTaskRow(row, &out->emplace_back()); });
}

// --- Migrations and the encryptor ---

Result<std::optional<std::string>> MysqlStore::ReadConfiguration(const std::string& id) {
  std::optional<std::string> value;
  std::string sql = "SELECT value FROM configurations WHERE id = " + Quote(id);
  Status s = QueryRows(conn_, sql.c_str(), [&](const Row& row) { value = row.Text(0); });
  if (!s.ok()) {
    return s;
  }
  return value;
}

Result<bool> MysqlStore::ColumnExists(const std::string& table, const std::string& column) {
  bool exists = false;
  std::string sql =
      "SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name "
      "= " +
      Quote(table) + " AND column_name = " + Quote(column);
  Status s = QueryRows(conn_, sql.c_str(), [&](const Row&) { exists = true; });
  if (!s.ok()) {
    return s;
  }
  return exists;
}

Status MysqlStore::CreateConfigurations() {
  return Exec(
      "CREATE TABLE IF NOT EXISTS configurations (id VARCHAR(255) PRIMARY KEY, "
      "value VARCHAR(255)) DEFAULT CHARSET = utf8mb4");
}

// DDL commits implicitly in MySQL: the schema is created statement by statement.
Status MysqlStore::CreateSchema(int64_t version) {
  for (const std::string& statement : Schema()) {
    if (Status s = Exec(statement); !s.ok()) {
      return s;
    }
  }
  return Exec(SetVersion(version));
}

Status MysqlStore::ApplyMigration(size_t index) {
  const Migration& migration = kMigrations[index];
  Status s = Status::Ok();
  if (migration.sql[0] != '\0') {
    s = Exec(migration.sql);
  }
  if (s.ok() && migration.version == 1686692176) {
    s = AddRoutableColumn();
  }
  if (s.ok() && migration.version == 1722634733) {
    std::vector<std::pair<std::string, std::string>> rows;
    s = QueryRows(conn_,
                  "SELECT process_guid, run_info FROM desired_lrps WHERE metric_tags IS NULL",
                  [&](const Row& row) { rows.emplace_back(row.Text(0), row.Text(1)); });
    if (s.ok()) {
      s = CopyMetricTagsOutOfRunInfo(
          rows, [this](const std::string& guid, const std::string& tags) {
            return Exec("UPDATE desired_lrps SET metric_tags = " + Quote(tags) +
                        " WHERE process_guid = " + Quote(guid));
          });
    }
  }
  if (s.ok()) {
    s = Exec(SetVersion(migration.version));
  }
  return s;
}

Status MysqlStore::AddRoutableColumn() {
  auto exists = ColumnExists("actual_lrps", "routable");
  if (!exists.ok() || exists.value()) {
    return exists.ok() ? Status::Ok() : exists.status();
  }
  return Exec(
      "ALTER TABLE actual_lrps ADD COLUMN routable BOOL DEFAULT false; "
      "UPDATE actual_lrps SET routable = true WHERE state = 'RUNNING'");
}

Status MysqlStore::BeginReencryption(sql::RowSet* rows) {
  Status status = Exec("START TRANSACTION");
  if (status.ok()) {
    status = ReadRows(rows);
  }
  return status;
}

Status MysqlStore::FinishReencryption(const sql::RowSet& rows) {
  std::string updates;
  for (const auto& r : rows.desired) {
    updates += fmt::format(
        "UPDATE desired_lrps SET run_info = {}, volume_placement = {}, routes = {}, metric_tags "
        "= {} WHERE process_guid = {};\n",
        Quote(r.run_info), Quote(r.volume_placement), Quote(r.routes), Quote(r.metric_tags),
        Quote(r.process_guid));
  }
  for (const auto& r : rows.actual) {
    updates += fmt::format(
        "UPDATE actual_lrps SET net_info = {}, internal_routes = {}, metric_tags = {} WHERE "
        "process_guid = {} AND instance_index = {} AND presence = {};\n",
        Quote(r.net_info), Quote(r.internal_routes), Quote(r.metric_tags), Quote(r.process_guid),
        r.instance_index, r.presence);
  }
  for (const auto& r : rows.tasks) {
    updates += fmt::format("UPDATE tasks SET task_definition = {} WHERE guid = {};\n",
                           Quote(r.task_definition), Quote(r.guid));
  }
  updates += "INSERT INTO configurations (id, value) VALUES ('encryption_key_label', " +
             Quote(encoder().active_label()) +
             ") ON DUPLICATE KEY UPDATE value = VALUES(value);\nCOMMIT";
  return Exec(updates);
}

Status MysqlStore::AbortReencryption(const Status& failure) {
  if (conn_ != nullptr) {
    Exec("ROLLBACK");
  }
  return conn_ != nullptr ? Status::Ok() : failure;  // upstream retries at the next start
}

}  // namespace bbs::storage

namespace bbs::storage {

// --- Run-info reads (their own connection) ---

Status MysqlStore::ReadRunInfoRows(const std::function<std::string(st_mysql*)>& make_sql,
                                   std::vector<std::pair<std::string, std::string>>* out) {
  Status failure;
  size_t first = out->size();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (read_conn_ == nullptr) {
      auto conn =
          sql::ConnectMysql(options_.dsn,
                            {Seconds(options_.connection_timeout), Seconds(options_.read_timeout),
                             Seconds(options_.write_timeout)},
                            {options_.ca_cert_file, options_.verify_identity}, 0, "mysql");
      if (!conn.ok()) {
        return conn.status();
      }
      read_conn_ = conn.value();
    }
    out->resize(first);
    failure = QueryRows(read_conn_, make_sql(read_conn_).c_str(),
                        [&](const Row& row) { out->emplace_back(row.Text(0), row.Text(1)); });
    if (failure.ok()) {
      return failure;
    }
    unsigned int error = mysql_errno(read_conn_);
    mysql_close(read_conn_);  // may be mid-result; the next read connects afresh
    read_conn_ = nullptr;
    if (error != CR_SERVER_GONE_ERROR && error != CR_SERVER_LOST) {
      break;  // the server answered with an error: retrying would not help
    }
  }
  logger().Error("failed-to-read-run-info", failure.message());
  return UnknownError(failure.message());
}

Result<std::vector<StoredRunInfo>> MysqlStore::ReadRunInfos(
    std::span<const std::string> process_guids) {
  constexpr size_t kChunk = 1000;  // guids per statement
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(process_guids.size());
  {
    std::lock_guard<std::mutex> lock(read_mu_);
    for (size_t begin = 0; begin < process_guids.size(); begin += kChunk) {
      size_t end = std::min(process_guids.size(), begin + kChunk);
      Status s = ReadRunInfoRows(
          [&](st_mysql* conn) {
            std::string sql =
                "SELECT process_guid, run_info FROM desired_lrps WHERE process_guid IN (";
            for (size_t i = begin; i < end; ++i) {
              if (i != begin) sql += ',';
              sql += sql::QuoteMysql(conn, process_guids[i]);
            }
            return sql + ")";
          },
          &encoded);
      if (!s.ok()) {
        return s;
      }
    }
  }
  return sql::DecodeRunInfoColumns(std::move(encoded), encoder(), logger());
}

Result<std::vector<StoredRunInfo>> MysqlStore::ReadAllRunInfos() {
  std::vector<std::pair<std::string, std::string>> encoded;
  {
    std::lock_guard<std::mutex> lock(read_mu_);
    if (Status s = ReadRunInfoRows(
            [](st_mysql*) {
              return std::string("SELECT process_guid, run_info FROM desired_lrps");
            },
            &encoded);
        !s.ok()) {
      return s;
    }
  }
  return sql::DecodeRunInfoColumns(std::move(encoded), encoder(), logger());
}

}  // namespace bbs::storage
