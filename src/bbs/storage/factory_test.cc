#include "bbs/storage/factory.h"

#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/storage/etcd/etcd_testing.h"
#include "bbs/storage/store_test_util.h"

namespace bbs::storage {
namespace {

using testing::IsOk;
using testing::NullLogger;
using ::testing::SizeIs;
using testing::StatusIs;
using testing::TempDir;

TEST(OpenStoreTest, OpensSqliteAndCreatesTheParentDirectory) {
  TempDir dir;
  std::filesystem::path path = dir.path() / "nested" / "data" / "bbs.db";
  auto store = OpenStore("sqlite", path.string(), NullLogger());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(path));
  std::vector<Mutation> put = {PutDomain{"d", 0}};
  ASSERT_THAT((*store)->Commit(put), IsOk());
  Snapshot snapshot;
  ASSERT_THAT((*store)->Load(&snapshot), IsOk());
  EXPECT_THAT(snapshot.domains, SizeIs(1));
}

TEST(OpenStoreTest, OpensAnEmptyMemoryStore) {
  auto store = OpenStore("memory", "", NullLogger());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Snapshot snapshot;
  ASSERT_THAT((*store)->Load(&snapshot), IsOk());
  EXPECT_THAT(snapshot.tasks, SizeIs(0));
}

TEST(OpenStoreTest, SqlServersAndEtcdRequireEncryptionKeys) {
  for (const char* driver : {"postgres", "mysql", "etcd"}) {
    auto store = OpenStore(driver, "x", NullLogger());
    ASSERT_FALSE(store.ok());
    EXPECT_THAT(store.status(), StatusIs(ErrorCode::kInvalidRequest));
    EXPECT_EQ(store.status().message(),
              std::string("encryption_keys and active_key_label are required with "
                          "database_driver '") +
                  driver + "'");
  }
}

TEST(OpenStoreTest, SqliteWithoutKeysGeneratesOnePrivateKeyFileAndKeepsUsingIt) {
  TempDir dir;
  std::string path = (dir.path() / "bbs.db").string();
  {
    auto store = OpenStore("sqlite", path, NullLogger());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::vector<Mutation> put = {PutTask{testing::SmallTask("tg")}};
    ASSERT_THAT((*store)->Commit(put), IsOk());
  }
  std::string key_file = SqliteKeyFilePath(path);
  ASSERT_TRUE(std::filesystem::exists(key_file));
  EXPECT_EQ(std::filesystem::status(key_file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::string content;
  std::getline(std::ifstream(key_file), content);
  EXPECT_THAT(content, ::testing::StartsWith("bbs-local:"));

  auto store = OpenStore("sqlite", path, NullLogger());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Snapshot snapshot;
  ASSERT_THAT((*store)->Load(&snapshot), IsOk());
  EXPECT_THAT(snapshot.tasks, SizeIs(1));
}

TEST(OpenStoreTest, SqliteUsesConfiguredKeysWhenGiven) {
  TempDir dir;
  StoreOptions options;
  options.connection_string = (dir.path() / "bbs.db").string();
  options.encryption_keys = {{"k1", "secret"}};
  options.active_key_label = "k1";
  auto store = OpenStore(options, NullLogger());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(SqliteKeyFilePath(options.connection_string)));
  options.active_key_label = "missing";
  store = OpenStore(options, NullLogger());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kInvalidRequest));
}

StoreOptions EtcdOptions(const std::string& cluster) {
  StoreOptions options;
  options.driver = "etcd";
  options.etcd_cluster = cluster;
  options.encryption_keys = {{"k1", "passphrase one"}};
  options.active_key_label = "k1";
  options.etcd_root = etcd::testing::UniqueRoot("factory");
  return options;
}

TEST(OpenStoreTest, EtcdTakesTheClusterUrlsFromEtcdCluster) {
  StoreOptions options = EtcdOptions("unix:///var/run/etcd.sock");
  options.connection_string = "http://127.0.0.1:1";
  auto store = OpenStore(options, NullLogger());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kInvalidRequest));
  EXPECT_THAT(store.status().message(), ::testing::HasSubstr("unix:///var/run/etcd.sock"));
}

TEST(OpenStoreTest, EtcdFallsBackToTheConnectionString) {
  StoreOptions options = EtcdOptions("");
  options.connection_string = "unix:///var/run/etcd.sock";
  auto store = OpenStore(options, NullLogger());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), ::testing::HasSubstr("unix:///var/run/etcd.sock"));
}

TEST(OpenStoreTest, OpensEtcdWithTheConfiguredKeysAndKeepsWhatWasCommitted) {
  std::vector<std::string> endpoints = etcd::testing::TestEndpoints();
  if (endpoints.empty()) {
    GTEST_SKIP() << "BBS_TEST_ETCD_ENDPOINTS is not set (scripts/servers/etcd.sh)";
  }
  StoreOptions options = EtcdOptions(fmt::format("{}", fmt::join(endpoints, ",")));
  {
    auto store = OpenStore(options, NullLogger());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::vector<Mutation> put = {PutTask{testing::SmallTask("tg")}};
    ASSERT_THAT((*store)->Commit(put), IsOk());
  }
  auto store = OpenStore(options, NullLogger());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Snapshot snapshot;
  ASSERT_THAT((*store)->Load(&snapshot), IsOk());
  ASSERT_THAT(snapshot.tasks, SizeIs(1));
  EXPECT_EQ(snapshot.tasks[0].task_guid(), "tg");
}

TEST(OpenStoreTest, RejectsAnUnknownDriver) {
  auto store = OpenStore("oracle", "x", NullLogger());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kInvalidRequest));
  EXPECT_EQ(store.status().message(), "unknown database driver 'oracle'");
}

TEST(OpenStoreTest, RejectsAnEmptySqlitePath) {
  auto store = OpenStore("sqlite", "", NullLogger());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kInvalidRequest));
}

TEST(OpenStoreTest, ReportsADirectoryThatCannotBeCreated) {
  TempDir dir;
  std::filesystem::path file = dir.path() / "a-file";
  { std::ofstream(file.string()) << "x"; }
  auto store = OpenStore("sqlite", (file / "sub" / "bbs.db").string(), NullLogger());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kUnknownError));
}

}  // namespace
}  // namespace bbs::storage
