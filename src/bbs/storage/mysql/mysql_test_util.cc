#include "bbs/storage/mysql/mysql_test_util.h"

#include <mysql.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

namespace bbs::storage::testing {
namespace {

// Connects to the DSN form the test server prints: user:pass@tcp(host:port)/db.
MYSQL* Connect(const std::string& dsn) {
  size_t colon = dsn.find(':');
  size_t at = dsn.find('@');
  size_t open = dsn.find('(');
  size_t port_colon = dsn.find(':', open);
  size_t close = dsn.find(')');
  size_t slash = dsn.find('/', close);
  std::string user = dsn.substr(0, colon);
  std::string password = dsn.substr(colon + 1, at - colon - 1);
  std::string host = dsn.substr(open + 1, port_colon - open - 1);
  unsigned int port =
      static_cast<unsigned int>(std::stoi(dsn.substr(port_colon + 1, close - port_colon - 1)));
  std::string db = dsn.substr(slash + 1);
  MYSQL* conn = mysql_init(nullptr);
  if (mysql_real_connect(conn, host.c_str(), user.c_str(), password.c_str(), db.c_str(), port,
                         nullptr, CLIENT_MULTI_STATEMENTS) == nullptr) {
    ADD_FAILURE() << "cannot connect to " << dsn << ": " << mysql_error(conn);
  }
  mysql_set_character_set(conn, "utf8mb4");
  return conn;
}

}  // namespace

std::string MysqlTestDsn() {
  const char* dsn = std::getenv("BBS_TEST_MYSQL_URL");
  return dsn != nullptr ? dsn : "";
}

void MysqlExec(const std::string& dsn, const std::string& sql) {
  MYSQL* conn = Connect(dsn);
  EXPECT_EQ(mysql_real_query(conn, sql.data(), sql.size()), 0) << sql << ": " << mysql_error(conn);
  do {
    MYSQL_RES* result = mysql_store_result(conn);
    if (result != nullptr) {
      mysql_free_result(result);
    }
  } while (mysql_next_result(conn) == 0);
  EXPECT_EQ(mysql_errno(conn), 0u) << sql << ": " << mysql_error(conn);
  mysql_close(conn);
}

std::vector<std::string> MysqlColumn(const std::string& dsn, const std::string& sql) {
  std::vector<std::string> out;
  MYSQL* conn = Connect(dsn);
  EXPECT_EQ(mysql_query(conn, sql.c_str()), 0) << sql << ": " << mysql_error(conn);
  if (MYSQL_RES* result = mysql_store_result(conn)) {
    while (MYSQL_ROW row = mysql_fetch_row(result)) {
      out.emplace_back(row[0] != nullptr ? row[0] : "NULL");
    }
    mysql_free_result(result);
  }
  mysql_close(conn);
  return out;
}

std::string MysqlDsnWithFreshDatabase(const std::string& seed) {
  std::string name = "t_";
  for (char c : seed) {
    name += std::isalnum(static_cast<unsigned char>(c)) != 0
                ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                : '_';
  }
  name = name.substr(0, 60);
  std::string base = MysqlTestDsn();
  MysqlExec(base, "DROP DATABASE IF EXISTS " + name + "; CREATE DATABASE " + name +
                      " DEFAULT CHARSET = utf8mb4");
  return base.substr(0, base.rfind('/') + 1) + name;
}

}  // namespace bbs::storage::testing
