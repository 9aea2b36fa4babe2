#pragma once

#include <string>
#include <vector>

// Helpers for tests against the private MariaDB server of scripts/servers/mariadb.sh.
namespace bbs::storage::testing {

// $BBS_TEST_MYSQL_URL (user:pass@tcp(host:port)/db), or "" when no server was started.
std::string MysqlTestDsn();

// Creates a fresh database named after `seed` (sanitised) and returns a DSN that uses it.
std::string MysqlDsnWithFreshDatabase(const std::string& seed);

// Runs `sql` (statements separated by ';') in the database of `dsn`; fails the test on error.
void MysqlExec(const std::string& dsn, const std::string& sql);
// The first column of the rows of `sql`.
std::vector<std::string> MysqlColumn(const std::string& dsn, const std::string& sql);

}  // namespace bbs::storage::testing
