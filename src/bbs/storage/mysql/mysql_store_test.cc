#include "bbs/storage/mysql/mysql_store.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/storage/mysql/mysql_test_util.h"
#include "bbs/storage/sql/sql_store_test_util.h"
#include "bbs/storage/store_test_util.h"
#include "bbs/storage/tcp_proxy_test_util.h"

namespace bbs::storage {
namespace {

using models::ActualLRP;
using ::testing::ElementsAre;
using testing::IsOk;
using ::testing::SizeIs;
using testing::StatusIs;

class MysqlStoreTest : public testing::ServerStoreTest<MysqlStore, &MysqlStore::Options::dsn> {
 protected:
  void SetUp() override {
    StartServerTest(
        testing::UnlessServerSet(testing::MysqlTestDsn(), "BBS_TEST_MYSQL_URL", "mariadb.sh"),
        testing::MysqlDsnWithFreshDatabase, "m_");
  }

  Result<std::unique_ptr<MysqlStore>> Open(
      std::shared_ptr<const encryption::Encoder> encoder = testing::TestEncoder()) {
    return OpenAt(location_, std::move(encoder));
  }

  std::unique_ptr<Store> OpenOrNull() { return testing::StoreOrNull(Open()); }

  std::vector<std::string> Column(const std::string& sql) {
    return testing::MysqlColumn(location_, sql);
  }
};

TEST_F(MysqlStoreTest, CreatesUpstreamsSchemaWithMysqlTypes) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_THAT(Column("SELECT value FROM configurations WHERE id = 'version'"),
              ElementsAre("{\"CurrentVersion\":1772581987}"));
  EXPECT_THAT(Column("SELECT value FROM configurations WHERE id = 'encryption_key_label'"),
              ElementsAre("test-key"));
  EXPECT_THAT(Column("SELECT data_type FROM information_schema.columns WHERE table_schema = "
                     "DATABASE() AND table_name = 'desired_lrps' AND column_name IN ('run_info', "
                     "'metric_tags') ORDER BY column_name"),
              ElementsAre("mediumtext", "longtext"));
  EXPECT_THAT(Column("SELECT @@SESSION.group_concat_max_len"), ElementsAre(::testing::_));
}

// Rows as the Go BBS writes them (testing::kUpstreamActualLrpRow).
TEST_F(MysqlStoreTest, ReadsRowsWrittenInUpstreamsFormat) {
  ASSERT_TRUE(Open().ok());
  testing::MysqlExec(location_, testing::kUpstreamActualLrpRow);
  testing::ExpectTheUpstreamActualLrp(testing::LoadFrom(Open(testing::FixtureEncoder())));
  EXPECT_THAT(Column("SELECT substr(net_info, 1, 4) FROM actual_lrps"), ElementsAre("02CH"));
}

TEST_F(MysqlStoreTest, BringsAnOlderUpstreamSchemaForward) {
  ASSERT_TRUE(Open().ok());
  testing::MysqlExec(location_, testing::kRollBackToVersion1676360874);
  auto encoder = testing::TestEncoder();
  sql::ActualRow row = sql::EncodeActual(testing::SmallActualLrp("pg", 0), *encoder);
  models::DesiredLRPRunInfo run_info;
  (*run_info.mutable_metric_tags())["source_id"].set_static_("from-run-info");
  testing::MysqlExec(
      location_,
      fmt::format("INSERT INTO actual_lrps (process_guid, instance_index, presence, domain, state, "
                  "net_info, modification_tag_epoch, modification_tag_index) VALUES ('pg', 0, 0, "
                  "'cf-apps', 'RUNNING', '{}', 'e', 1); "
                  "INSERT INTO desired_lrps (process_guid, domain, log_guid, instances, memory_mb, "
                  "disk_mb, rootfs, routes, volume_placement, modification_tag_epoch, run_info) "
                  "VALUES ('pg', 'cf-apps', 'lg', 1, 2, 3, 'r', '{}', '{}', 'e', '{}')",
                  row.net_info, encoder->EncodeValue("{}"), encoder->EncodeModelBytes(""),
                  encoder->EncodeModel(run_info)));
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_THAT(Column("SELECT value FROM configurations WHERE id = 'version'"),
              ElementsAre("{\"CurrentVersion\":1772581987}"));
  Snapshot snapshot;
  ASSERT_THAT((*store)->Load(&snapshot), IsOk());
  ASSERT_THAT(snapshot.actual_lrps, SizeIs(1));
  EXPECT_TRUE(snapshot.actual_lrps[0].routable());
  ASSERT_THAT(snapshot.desired_lrps, SizeIs(1));
  EXPECT_EQ(snapshot.desired_lrps[0].metric_tags().at("source_id").static_(), "from-run-info");
}

TEST_F(MysqlStoreTest, RefusesANewerDatabaseAndAnUnknownKeyLabel) {
  ASSERT_TRUE(Open().ok());
  auto other = Open(testing::TestEncoder("other"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().message(),
            "Existing encryption key version (test-key) is not among the known keys");
  testing::MysqlExec(location_,
                     "UPDATE configurations SET value = '{\"CurrentVersion\":1999999999}' "
                     "WHERE id = 'version'");
  auto store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_EQ(store.status().message(),
            "Existing DB version (1999999999) exceeds bbs version (1772581987)");
}

TEST_F(MysqlStoreTest, ReconnectsWhenItsConnectionIsKilled) {
  testing::ExpectReconnectsAfterTheConnectionIsKilled(
      [&] { return OpenOrNull(); },
      [&] {
        std::string db = location_.substr(location_.rfind('/') + 1);
        auto ids = Column("SELECT id FROM information_schema.processlist WHERE db = '" + db +
                          "' AND id <> CONNECTION_ID()");
        ASSERT_THAT(ids, SizeIs(1));
        testing::MysqlExec(location_, "KILL " + ids[0]);
      });
}

TEST_F(MysqlStoreTest, WritesFailWhileTheServerIsAwayAndSucceedOnceItIsBack) {
  std::string direct = location_;
  testing::ExpectWritesFailWhileTheServerIsAway(location_, ')', [&](const std::string& proxied) {
    location_ = proxied;
    return OpenOrNull();
  });
  location_ = direct;
}

TEST(MysqlStoreOpenTest, AnUnreachableServerIsAOneLineErrorWithoutThePassword) {
  testing::ExpectUnreachableServerIsAOneLineError<MysqlStore, &MysqlStore::Options::dsn>(
      "bbs:s3cret@tcp(127.0.0.1:1)/bbs", "mysql: cannot connect", "s3cret");
}

// Start-up load time for docs/benchmarks.md (release build): --gtest_also_run_disabled_tests.
TEST_F(MysqlStoreTest, DISABLED_Loads250kActualLrps) {
  testing::CommitAndTimeTheLoadOfActualLrps([this] { return OpenOrNull(); }, 250000);
}

}  // namespace
}  // namespace bbs::storage
