#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bbs/base/status.h"

struct pg_conn;
struct st_mysql;

// Opening connections to PostgreSQL (libpq) and MySQL (MariaDB C client), shared by the stores
// and the lease lock so that TLS and the error texts are the same everywhere.
namespace bbs::storage::sql {

// TLS for either server: off without a CA file; with one, the server's certificate is checked
// against it, and its name too when `verify_identity`.
struct SqlTls {
  std::string ca_cert_file;
  bool verify_identity = true;
};

// Connects to the postgres URL `url`. `application_name` is a default that the URL may
// override; `settings` (libpq keywords) override the URL. Fails with UnknownError
// "<what>: cannot connect: <libpq's message on one line>" (no credentials).
Result<pg_conn*> ConnectPostgres(const std::string& url, const std::string& application_name,
                                 const std::vector<std::pair<std::string, std::string>>& settings,
                                 const SqlTls& tls, std::string_view what);

// libpq's multi-line messages on one line ("\n\t" becomes "; ").
std::string PostgresOneLine(std::string text);

// Connects to the Go-style DSN `dsn` (ParseMysqlDsn) with utf8mb4, the given timeouts in whole
// seconds and client `flags`. Fails with InvalidRequest for a bad DSN and UnknownError
// "<what>: cannot connect: <message>" otherwise.
struct MysqlTimeouts {
  unsigned int connect = 0;
  unsigned int read = 0;
  unsigned int write = 0;
};
Result<st_mysql*> ConnectMysql(const std::string& dsn, const MysqlTimeouts& timeouts,
                               const SqlTls& tls, unsigned long flags, std::string_view what);

// `value` as a single-quoted MySQL string literal, escaped for the connection's character set.
std::string QuoteMysql(st_mysql* conn, std::string_view value);

}  // namespace bbs::storage::sql
