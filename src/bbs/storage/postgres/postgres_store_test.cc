#include "bbs/storage/postgres/postgres_store.h"

#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/storage/postgres/postgres_test_util.h"
#include "bbs/storage/sql/sql_store_test_util.h"
#include "bbs/storage/store_test_util.h"
#include "bbs/storage/tcp_proxy_test_util.h"

namespace bbs::storage {
namespace {

using models::ActualLRP;
using testing::IsOk;
using ::testing::SizeIs;

class PostgresStoreTest
    : public testing::ServerStoreTest<PostgresStore, &PostgresStore::Options::url> {
 protected:
  void SetUp() override {
    StartServerTest(testing::UnlessServerSet(testing::PostgresTestUrl(), "BBS_TEST_POSTGRES_URL",
                                             "postgres.sh"),
                    testing::PostgresUrlWithFreshSchema, "p_");
  }

  // Named after the schema, so a test can find its store's server process.
  Result<std::unique_ptr<PostgresStore>> Open(
      std::shared_ptr<const encryption::Encoder> encoder = testing::TestEncoder()) {
    return OpenAt(
        location_ + "&application_name=" + location_.substr(location_.find("search_path%3D") + 14),
        std::move(encoder));
  }

  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    PGconn* conn = PQconnectdb(location_.c_str());
    PGresult* result = PQexec(conn, sql.c_str());
    EXPECT_EQ(PQresultStatus(result), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    for (int i = 0; i < PQntuples(result); ++i) {
      out.emplace_back(PQgetvalue(result, i, 0));
    }
    PQclear(result);
    PQfinish(conn);
    return out;
  }
};

TEST_F(PostgresStoreTest, CreatesUpstreamsSchemaVersionAndKeyLabel) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_THAT(Column("SELECT value FROM configurations WHERE id = 'version'"),
              ::testing::ElementsAre("{\"CurrentVersion\":1772581987}"));
  EXPECT_THAT(Column("SELECT value FROM configurations WHERE id = 'encryption_key_label'"),
              ::testing::ElementsAre("test-key"));
  EXPECT_THAT(Column("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"),
              ::testing::IsSupersetOf({"actual_lrps_cell_id_idx", "tasks_first_completed_at_idx",
                                       "desired_lrps_domain_idx", "domains_expire_time_idx"}));
  EXPECT_THAT(Column("SELECT data_type FROM information_schema.columns WHERE table_schema = "
                     "current_schema() AND table_name = 'actual_lrps' AND column_name = "
                     "'routable'"),
              ::testing::ElementsAre("boolean"));
}

// Rows as the Go BBS writes them (testing::kUpstreamActualLrpRow).
TEST_F(PostgresStoreTest, ReadsRowsWrittenInUpstreamsFormat) {
  ASSERT_TRUE(Open().ok());
  testing::PostgresExec(location_, std::string(testing::kUpstreamActualLrpRow) +
                                       "INSERT INTO domains VALUES ('cf-apps', 1800000000);");
  Snapshot snapshot = testing::LoadFrom(Open(testing::FixtureEncoder()));
  ASSERT_THAT(snapshot.domains, SizeIs(1));
  EXPECT_EQ(snapshot.domains[0].expire_time, 1800000000);
  testing::ExpectTheUpstreamActualLrp(snapshot);
  // The encryptor re-encrypted the fixture rows with the active key.
  EXPECT_THAT(Column("SELECT substr(net_info, 1, 4) FROM actual_lrps"),
              ::testing::ElementsAre("02CH"));  // label length 8 = "test-key"
}

TEST_F(PostgresStoreTest, BringsAnOlderUpstreamSchemaForward) {
  ASSERT_TRUE(Open().ok());
  testing::PostgresExec(location_, testing::kRollBackToVersion1676360874);
  auto encoder = testing::TestEncoder();
  ActualLRP running = testing::SmallActualLrp("pg", 0);
  sql::ActualRow row = sql::EncodeActual(running, *encoder);
  testing::PostgresExec(
      location_,
      fmt::format("INSERT INTO actual_lrps (process_guid, instance_index, presence, domain, "
                  "state, net_info, modification_tag_epoch, modification_tag_index) VALUES "
                  "('pg', 0, 0, 'cf-apps', 'RUNNING', '{}', 'e', 1)",
                  row.net_info));
  models::DesiredLRPRunInfo run_info;
  (*run_info.mutable_metric_tags())["source_id"].set_static_("from-run-info");
  testing::PostgresExec(
      location_,
      fmt::format("INSERT INTO desired_lrps (process_guid, domain, log_guid, instances, memory_mb, "
                  "disk_mb, rootfs, routes, volume_placement, modification_tag_epoch, run_info) "
                  "VALUES ('pg', 'cf-apps', 'lg', 1, 2, 3, 'r', '{}', '{}', 'e', '{}')",
                  encoder->EncodeValue("{}"), encoder->EncodeModelBytes(""),
                  encoder->EncodeModel(run_info)));
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_THAT(Column("SELECT value FROM configurations WHERE id = 'version'"),
              ::testing::ElementsAre("{\"CurrentVersion\":1772581987}"));
  Snapshot snapshot;
  ASSERT_THAT((*store)->Load(&snapshot), IsOk());
  ASSERT_THAT(snapshot.actual_lrps, SizeIs(1));
  EXPECT_TRUE(snapshot.actual_lrps[0].routable());  // set where state = 'RUNNING'
  ASSERT_THAT(snapshot.desired_lrps, SizeIs(1));
  EXPECT_EQ(snapshot.desired_lrps[0].metric_tags().at("source_id").static_(), "from-run-info");
}

TEST_F(PostgresStoreTest, RefusesANewerDatabaseWithUpstreamsMessage) {
  ASSERT_TRUE(Open().ok());
  testing::PostgresExec(location_,
                        "UPDATE configurations SET value = '{\"CurrentVersion\":1999999999}' "
                        "WHERE id = 'version'");
  auto store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), testing::StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_EQ(store.status().message(),
            "Existing DB version (1999999999) exceeds bbs version (1772581987)");
}

TEST_F(PostgresStoreTest, RefusesAnUnknownStoredKeyLabel) {
  ASSERT_TRUE(Open(testing::TestEncoder("old")).ok());
  auto store = Open(testing::TestEncoder("new"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().message(),
            "Existing encryption key version (old) is not among the known keys");
}

TEST_F(PostgresStoreTest, ReconnectsWhenItsConnectionIsKilled) {
  testing::ExpectReconnectsAfterTheConnectionIsKilled(
      [&] { return testing::StoreOrNull(Open()); },
      [&] {
        // What a server restart does to an idle connection.
        std::string name = location_.substr(location_.find("search_path%3D") + 14);
        EXPECT_THAT(Column("SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE "
                           "application_name = '" +
                           name + "'"),
                    ::testing::ElementsAre("true"));
      });
}

TEST_F(PostgresStoreTest, WritesFailWhileTheServerIsAwayAndSucceedOnceItIsBack) {
  testing::ExpectWritesFailWhileTheServerIsAway(location_, '/', [&](const std::string& proxied) {
    location_ = proxied;
    return testing::StoreOrNull(Open());
  });
}

TEST_F(PostgresStoreTest, AConfiguredCaFileMakesTlsRequired) {
  PostgresStore::Options options;
  options.url = location_;
  options.ca_cert_file = "/nonexistent/ca.crt";
  auto store = PostgresStore::Open(options, testing::NullLogger(), testing::TestEncoder());
  // The test server has no TLS: with sql_ca_cert_file set, bbs must not fall back to plain text.
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), ::testing::HasSubstr("postgres: cannot connect"));
}

TEST(PostgresStoreOpenTest, AnUnreachableServerIsAOneLineErrorWithoutThePassword) {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  testing::ExpectUnreachableServerIsAOneLineError<PostgresStore, &PostgresStore::Options::url>(
      "postgres://bbs:s3cret@127.0.0.1:1/bbs?sslmode=disable", "postgres: cannot connect",
      "s3cret");
}

// Start-up load time for docs/benchmarks.md (release build): --gtest_also_run_disabled_tests.
TEST_F(PostgresStoreTest, DISABLED_Loads250kActualLrps) {
  testing::CommitAndTimeTheLoadOfActualLrps([this] { return testing::StoreOrNull(Open()); },
                                            250000);
}

}  // namespace
}  // namespace bbs::storage
