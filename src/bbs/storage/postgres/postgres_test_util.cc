#include "bbs/storage/postgres/postgres_test_util.h"

#include <libpq-fe.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

namespace bbs::storage::testing {

std::string PostgresTestUrl() {
  const char* url = std::getenv("BBS_TEST_POSTGRES_URL");
  return url != nullptr ? url : "";
}

void PostgresExec(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* result = PQexec(conn, sql.c_str());
  EXPECT_TRUE(PQresultStatus(result) == PGRES_COMMAND_OK ||
              PQresultStatus(result) == PGRES_TUPLES_OK)
      << sql << ": " << PQerrorMessage(conn);
  PQclear(result);
  PQfinish(conn);
}

std::string PostgresUrlWithFreshSchema(const std::string& seed) {
  std::string schema = "t_";
  for (char c : seed) {
    schema += (std::isalnum(static_cast<unsigned char>(c)) != 0)
                  ? static_cast<char>(std::tolower(c))
                  : '_';
  }
  schema = schema.substr(0, 60);
  std::string base = PostgresTestUrl();
  PostgresExec(base, "DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema);
  return base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         schema;
}

}  // namespace bbs::storage::testing

namespace bbs::storage::testing {}  // namespace bbs::storage::testing
