#include "bbs/storage/sql/lease_lock.h"

#include <errmsg.h>
#include <libpq-fe.h>
#include <mysql.h>

#include <algorithm>
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

// TryAcquire's transaction, the same in both dialects: the lease table is created once per
// connection, then AcquireInTransaction runs inside one transaction, committed only when it
// took the lease.
class TransactionalLeaseBackend : public LeaseBackend {
 public:
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
  TransactionalLeaseBackend(std::string create_table, std::string begin)
      : create_table_(std::move(create_table)), begin_(std::move(begin)) {}

  virtual Status EnsureConnected() = 0;
  virtual Status Exec(const std::string& sql) = 0;
  virtual Result<Attempt> AcquireInTransaction(const std::string& owner,
                                               std::chrono::milliseconds ttl) = 0;
  // A new connection creates the table again (it may be a new database).
  void Connected() { table_created_ = false; }

 private:
  const std::string create_table_;
  const std::string begin_;
  bool table_created_ = false;
};

// --- PostgreSQL ---------------------------------------------------------------------------

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

class PostgresLeaseBackend final : public TransactionalLeaseBackend {
 public:
  explicit PostgresLeaseBackend(SqlConnectionOptions options)
      : TransactionalLeaseBackend(
            fmt::format("CREATE TABLE IF NOT EXISTS {} (name VARCHAR(255) PRIMARY KEY, owner "
                        "VARCHAR(255) NOT NULL, epoch BIGINT NOT NULL, expires_at TIMESTAMPTZ(6) "
                        "NOT NULL)",
                        kLeaseTable),
            "BEGIN"),
        options_(std::move(options)) {}
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

  std::string Description() const override {
    return fmt::format("postgres table {} row '{}'", kLeaseTable, kLeaseName);
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
  Result<Attempt> AcquireInTransaction(const std::string& owner,
                                       std::chrono::milliseconds ttl) override {
    auto current = Query(fmt::format("SELECT owner, epoch, expires_at <= now() FROM {} WHERE name "
                                     "= '{}' FOR UPDATE",
                                     kLeaseTable, kLeaseName),
                         {});
    if (!current.ok()) return current.status();
    PGresult* row = current.value().get();
    std::string ttl_text = std::to_string(Millis(ttl));
    Attempt attempt;
    if (PQntuples(row) == 0) {
      auto inserted = Query(fmt::format("INSERT INTO {} (name, owner, epoch, expires_at) VALUES "
                                        "('{}', $1, 1, now() + $2 * interval '1 millisecond')",
                                        kLeaseTable, kLeaseName),
                            {owner, ttl_text});
      if (!inserted.ok()) return inserted.status();
      attempt.acquired = true;
      attempt.epoch = 1;
      return attempt;
    }
    std::string holder = PQgetvalue(row, 0, 0);
    int64_t epoch = std::stoll(PQgetvalue(row, 0, 1));
    bool expired = PQgetvalue(row, 0, 2)[0] == 't';
    if (!expired && holder != owner) {
      attempt.epoch = epoch;
      attempt.holder = holder;
      return attempt;
    }
    auto updated = Query(fmt::format("UPDATE {} SET owner = $1, epoch = epoch + 1, expires_at = "
                                     "now() + $2 * interval '1 millisecond' WHERE name = '{}'",
                                     kLeaseTable, kLeaseName),
                         {owner, ttl_text});
    if (!updated.ok()) return updated.status();
    attempt.acquired = true;
    attempt.epoch = epoch + 1;
    return attempt;
  }

  Status EnsureConnected() override {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
    Close();
    std::string connect_timeout = std::to_string(std::max<int64_t>(2, Seconds(options_.timeout)));
    std::string timeout_ms = std::to_string(Millis(options_.timeout));
    auto conn =
        ConnectPostgres(options_.connection_string, "bbs-lease",
                        {{"connect_timeout", connect_timeout},
                         {"keepalives", "1"},
                         {"keepalives_idle", "1"},
                         {"keepalives_interval", "1"},
                         {"keepalives_count", "3"},
                         {"tcp_user_timeout", timeout_ms}},
                        {options_.ca_cert_file, options_.verify_identity}, "postgres lease");
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

  const SqlConnectionOptions options_;
  pg_conn* conn_ = nullptr;
};

// --- MySQL --------------------------------------------------------------------------------

struct MyResultDeleter {
  void operator()(MYSQL_RES* r) const { mysql_free_result(r); }
};
using MyResult = std::unique_ptr<MYSQL_RES, MyResultDeleter>;

class MysqlLeaseBackend final : public TransactionalLeaseBackend {
 public:
  explicit MysqlLeaseBackend(SqlConnectionOptions options)
      : TransactionalLeaseBackend(
            fmt::format("CREATE TABLE IF NOT EXISTS {} (name VARCHAR(255) PRIMARY KEY, owner "
                        "VARCHAR(255) NOT NULL, epoch BIGINT NOT NULL, expires_at DATETIME(6) "
                        "NOT NULL)",
                        kLeaseTable),
            "START TRANSACTION"),
        options_(std::move(options)) {}
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

  std::string Description() const override {
    return fmt::format("mysql table {} row '{}'", kLeaseTable, kLeaseName);
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
  Result<Attempt> AcquireInTransaction(const std::string& owner,
                                       std::chrono::milliseconds ttl) override {
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
    std::string expires =
        fmt::format("UTC_TIMESTAMP(6) + INTERVAL {} MICROSECOND", Millis(ttl) * 1000);
    Attempt attempt;
    if (row == nullptr) {
      if (Status s = Exec(fmt::format("INSERT INTO {} (name, owner, epoch, expires_at) VALUES "
                                      "('{}', {}, 1, {})",
                                      kLeaseTable, kLeaseName, Quote(owner), expires));
          !s.ok()) {
        return s;
      }
      attempt.acquired = true;
      attempt.epoch = 1;
      return attempt;
    }
    std::string holder = row[0] != nullptr ? row[0] : "";
    int64_t epoch = row[1] != nullptr ? std::stoll(row[1]) : 0;
    bool expired = row[2] != nullptr && row[2][0] == '1';
    if (!expired && holder != owner) {
      attempt.epoch = epoch;
      attempt.holder = holder;
      return attempt;
    }
    if (Status s = Exec(fmt::format("UPDATE {} SET owner = {}, epoch = {}, expires_at = {} WHERE "
                                    "name = '{}'",
                                    kLeaseTable, Quote(owner), epoch + 1, expires, kLeaseName));
        !s.ok()) {
      return s;
    }
    attempt.acquired = true;
    attempt.epoch = epoch + 1;
    return attempt;
  }

  Status EnsureConnected() override {
    if (conn_ != nullptr) return Status::Ok();
    unsigned int timeout = static_cast<unsigned int>(Seconds(options_.timeout));
    auto conn = ConnectMysql(options_.connection_string, {timeout, timeout, timeout},
                             {options_.ca_cert_file, options_.verify_identity}, CLIENT_FOUND_ROWS,
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

  const SqlConnectionOptions options_;
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
