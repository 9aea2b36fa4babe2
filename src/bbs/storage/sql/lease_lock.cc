#include "bbs/storage/sql/lease_lock.h"

#include <errmsg.h>
#include <libpq-fe.h>
#include <mysql.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "bbs/storage/mysql/mysql_store.h"
#include "bbs/storage/sql/connect.h"

namespace bbs::storage::sql {

Status LeaseLostError(const LeaseFence& fence, int64_t epoch) {
  return Status(ErrorCode::kUnrecoverable,
                fmt::format("lost the leader lease: the {} row no longer names owner '{}' with "
                            "epoch {}, or it expired",
                            kLeaseTable, fence.owner, epoch));
}

std::string PostgresFenceStatement(const LeaseFence& fence, int64_t epoch) {
  std::string owner;
  for (char c : fence.owner) {
    owner += c;
    if (c == '\'') owner += c;
  }
  return fmt::format(
      "DO $bbs_fence$ BEGIN PERFORM 1 FROM {} WHERE name = '{}' AND owner = '{}' AND epoch = {} "
      "AND expires_at > now() FOR SHARE; IF NOT FOUND THEN RAISE EXCEPTION USING ERRCODE = "
      "'{}', MESSAGE = 'lost the leader lease (epoch {})'; END IF; END $bbs_fence$",
      kLeaseTable, kLeaseName, owner, epoch, kPostgresFenceSqlState, epoch);
}

std::string MysqlFenceQuery(const std::string& quoted_owner, int64_t epoch) {
  return fmt::format(
      "SELECT epoch FROM {} WHERE name = '{}' AND owner = {} AND epoch = {} AND expires_at > "
      "UTC_TIMESTAMP(6) LOCK IN SHARE MODE",
      kLeaseTable, kLeaseName, quoted_owner, epoch);
}

namespace {

std::string OneLine(std::string text) { return PostgresOneLine(std::move(text)); }

int64_t Millis(std::chrono::milliseconds d) { return std::max<int64_t>(1, d.count()); }
int64_t Seconds(std::chrono::milliseconds d) {
  return std::max<int64_t>(1, (d.count() + 999) / 1000);
}

// The deleter of a C client's result: `Free` (PQclear, mysql_free_result).
template <auto Free>
struct FreeWith {
  template <typename T>
  void operator()(T* result) const {
    Free(result);
  }
};

// TryAcquire's transaction, the same in both dialects: the lease table is created once per
// connection, then AcquireInTransaction runs inside one transaction, committed only when it
// took the lease.
class TransactionalLeaseBackend : public LeaseBackend {
 public:
  std::string Description() const final {
    return fmt::format("{} table {} row '{}'", dialect_, kLeaseTable, kLeaseName);
  }

  Result<Attempt> TryAcquire(const std::string& owner, std::chrono::milliseconds ttl) final {
    if (Status s = EnsureConnected(); !s.ok()) return s;
    if (!table_created_) {
      if (Status s = Exec(create_table_); !s.ok()) return s;
      table_created_ = true;
    }
    if (Status s = Exec(begin_); !s.ok()) return s;
    Result<Attempt> attempt = AcquireInTransaction(owner, ttl);
    Status end = Exec(attempt.ok() && attempt.value().acquired ? "COMMIT" : "ROLLBACK");
    if (!attempt.ok()) return attempt.status();
    if (!end.ok()) return end;
    return attempt;
  }

 protected:
  // `dialect`: "postgres" or "mysql"; `timestamp_type`: the type of expires_at; `begin`: the
  // statement that starts a transaction.
  TransactionalLeaseBackend(const char* dialect, const char* timestamp_type, std::string begin,
                            SqlConnectionOptions options)
      : options_(std::move(options)),
        dialect_(dialect),
        create_table_(fmt::format("CREATE TABLE IF NOT EXISTS {} (name VARCHAR(255) PRIMARY KEY, "
                                  "owner VARCHAR(255) NOT NULL, epoch BIGINT NOT NULL, "
                                  "expires_at {} NOT NULL)",
                                  kLeaseTable, timestamp_type)),
        begin_(std::move(begin)) {}

  // The lease row as a transaction read it.
  struct Row {
    std::string holder;
    int64_t epoch = 0;
    bool expired = false;
  };

  virtual Status EnsureConnected() = 0;
  virtual Status Exec(const std::string& sql) = 0;
  // Reads the lease row and locks it for the transaction; nullopt when there is none.
  virtual Result<std::optional<Row>> LockRow() = 0;
  // Makes the row name `owner` at `epoch`, expiring `ttl` from now in database time: inserts it
  // when `insert`, else updates the row LockRow read.
  virtual Status TakeRow(bool insert, const std::string& owner, int64_t epoch,
                         std::chrono::milliseconds ttl) = 0;
  // A new connection creates the table again (it may be a new database).
  void Connected() { table_created_ = false; }

  const SqlConnectionOptions& options() const { return options_; }

 private:
  // Takes the row when it is missing, expired, or already ours (epoch + 1), else reports the
  // holder.
  Result<Attempt> AcquireInTransaction(const std::string& owner, std::chrono::milliseconds ttl) {
    Result<std::optional<Row>> row = LockRow();
    if (!row.ok()) return row.status();
    Attempt attempt;
    if (*row && !(*row)->expired && (*row)->holder != owner) {
      attempt.epoch = (*row)->epoch;
      attempt.holder = (*row)->holder;
      return attempt;
    }
    int64_t epoch = *row ? (*row)->epoch + 1 : 1;
    if (Status s = TakeRow(!*row, owner, epoch, ttl); !s.ok()) return s;
    attempt.acquired = true;
    attempt.epoch = epoch;
    return attempt;
  }

  const SqlConnectionOptions options_;
  const char* const dialect_;
  const std::string create_table_;
  const std::string begin_;
  bool table_created_ = false;
};

// --- PostgreSQL ---------------------------------------------------------------------------

using PgResult = std::unique_ptr<PGresult, FreeWith<PQclear>>;

class PostgresLeaseBackend final : public TransactionalLeaseBackend {
 public:
  explicit PostgresLeaseBackend(SqlConnectionOptions options)
      : TransactionalLeaseBackend("postgres", "TIMESTAMPTZ(6)", "BEGIN", std::move(options)) {}
  ~PostgresLeaseBackend() override { Close(); }

  Result<bool> Renew(const std::string& owner, int64_t epoch,
                     std::chrono::milliseconds ttl) override {
    if (Status s = EnsureConnected(); !s.ok()) return s;
    std::string epoch_text = std::to_string(epoch);
    std::string ttl_text = std::to_string(Millis(ttl));
    auto result = Query(fmt::format("UPDATE {} SET expires_at = now() + $3 * interval '1 "
                                    "millisecond' WHERE name = '{}' AND owner = $1 AND epoch = "
                                    "$2 AND expires_at > now()",
                                    kLeaseTable, kLeaseName),
                        {owner, epoch_text, ttl_text});
    if (!result.ok()) return result.status();
    return std::string_view(PQcmdTuples(result.value().get())) == "1";
  }

  Status Release(const std::string& owner, int64_t epoch) override {
    if (Status s = EnsureConnected(); !s.ok()) return s;
    // Expire the row rather than delete it, so that epochs keep growing across tenures.
    std::string epoch_text = std::to_string(epoch);
    auto result = Query(fmt::format("UPDATE {} SET expires_at = TIMESTAMPTZ '1970-01-01 "
                                    "00:00:00+00' WHERE name = '{}' AND owner = $1 AND epoch = $2",
                                    kLeaseTable, kLeaseName),
                        {owner, epoch_text});
    return result.ok() ? Status::Ok() : result.status();
  }

  Status HealthCheck(int64_t now) override {
    if (Status s = EnsureConnected(); !s.ok()) return s;
    std::string time = std::to_string(now);
    auto written = Query(
        "INSERT INTO bbs_health_check (id, time) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET "
        "time = excluded.time",
        {time});
    if (!written.ok()) return written.status();
    auto read = Query("SELECT time FROM bbs_health_check WHERE id = 1", {});
    if (!read.ok()) return read.status();
    if (PQntuples(read.value().get()) != 1 || time != PQgetvalue(read.value().get(), 0, 0)) {
      return UnknownError("postgres health check: row 1 of bbs_health_check was not written");
    }
    return Status::Ok();
  }

 private:
  Result<std::optional<Row>> LockRow() override {
    auto current = Query(fmt::format("SELECT owner, epoch, expires_at <= now() FROM {} WHERE name "
                                     "= '{}' FOR UPDATE",
                                     kLeaseTable, kLeaseName),
                         {});
    if (!current.ok()) return current.status();
    PGresult* row = current.value().get();
    if (PQntuples(row) == 0) return std::optional<Row>();
    return std::optional<Row>(Row{PQgetvalue(row, 0, 0), std::stoll(PQgetvalue(row, 0, 1)),
                                  PQgetvalue(row, 0, 2)[0] == 't'});
  }

  Status TakeRow(bool insert, const std::string& owner, int64_t /*epoch*/,
                 std::chrono::milliseconds ttl) override {
    // The epoch is 1 for a new row, and the locked row's + 1 (the same as `epoch`) for an update.
    std::string ttl_text = std::to_string(Millis(ttl));
    auto written =
        insert ? Query(fmt::format("INSERT INTO {} (name, owner, epoch, expires_at) VALUES "
                                   "('{}', $1, 1, now() + $2 * interval '1 millisecond')",
                                   kLeaseTable, kLeaseName),
                       {owner, ttl_text})
               : Query(fmt::format("UPDATE {} SET owner = $1, epoch = epoch + 1, expires_at = "
                                   "now() + $2 * interval '1 millisecond' WHERE name = '{}'",
                                   kLeaseTable, kLeaseName),
                       {owner, ttl_text});
    return written.ok() ? Status::Ok() : written.status();
  }

  Status EnsureConnected() override {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
    Close();
    std::string connect_timeout = std::to_string(std::max<int64_t>(2, Seconds(options().timeout)));
    std::string timeout_ms = std::to_string(Millis(options().timeout));
    auto conn =
        ConnectPostgres(options().connection_string, "bbs-lease",
                        {{"connect_timeout", connect_timeout},
                         {"keepalives", "1"},
                         {"keepalives_idle", "1"},
                         {"keepalives_interval", "1"},
                         {"keepalives_count", "3"},
                         {"tcp_user_timeout", timeout_ms}},
                        {options().ca_cert_file, options().verify_identity}, "postgres lease");
    if (!conn.ok()) return conn.status();
    conn_ = conn.value();
    Connected();
    if (Status s = Exec("SET client_min_messages = warning"); !s.ok()) return s;
    return Exec("SET statement_timeout = " + timeout_ms);
  }

  void Close() {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
  }

  Status Exec(const std::string& sql) override {
    auto result = Query(sql, {});
    return result.ok() ? Status::Ok() : result.status();
  }

  Result<PgResult> Query(const std::string& sql, const std::vector<std::string>& params) {
    if (conn_ == nullptr) return UnknownError("postgres lease: connection lost");
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PgResult result(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0));
    ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      std::string message = OneLine(PQerrorMessage(conn_));
      if (PQstatus(conn_) != CONNECTION_OK) Close();
      return UnknownError("postgres lease: " + message);
    }
    return result;
  }

  pg_conn* conn_ = nullptr;
};

// --- MySQL --------------------------------------------------------------------------------

using MyResult = std::unique_ptr<MYSQL_RES, FreeWith<mysql_free_result>>;

class MysqlLeaseBackend final : public TransactionalLeaseBackend {
 public:
  explicit MysqlLeaseBackend(SqlConnectionOptions options)
      : TransactionalLeaseBackend("mysql", "DATETIME(6)", "START TRANSACTION", std::move(options)) {
  }
  ~MysqlLeaseBackend() override { Close(); }

  Result<bool> Renew(const std::string& owner, int64_t epoch,
                     std::chrono::milliseconds ttl) override {
    if (Status s = EnsureConnected(); !s.ok()) return s;
    if (Status s = Exec(fmt::format(
            "UPDATE {} SET expires_at = UTC_TIMESTAMP(6) + INTERVAL {} MICROSECOND WHERE name = "
            "'{}' AND owner = {} AND epoch = {} AND expires_at > UTC_TIMESTAMP(6)",
            kLeaseTable, Millis(ttl) * 1000, kLeaseName, Quote(owner), epoch));
        !s.ok()) {
      return s;
    }
    return mysql_affected_rows(conn_) == 1;  // CLIENT_FOUND_ROWS: rows matched
  }

  Status Release(const std::string& owner, int64_t epoch) override {
    if (Status s = EnsureConnected(); !s.ok()) return s;
    return Exec(
        fmt::format("UPDATE {} SET expires_at = '1970-01-01 00:00:00' WHERE name = '{}' "
                    "AND owner = {} AND epoch = {}",
                    kLeaseTable, kLeaseName, Quote(owner), epoch));
  }

  Status HealthCheck(int64_t now) override {
    if (Status s = EnsureConnected(); !s.ok()) return s;
    if (Status s = Exec(fmt::format("INSERT INTO bbs_health_check (id, time) VALUES (1, {}) ON "
                                    "DUPLICATE KEY UPDATE time = VALUES(time)",
                                    now));
        !s.ok()) {
      return s;
    }
    if (conn_ == nullptr) return UnknownError("mysql health check: connection lost");
    if (mysql_query(conn_, "SELECT time FROM bbs_health_check WHERE id = 1") != 0) return Fail();
    MyResult result(mysql_store_result(conn_));
    if (result == nullptr) return Fail();
    MYSQL_ROW row = mysql_fetch_row(result.get());
    if (row == nullptr || row[0] == nullptr || std::to_string(now) != row[0]) {
      return UnknownError("mysql health check: row 1 of bbs_health_check was not written");
    }
    return Status::Ok();
  }

 private:
  Result<std::optional<Row>> LockRow() override {
    if (conn_ == nullptr) return UnknownError("mysql lease: connection lost");
    if (mysql_query(conn_, fmt::format("SELECT owner, epoch, expires_at <= UTC_TIMESTAMP(6) FROM "
                                       "{} WHERE name = '{}' FOR UPDATE",
                                       kLeaseTable, kLeaseName)
                               .c_str()) != 0) {
      return Fail();
    }
    MyResult result(mysql_store_result(conn_));
    if (result == nullptr) return Fail();
    MYSQL_ROW row = mysql_fetch_row(result.get());
    if (row == nullptr) return std::optional<Row>();
    return std::optional<Row>(Row{row[0] != nullptr ? row[0] : "",
                                  row[1] != nullptr ? std::stoll(row[1]) : 0,
                                  row[2] != nullptr && row[2][0] == '1'});
  }

  Status TakeRow(bool insert, const std::string& owner, int64_t epoch,
                 std::chrono::milliseconds ttl) override {
    std::string expires =
        fmt::format("UTC_TIMESTAMP(6) + INTERVAL {} MICROSECOND", Millis(ttl) * 1000);
    if (insert) {
      return Exec(
          fmt::format("INSERT INTO {} (name, owner, epoch, expires_at) VALUES "
                      "('{}', {}, {}, {})",
                      kLeaseTable, kLeaseName, Quote(owner), epoch, expires));
    }
    return Exec(
        fmt::format("UPDATE {} SET owner = {}, epoch = {}, expires_at = {} WHERE "
                    "name = '{}'",
                    kLeaseTable, Quote(owner), epoch, expires, kLeaseName));
  }

  Status EnsureConnected() override {
    if (conn_ != nullptr) return Status::Ok();
    unsigned int timeout = static_cast<unsigned int>(Seconds(options().timeout));
    auto conn = ConnectMysql(options().connection_string, {timeout, timeout, timeout},
                             {options().ca_cert_file, options().verify_identity}, CLIENT_FOUND_ROWS,
                             "mysql lease");
    if (!conn.ok()) return conn.status();
    conn_ = conn.value();
    Connected();
    return Exec(fmt::format("SET SESSION innodb_lock_wait_timeout = {}", timeout));
  }

  void Close() {
    if (conn_ != nullptr) mysql_close(conn_);
    conn_ = nullptr;
  }

  Status Fail() {
    Status s =
        UnknownError(fmt::format("mysql lease: {} ({})", mysql_error(conn_), mysql_errno(conn_)));
    Close();  // a fresh connection next time (also ends an open transaction)
    return s;
  }

  Status Exec(const std::string& sql) override {
    if (conn_ == nullptr) return UnknownError("mysql lease: connection lost");
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) return Fail();
    MyResult result(mysql_store_result(conn_));
    if (result == nullptr && mysql_field_count(conn_) != 0) return Fail();
    return Status::Ok();
  }

  std::string Quote(const std::string& value) { return QuoteMysql(conn_, value); }

  st_mysql* conn_ = nullptr;
};

}  // namespace

std::unique_ptr<LeaseBackend> MakePostgresLeaseBackend(SqlConnectionOptions options) {
  return std::make_unique<PostgresLeaseBackend>(std::move(options));
}

std::unique_ptr<LeaseBackend> MakeMysqlLeaseBackend(SqlConnectionOptions options) {
  return std::make_unique<MysqlLeaseBackend>(std::move(options));
}

// --- SqlLeaseLock -------------------------------------------------------------------------

SqlLeaseLock::SqlLeaseLock(std::unique_ptr<LeaseBackend> backend, std::string owner,
                           SqlLeaseLockOptions options, Logger logger)
    : FencedLeaseLock(std::move(owner), options.retry_interval, std::move(logger)),
      options_(options),
      backend_(std::move(backend)) {}

Result<LeaseAttempt> SqlLeaseLock::TryAcquire() {
  std::lock_guard lock(backend_mu_);
  return backend_->TryAcquire(owner(), options_.ttl);
}

Status SqlLeaseLock::Renew(int64_t epoch) {
  Result<bool> renewed = [&] {
    std::lock_guard lock(backend_mu_);
    return backend_->Renew(owner(), epoch, options_.ttl);
  }();
  if (renewed.ok() && renewed.value()) return Status::Ok();
  return Status(ErrorCode::kUnrecoverable,
                renewed.ok() ? "the lease was taken over or expired before it was renewed"
                             : "renewing the lease failed: " + renewed.status().message());
}

Status SqlLeaseLock::GiveBack(int64_t epoch) {
  std::lock_guard lock(backend_mu_);
  return backend_->Release(owner(), epoch);
}

std::string SqlLeaseLock::Description() const {
  return fmt::format("{} owned by {}", backend_->Description(), owner());
}

}  // namespace bbs::storage::sql
