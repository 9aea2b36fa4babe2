#include "bbs/storage/sql/schema.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace bbs::storage::sql {
namespace {

struct DialectCase {
  Dialect dialect;
  const char* name;
};

// The text each backend sent before the statements were rendered from one description.
std::string Golden(const std::string& file) {
  std::ifstream in(std::string(BBS_SQL_TESTDATA_DIR) + "/" + file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class SchemaTest : public ::testing::TestWithParam<DialectCase> {};

TEST_P(SchemaTest, RendersTheRecordTablesExactlyAsTheBackendCreatedThem) {
  EXPECT_EQ(CreateRecordTablesSql(GetParam().dialect),
            Golden(std::string("create_tables_") + GetParam().name + ".txt"));
}

INSTANTIATE_TEST_SUITE_P(Dialects, SchemaTest,
                         ::testing::Values(DialectCase{Dialect::kSqlite, "sqlite"},
                                           DialectCase{Dialect::kPostgres, "postgres"},
                                           DialectCase{Dialect::kMysql, "mysql"}),
                         [](const auto& info) { return std::string(info.param.name); });

class UpsertTest : public ::testing::TestWithParam<DialectCase> {};

TEST_P(UpsertTest, RendersTheUpsertOfEachTableAsTheBackendSentIt) {
  std::string rendered;
  for (const Table& table : RecordTables()) {
    rendered += UpsertSql(GetParam().dialect, table) + "\n";
  }
  EXPECT_EQ(rendered, Golden(std::string("upserts_") + GetParam().name + ".txt"));
}

INSTANTIATE_TEST_SUITE_P(Dialects, UpsertTest,
                         ::testing::Values(DialectCase{Dialect::kPostgres, "postgres"},
                                           DialectCase{Dialect::kMysql, "mysql"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SchemaTest, NamesTheFourRecordTablesInCreationOrder) {
  EXPECT_STREQ(DomainsTable().name, "domains");
  EXPECT_STREQ(DesiredLrpsTable().name, "desired_lrps");
  EXPECT_STREQ(ActualLrpsTable().name, "actual_lrps");
  EXPECT_STREQ(TasksTable().name, "tasks");
  EXPECT_EQ(RecordTables().size(), 4u);
}

}  // namespace
}  // namespace bbs::storage::sql
