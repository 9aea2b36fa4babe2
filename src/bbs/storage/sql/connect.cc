#include "bbs/storage/sql/connect.h"

#include <libpq-fe.h>
#include <mysql.h>

#include <algorithm>

#include "bbs/storage/mysql/mysql_store.h"

namespace bbs::storage::sql {

std::string PostgresOneLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) {
    text.pop_back();
  }
  for (size_t at; (at = text.find("\n\t")) != std::string::npos;) {
    text.replace(at, 2, "; ");
  }
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.pop_back();
  }
  return text;
}

Result<pg_conn*> ConnectPostgres(const std::string& url, const std::string& application_name,
                                 const std::vector<std::pair<std::string, std::string>>& settings,
                                 const SqlTls& tls, std::string_view what) {
  // Keywords before "dbname" are defaults that the URL may override; those after override it.
  std::vector<const char*> keys = {"application_name", "dbname"};
  std::vector<const char*> values = {application_name.c_str(), url.c_str()};
  for (const auto& [key, value] : settings) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  const char* mode = tls.verify_identity ? "verify-full" : "verify-ca";
  if (!tls.ca_cert_file.empty()) {
    keys.push_back("sslmode");
    values.push_back(mode);
    keys.push_back("sslrootcert");
    values.push_back(tls.ca_cert_file.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  pg_conn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    std::string message = conn != nullptr ? PostgresOneLine(PQerrorMessage(conn)) : "out of memory";
    if (conn != nullptr) PQfinish(conn);
    return UnknownError(std::string(what) + ": cannot connect: " + message);
  }
  return conn;
}

Result<st_mysql*> ConnectMysql(const std::string& dsn, const MysqlTimeouts& timeouts,
                               const SqlTls& tls, unsigned long flags, std::string_view what) {
  auto parsed = ParseMysqlDsn(dsn);
  if (!parsed.ok()) {
    return parsed.status();
  }
  MYSQL* conn = mysql_init(nullptr);
  if (conn == nullptr) {
    return UnknownError(std::string(what) + ": out of memory");
  }
  mysql_optionsv(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeouts.connect);
  mysql_optionsv(conn, MYSQL_OPT_READ_TIMEOUT, &timeouts.read);
  mysql_optionsv(conn, MYSQL_OPT_WRITE_TIMEOUT, &timeouts.write);
  mysql_optionsv(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (!tls.ca_cert_file.empty()) {
    my_bool verify = tls.verify_identity ? 1 : 0;
    mysql_optionsv(conn, MYSQL_OPT_SSL_CA, tls.ca_cert_file.c_str());
    mysql_optionsv(conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
  }
  const MysqlDsn& d = parsed.value();
  if (mysql_real_connect(conn, d.host.c_str(), d.user.c_str(), d.password.c_str(),
                         d.database.c_str(), d.port, d.socket.empty() ? nullptr : d.socket.c_str(),
                         flags) == nullptr) {
    std::string message = mysql_error(conn);
    mysql_close(conn);
    return UnknownError(std::string(what) + ": cannot connect: " + message);
  }
  return conn;
}

std::string QuoteMysql(st_mysql* conn, std::string_view value) {
  std::string out(value.size() * 2 + 3, '\0');
  out[0] = '\'';
  unsigned long n = mysql_real_escape_string(conn, out.data() + 1, value.data(), value.size());
  out.resize(n + 1);
  out.push_back('\'');
  return out;
}

}  // namespace bbs::storage::sql
