#include "bbs/storage/factory.h"

#include <filesystem>
#include <fstream>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

TEST(OpenStoreTest, OpensEtcdOnTheClusterUrlsInTheConnectionString) {
  auto store = OpenStore("etcd", "unix:///var/run/etcd.sock", NullLogger());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kInvalidRequest));
  EXPECT_THAT(store.status().message(), ::testing::HasSubstr("unix:///var/run/etcd.sock"));
}

TEST(OpenStoreTest, SaysPostgresIsNotBuiltYet) {
  for (const char* driver : {"postgres"}) {
    auto store = OpenStore(driver, "whatever", NullLogger());
    ASSERT_FALSE(store.ok());
    EXPECT_THAT(store.status(), StatusIs(ErrorCode::kInvalidRequest));
    EXPECT_EQ(store.status().message(),
              std::string("database driver '") + driver + "' is not built yet");
  }
}

TEST(OpenStoreTest, RejectsAnUnknownDriver) {
  auto store = OpenStore("mysql", "x", NullLogger());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kInvalidRequest));
  EXPECT_EQ(store.status().message(), "unknown database driver 'mysql'");
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
