#include "bbs/storage/sql/locket_registry.h"

#include <errmsg.h>
#include <libpq-fe.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "bbs/storage/mysql/mysql_store.h"
#include "bbs/storage/sql/connect.h"

namespace bbs::storage::sql {

using cells::LocketResource;
using cells::ResourceType;

using Row = std::vector<std::optional<std::string>>;

// What differs between the engines' SQL for the registry.
struct LocketDialect {
  const char* begin_write;  // starts a transaction that will write
  const char* for_update;   // the row-lock suffix of a SELECT
  const char* now_micros;   // the database's now, microseconds since epoch
  const char* description;
};
constexpr LocketDialect kPostgresLocket = {
    "BEGIN", " FOR UPDATE", "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
    "postgres table locks"};
constexpr LocketDialect kMysqlLocket = {
    "START TRANSACTION", " FOR UPDATE",
    "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6))", "mysql table locks"};
// BEGIN IMMEDIATE locks the database: no row locks.
constexpr LocketDialect kSqliteLocket = {
    "BEGIN IMMEDIATE", "", "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
    "sqlite table locks"};

// One engine's connection. Every failure is an UnknownError; `retryable()` then says whether the
// failed transaction is worth another attempt (deadlock, unique-key race, lost connection).
class SqlLocketRegistry::Connection {
 public:
  explicit Connection(const LocketDialect& dialect) : dialect_(dialect) {}
  virtual ~Connection() = default;
  // Connects when not connected.
  virtual Status Connect() = 0;
  // Runs a statement; `*affected` (when not null) receives the number of rows it changed.
  virtual Status Exec(const std::string& sql, int64_t* affected) = 0;
  Status Exec(const std::string& sql) { return Exec(sql, nullptr); }
  virtual Result<std::vector<Row>> Query(const std::string& sql) = 0;
  // `value` as a SQL string literal. REQUIRES: connected.
  virtual std::string Quote(std::string_view value) = 0;
  const char* BeginWrite() const { return dialect_.begin_write; }
  const char* ForUpdate() const { return dialect_.for_update; }
  std::string NowMicros() const { return dialect_.now_micros; }
  std::string Description() const { return dialect_.description; }
  bool retryable() const { return retryable_; }

 protected:
  Status Fail(std::string message, bool retryable) {
    retryable_ = retryable;
    return UnknownError(std::move(message));
  }
  bool retryable_ = false;

 private:
  const LocketDialect& dialect_;
};

namespace {

constexpr int kAttempts = 3;
constexpr auto kRetryPause = std::chrono::milliseconds(500);
// TTLs are capped at 1000 years so that now + ttl never overflows a BIGINT of microseconds.
constexpr int64_t kMaxTtlSeconds = int64_t{1000} * 366 * 24 * 3600;

std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

int64_t Seconds(std::chrono::milliseconds d) {
  return std::max<int64_t>(1, (d.count() + 999) / 1000);
}

ResourceType TypeFromName(const std::optional<std::string>& name) {
  if (name == "lock") return ResourceType::kLock;
  if (name == "presence") return ResourceType::kPresence;
  return ResourceType::kUnknown;
}

bool IsValidType(ResourceType type) {
  return type == ResourceType::kLock || type == ResourceType::kPresence;
}

Status LockCollision() { return Status(ErrorCode::kLockCollision, "lock-collision"); }
Status InvalidType() { return Status(ErrorCode::kResourceNotFound, "invalid-type"); }
Status ResourceNotFound() { return Status(ErrorCode::kResourceNotFound, "resource-not-found"); }

// --- PostgreSQL ---------------------------------------------------------------------------

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

class PostgresConnection final : public SqlLocketRegistry::Connection {
 public:
  explicit PostgresConnection(SqlLocketOptions options)
      : Connection(kPostgresLocket), options_(std::move(options)) {}
  ~PostgresConnection() override { Close(); }

  Status Connect() override {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
    Close();
    std::string connect_timeout = std::to_string(std::max<int64_t>(2, Seconds(options_.timeout)));
    std::string timeout_ms = std::to_string(std::max<int64_t>(1, options_.timeout.count()));
    // Keywords before "dbname" are defaults that the URL may override; those after override it.
    std::vector<const char*> keys = {"application_name", "dbname",          "connect_timeout",
                                     "keepalives",       "keepalives_idle", "keepalives_interval",
                                     "keepalives_count", "tcp_user_timeout"};
    std::vector<const char*> values = {"bbs-locket",
                                       options_.connection_string.c_str(),
                                       connect_timeout.c_str(),
                                       "1",
                                       "1",
                                       "1",
                                       "3",
                                       timeout_ms.c_str()};
    std::string mode = options_.verify_identity ? "verify-full" : "verify-ca";
    if (!options_.ca_cert_file.empty()) {
      keys.push_back("sslmode");
      values.push_back(mode.c_str());
      keys.push_back("sslrootcert");
      values.push_back(options_.ca_cert_file.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      std::string message = conn_ != nullptr ? OneLine(PQerrorMessage(conn_)) : "out of memory";
      Close();
      return Fail("postgres locket: cannot connect: " + message, true);
    }
    if (Status s = Exec("SET client_min_messages = warning"); !s.ok()) return s;
    return Exec("SET statement_timeout = " + timeout_ms);
  }

  Status Exec(const std::string& sql, int64_t* affected) override {
    auto result = Run(sql);
    if (!result.ok()) return result.status();
    if (affected != nullptr) {
      const char* tuples = PQcmdTuples(result->get());
      *affected = (tuples != nullptr && *tuples != '\0') ? std::stoll(tuples) : 0;
    }
    return Status::Ok();
  }
  using Connection::Exec;

  Result<std::vector<Row>> Query(const std::string& sql) override {
    auto result = Run(sql);
    if (!result.ok()) return result.status();
    PGresult* r = result->get();
    std::vector<Row> rows(static_cast<size_t>(PQntuples(r)));
    for (int i = 0; i < PQntuples(r); ++i) {
      for (int j = 0; j < PQnfields(r); ++j) {
        if (PQgetisnull(r, i, j) != 0) {
          rows[i].emplace_back();
        } else {
          rows[i].emplace_back(std::string(PQgetvalue(r, i, j), PQgetlength(r, i, j)));
        }
      }
    }
    return rows;
  }

  std::string Quote(std::string_view value) override {
    char* quoted = PQescapeLiteral(conn_, value.data(), value.size());
    if (quoted == nullptr) return "''";
    std::string out(quoted);
    PQfreemem(quoted);
    return out;
  }

 private:
  void Close() {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
  }

  Result<PgResult> Run(const std::string& sql) {
    if (conn_ == nullptr) return Fail("postgres locket: not connected", true);
    PgResult result(PQexec(conn_, sql.c_str()));
    ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
    std::string message = OneLine(PQerrorMessage(conn_));
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    std::string_view code = state != nullptr ? state : "";
    bool lost = PQstatus(conn_) != CONNECTION_OK;
    if (lost) Close();
    return Fail("postgres locket: " + message,
                lost || code == "40P01" || code == "40001" || code == "23505");
  }

  const SqlLocketOptions options_;
  pg_conn* conn_ = nullptr;
};

// --- MySQL --------------------------------------------------------------------------------

struct MyResultDeleter {
  void operator()(MYSQL_RES* r) const { mysql_free_result(r); }
};
using MyResult = std::unique_ptr<MYSQL_RES, MyResultDeleter>;

class MysqlConnection final : public SqlLocketRegistry::Connection {
 public:
  MysqlConnection(SqlLocketOptions options, MysqlDsn dsn)
      : Connection(kMysqlLocket), options_(std::move(options)), dsn_(std::move(dsn)) {}
  ~MysqlConnection() override { Close(); }

  Status Connect() override {
    if (conn_ != nullptr) return Status::Ok();
    conn_ = mysql_init(nullptr);
    if (conn_ == nullptr) return Fail("mysql locket: out of memory", false);
    unsigned int timeout = static_cast<unsigned int>(Seconds(options_.timeout));
    mysql_optionsv(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_optionsv(conn_, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_optionsv(conn_, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    mysql_optionsv(conn_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!options_.ca_cert_file.empty()) {
      my_bool verify = options_.verify_identity ? 1 : 0;
      mysql_optionsv(conn_, MYSQL_OPT_SSL_CA, options_.ca_cert_file.c_str());
      mysql_optionsv(conn_, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    }
    if (mysql_real_connect(conn_, dsn_.host.c_str(), dsn_.user.c_str(), dsn_.password.c_str(),
                           dsn_.database.c_str(), dsn_.port,
                           dsn_.socket.empty() ? nullptr : dsn_.socket.c_str(), 0) == nullptr) {
      std::string message = mysql_error(conn_);
      Close();
      return Fail("mysql locket: cannot connect: " + message, true);
    }
    return Exec(fmt::format("SET SESSION innodb_lock_wait_timeout = {}", timeout));
  }

  Status Exec(const std::string& sql, int64_t* affected) override {
    if (conn_ == nullptr) return Fail("mysql locket: not connected", true);
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) return Failed();
    MyResult result(mysql_store_result(conn_));
    if (result == nullptr && mysql_field_count(conn_) != 0) return Failed();
    if (affected != nullptr) *affected = static_cast<int64_t>(mysql_affected_rows(conn_));
    return Status::Ok();
  }
  using Connection::Exec;

  Result<std::vector<Row>> Query(const std::string& sql) override {
    if (conn_ == nullptr) return Fail("mysql locket: not connected", true);
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) return Failed();
    MyResult result(mysql_store_result(conn_));
    if (result == nullptr) return Failed();
    unsigned int fields = mysql_num_fields(result.get());
    std::vector<Row> rows;
    while (MYSQL_ROW row = mysql_fetch_row(result.get())) {
      unsigned long* lengths = mysql_fetch_lengths(result.get());
      Row out;
      for (unsigned int j = 0; j < fields; ++j) {
        if (row[j] == nullptr) {
          out.emplace_back();
        } else {
          out.emplace_back(std::string(row[j], lengths[j]));
        }
      }
      rows.push_back(std::move(out));
    }
    return rows;
  }

  std::string Quote(std::string_view value) override { return QuoteMysql(conn_, value); }

 private:
  void Close() {
    if (conn_ != nullptr) mysql_close(conn_);
    conn_ = nullptr;
  }

  Status Failed() {
    unsigned int code = mysql_errno(conn_);
    std::string message = fmt::format("mysql locket: {} ({})", mysql_error(conn_), code);
    bool lost = code == CR_SERVER_GONE_ERROR || code == CR_SERVER_LOST;
    if (lost) Close();  // a fresh connection next time
    return Fail(std::move(message), lost || code == ER_LOCK_DEADLOCK || code == ER_DUP_ENTRY);
  }

  const SqlLocketOptions options_;
  const MysqlDsn dsn_;
  MYSQL* conn_ = nullptr;
};

// --- SQLite -------------------------------------------------------------------------------

class SqliteConnection final : public SqlLocketRegistry::Connection {
 public:
  explicit SqliteConnection(SqlLocketOptions options)
      : Connection(kSqliteLocket), options_(std::move(options)) {}
  ~SqliteConnection() override {
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  Status Connect() override {
    if (db_ != nullptr) return Status::Ok();
    std::filesystem::path parent = std::filesystem::path(options_.connection_string).parent_path();
    if (!parent.empty()) {
      std::error_code error;
      std::filesystem::create_directories(parent, error);
    }
    int rc =
        sqlite3_open_v2(options_.connection_string.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close_v2(db_);
      db_ = nullptr;
      return Fail("sqlite locket: cannot open: " + message, false);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(std::max<int64_t>(1, options_.timeout.count())));
    // The store's journal mode: switching a database to WAL needs it to ourselves, so whoever
    // opens the file first sets it (it is persistent).
    auto mode = Query("PRAGMA journal_mode=WAL");
    if (!mode.ok()) return mode.status();
    return Exec("PRAGMA synchronous=FULL");
  }

  Status Exec(const std::string& sql, int64_t* affected) override {
    auto rows = Query(sql);
    if (!rows.ok()) return rows.status();
    if (affected != nullptr) *affected = sqlite3_changes(db_);
    return Status::Ok();
  }
  using Connection::Exec;

  Result<std::vector<Row>> Query(const std::string& sql) override {
    if (db_ == nullptr) return Fail("sqlite locket: not open", false);
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return Failed(rc);
    std::vector<Row> rows;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      Row row;
      for (int j = 0; j < sqlite3_column_count(stmt); ++j) {
        if (sqlite3_column_type(stmt, j) == SQLITE_NULL) {
          row.emplace_back();
        } else {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, j));
          row.emplace_back(std::string(text, sqlite3_column_bytes(stmt, j)));
        }
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return Failed(rc);
    return rows;
  }

  std::string Quote(std::string_view value) override {
    std::string out = "'";
    for (char c : value) {
      if (c == '\'') out.push_back('\'');
      out.push_back(c);
    }
    out.push_back('\'');
    return out;
  }

 private:
  Status Failed(int rc) {
    int primary = rc & 0xff;
    return Fail(
        fmt::format("sqlite locket: {} ({})", sqlite3_errmsg(db_), rc),
        primary == SQLITE_BUSY || primary == SQLITE_LOCKED || rc == SQLITE_CONSTRAINT_PRIMARYKEY);
  }

  const SqlLocketOptions options_;
  sqlite3* db_ = nullptr;
};

}  // namespace

// --- SqlLocketRegistry --------------------------------------------------------------------

Result<std::unique_ptr<SqlLocketRegistry>> SqlLocketRegistry::Create(SqlLocketOptions options,
                                                                     Logger logger) {
  std::unique_ptr<Connection> connection;
  if (options.driver == "postgres") {
    connection = std::make_unique<PostgresConnection>(options);
  } else if (options.driver == "mysql") {
    auto dsn = ParseMysqlDsn(options.connection_string);
    if (!dsn.ok()) return dsn.status();
    connection = std::make_unique<MysqlConnection>(options, std::move(*dsn));
  } else if (options.driver == "sqlite") {
    connection = std::make_unique<SqliteConnection>(options);
  } else {
    return InvalidRequest("no locket table for database driver '" + options.driver + "'");
  }
  return std::unique_ptr<SqlLocketRegistry>(
      new SqlLocketRegistry(std::move(options), std::move(connection), std::move(logger)));
}

SqlLocketRegistry::SqlLocketRegistry(SqlLocketOptions options,
                                     std::unique_ptr<Connection> connection, Logger logger)
    : options_(std::move(options)),
      logger_(std::move(logger)),
      connection_(std::move(connection)) {}

SqlLocketRegistry::~SqlLocketRegistry() = default;

std::string SqlLocketRegistry::Description() const { return connection_->Description(); }

std::string SqlLocketRegistry::Now() const {
  if (options_.now_micros_for_testing) {
    return "(" + std::to_string(options_.now_micros_for_testing()) + ")";
  }
  return "(" + connection_->NowMicros() + ")";
}

Status SqlLocketRegistry::Prepare() {
  if (Status s = connection_->Connect(); !s.ok()) return s;
  if (prepared_) return Status::Ok();
  // Upstream Locket's table (locket.md §7), plus our expires_at. PostgreSQL's CREATE TABLE IF
  // NOT EXISTS is not safe against a concurrent creator (the loser fails with 'type "locks"
  // already exists'); the second try sees the table.
  const std::string create = fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (path VARCHAR(255) PRIMARY KEY, owner VARCHAR(255), "
      "value VARCHAR(4096), type VARCHAR(255) DEFAULT '', modified_index BIGINT DEFAULT 0, "
      "modified_id VARCHAR(255) DEFAULT '', ttl BIGINT DEFAULT 0, expires_at BIGINT)",
      kLocketTable);
  if (Status s = connection_->Exec(create); !s.ok()) {
    if (Status again = connection_->Exec(create); !again.ok()) return again;
  }
  if (!connection_->Query(fmt::format("SELECT expires_at FROM {} WHERE 1 = 0", kLocketTable))
           .ok()) {
    // A table an upstream Locket created.
    if (Status s = connection_->Exec(
            fmt::format("ALTER TABLE {} ADD COLUMN expires_at BIGINT", kLocketTable));
        !s.ok()) {
      return s;
    }
  }
  prepared_ = true;
  return Status::Ok();
}

Status SqlLocketRegistry::InTransaction(bool write, const std::function<Status()>& body) {
  Status status;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(kRetryPause);
    status = Prepare();
    if (status.ok() && !write) {
      // One statement in autocommit: nothing to begin, commit or roll back.
      status = body();
      if (status.ok() || status.code() != ErrorCode::kUnknownError) return status;
      if (!connection_->retryable()) return status;
      continue;
    }
    if (status.ok()) status = connection_->Exec(connection_->BeginWrite());
    if (status.ok()) {
      status = body();
      if (status.ok()) {
        status = connection_->Exec("COMMIT");
        if (status.ok()) return status;
      }
      bool retryable = connection_->retryable();
      (void)connection_->Exec("ROLLBACK");
      // An answer (collision, not found, ...) rather than a database failure.
      if (status.code() != ErrorCode::kUnknownError) return status;
      if (!retryable) return status;
      continue;
    }
    if (!connection_->retryable()) return status;
  }
  return status;
}

namespace {
std::string Live(const std::string& now) {
  return "(expires_at IS NULL OR expires_at > " + now + ")";
}
std::string Expired(const std::string& now) {
  return "(expires_at IS NOT NULL AND expires_at <= " + now + ")";
}
}  // namespace

Status SqlLocketRegistry::Lock(const LocketResource& resource, int64_t ttl_seconds) {
  if (!IsValidType(resource.type)) return InvalidType();
  if (ttl_seconds <= 0) return Status(ErrorCode::kInvalidRequest, "invalid-ttl");
  if (resource.owner.empty()) return Status(ErrorCode::kInvalidRequest, "invalid-owner");
  std::lock_guard lock(mu_);
  bool created = false;
  Status status = InTransaction(/*write=*/true, [&]() -> Status {
    created = false;
    Connection& c = *connection_;
    std::string now = Now();
    std::string key = c.Quote(resource.key);
    std::string expires =
        fmt::format("{} + {}", now, std::min(ttl_seconds, kMaxTtlSeconds) * 1000000);
    std::string fields =
        fmt::format("owner = {}, value = {}, type = {}, ttl = {}, expires_at = {}",
                    c.Quote(resource.owner), c.Quote(resource.value),
                    c.Quote(cells::ResourceTypeName(resource.type)), ttl_seconds, expires);
    auto rows =
        c.Query(fmt::format("SELECT owner, CASE WHEN {} THEN 1 ELSE 0 END FROM {} WHERE "
                            "path = {}{}",
                            Expired(now), kLocketTable, key, c.ForUpdate()));
    if (!rows.ok()) return rows.status();
    if (rows->empty()) {
      created = true;
      return c.Exec(
          fmt::format("INSERT INTO {} (path, owner, value, type, modified_index, modified_id, ttl, "
                      "expires_at) VALUES ({}, {}, {}, {}, 1, {}, {}, {})",
                      kLocketTable, key, c.Quote(resource.owner), c.Quote(resource.value),
                      c.Quote(cells::ResourceTypeName(resource.type)), c.Quote(guids_.NewGuid()),
                      ttl_seconds, expires));
    }
    const Row& row = rows->front();
    std::string holder = row[0].value_or("");
    if (row[1] == "1") {
      // Expired: gone, as if deleted; the key is free for anyone, as a new resource.
      created = true;
      return c.Exec(
          fmt::format("UPDATE {} SET {}, modified_index = 1, modified_id = {} WHERE "
                      "path = {}",
                      kLocketTable, fields, c.Quote(guids_.NewGuid()), key));
    }
    // A legacy row without owner is taken over as a refresh (locket.md §5.1).
    if (!holder.empty() && holder != resource.owner) return LockCollision();
    return c.Exec(
        fmt::format("UPDATE {} SET {}, modified_index = modified_index + 1 WHERE path = {}",
                    kLocketTable, fields, key));
  });
  if (status.ok() && created) {
    logger_.Info("acquired-lock", {{"key", resource.key},
                                   {"owner", resource.owner},
                                   {"type", cells::ResourceTypeName(resource.type)},
                                   {"ttl", ttl_seconds}});
  }
  return status;
}

Status SqlLocketRegistry::Release(const std::string& key, const std::string& owner) {
  std::lock_guard lock(mu_);
  bool released = false;
  Status status = InTransaction(/*write=*/true, [&]() -> Status {
    released = false;
    Connection& c = *connection_;
    std::string quoted = c.Quote(key);
    auto rows = c.Query(fmt::format("SELECT owner FROM {} WHERE path = {} AND {}{}", kLocketTable,
                                    quoted, Live(Now()), c.ForUpdate()));
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return Status::Ok();  // missing (or expired): nothing to release
    if (rows->front()[0].value_or("") != owner) return LockCollision();
    released = true;
    return c.Exec(fmt::format("DELETE FROM {} WHERE path = {}", kLocketTable, quoted));
  });
  if (status.ok() && released) logger_.Info("released-lock", {{"key", key}, {"owner", owner}});
  return status;
}

Result<LocketResource> SqlLocketRegistry::Fetch(const std::string& key) {
  std::lock_guard lock(mu_);
  std::optional<LocketResource> found;
  Status status = InTransaction(/*write=*/false, [&]() -> Status {
    Connection& c = *connection_;
    auto rows =
        c.Query(fmt::format("SELECT owner, value, type FROM {} WHERE path = {} AND owner "
                            "IS NOT NULL AND owner <> '' AND {}",
                            kLocketTable, c.Quote(key), Live(Now())));
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return ResourceNotFound();
    const Row& row = rows->front();
    found = LocketResource{key, row[0].value_or(""), row[1].value_or(""), TypeFromName(row[2])};
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return *found;
}

Result<std::vector<LocketResource>> SqlLocketRegistry::FetchAll(ResourceType type) {
  if (!IsValidType(type)) return InvalidType();
  std::lock_guard lock(mu_);
  if (auto expired = ExpireLocked(); !expired.ok()) {
    logger_.Error("expire-failed", expired.status().message());
  }
  std::vector<LocketResource> resources;
  Status status = InTransaction(/*write=*/false, [&]() -> Status {
    resources.clear();
    Connection& c = *connection_;
    auto rows =
        c.Query(fmt::format("SELECT path, owner, value FROM {} WHERE type = {} AND owner "
                            "IS NOT NULL AND owner <> '' AND {}",
                            kLocketTable, c.Quote(cells::ResourceTypeName(type)), Live(Now())));
    if (!rows.ok()) return rows.status();
    for (Row& row : *rows) {
      resources.push_back(
          LocketResource{row[0].value_or(""), row[1].value_or(""), row[2].value_or(""), type});
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  std::sort(resources.begin(), resources.end(),
            [](const LocketResource& a, const LocketResource& b) { return a.key < b.key; });
  return resources;
}

size_t SqlLocketRegistry::ExpireNow() {
  std::lock_guard lock(mu_);
  auto expired = ExpireLocked();
  if (!expired.ok()) {
    logger_.Error("expire-failed", expired.status().message());
    return 0;
  }
  return *expired;
}

Result<size_t> SqlLocketRegistry::ExpireLocked() {
  std::vector<Row> due;
  Status status = InTransaction(/*write=*/false, [&]() -> Status {
    auto rows = connection_->Query(
        fmt::format("SELECT path, owner, type, ttl, modified_id, modified_index FROM {} WHERE {}",
                    kLocketTable, Expired(Now())));
    if (!rows.ok()) return rows.status();
    due = std::move(*rows);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  size_t deleted = 0;
  for (const Row& row : due) {
    int64_t affected = 0;
    // Only if nobody refreshed or re-created it meanwhile (another process may be sweeping too).
    status = InTransaction(/*write=*/false, [&]() -> Status {
      Connection& c = *connection_;
      return c.Exec(fmt::format("DELETE FROM {} WHERE path = {} AND modified_id = {} AND "
                                "modified_index = {} AND {}",
                                kLocketTable, c.Quote(row[0].value_or("")),
                                c.Quote(row[4].value_or("")), row[5].value_or("0"), Expired(Now())),
                    &affected);
    });
    if (!status.ok()) return status;
    if (affected != 1) continue;
    ++deleted;
    ResourceType type = TypeFromName(row[2]);
    (type == ResourceType::kLock ? locks_expired_ : presences_expired_) += 1;
    logger_.Info("lock-expired", {{"key", row[0].value_or("")},
                                  {"owner", row[1].value_or("")},
                                  {"type", row[2].value_or("")},
                                  {"ttl", std::stoll(row[3].value_or("0"))}});
  }
  return deleted;
}

}  // namespace bbs::storage::sql
