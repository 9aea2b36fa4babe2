#pragma once

#include <string>

// Helpers for tests against the private PostgreSQL server of scripts/servers/postgres.sh.
namespace bbs::storage::testing {

// $BBS_TEST_POSTGRES_URL, or "" when no server was started (tests then GTEST_SKIP).
std::string PostgresTestUrl();

// Creates a fresh schema named after `seed` (sanitised) and returns a URL whose connections use
// it, so that tests running in parallel never see each other's tables.
std::string PostgresUrlWithFreshSchema(const std::string& seed);

// Runs `sql` on the test server with search_path set to the schema of `url` (fails the test
// on error).
void PostgresExec(const std::string& url, const std::string& sql);

}  // namespace bbs::storage::testing
