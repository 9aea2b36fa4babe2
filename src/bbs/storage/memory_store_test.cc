#include "bbs/storage/memory_store.h"

#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/storage/store_test_util.h"

namespace bbs::storage {
namespace {

using testing::IsOk;
using ::testing::SizeIs;
using testing::StatusIs;

TEST(MemoryStoreTest, CountsEveryCommit) {
  MemoryStore store;
  EXPECT_EQ(store.commit_count(), 0);
  std::vector<Mutation> one = {PutDomain{"d", 0}};
  ASSERT_THAT(store.Commit(one), IsOk());
  ASSERT_THAT(store.Commit({}), IsOk());
  EXPECT_EQ(store.commit_count(), 2);
}

TEST(FaultyStoreTest, FailsTheNextCommitsWithoutReachingTheWrappedStore) {
  MemoryStore memory;
  FaultyStore faulty(&memory);
  faulty.FailNextCommits(2);
  std::vector<Mutation> first = {PutDomain{"first", 0}};
  std::vector<Mutation> second = {PutDomain{"second", 0}};
  std::vector<Mutation> third = {PutDomain{"third", 0}};

  EXPECT_THAT(faulty.Commit(first), StatusIs(ErrorCode::kUnknownError));
  EXPECT_THAT(faulty.Commit(second), StatusIs(ErrorCode::kUnknownError));
  EXPECT_THAT(faulty.Commit(third), IsOk());

  EXPECT_EQ(faulty.failed_commits(), 2);
  EXPECT_EQ(memory.commit_count(), 1);
  Snapshot snapshot;
  ASSERT_THAT(faulty.Load(&snapshot), IsOk());
  ASSERT_THAT(snapshot.domains, SizeIs(1));
  EXPECT_EQ(snapshot.domains[0].domain, "third");
}

TEST(FaultyStoreTest, ForwardsEverythingWhenNoFailureIsPending) {
  MemoryStore memory;
  FaultyStore faulty(&memory);
  std::vector<Mutation> put = {PutTask{testing::SmallTask("tg")}};
  ASSERT_THAT(faulty.Commit(put), IsOk());
  Snapshot snapshot;
  ASSERT_THAT(memory.Load(&snapshot), IsOk());
  EXPECT_THAT(snapshot.tasks, SizeIs(1));
  EXPECT_EQ(faulty.failed_commits(), 0);
}

TEST(FaultyStoreTest, ALaterCountReplacesTheEarlierOne) {
  MemoryStore memory;
  FaultyStore faulty(&memory);
  std::vector<Mutation> put = {PutDomain{"d", 0}};
  faulty.FailNextCommits(5);
  EXPECT_FALSE(faulty.Commit(put).ok());
  faulty.FailNextCommits(0);
  EXPECT_THAT(faulty.Commit(put), IsOk());
}

TEST(FaultyStoreTest, FailsTheNextLoads) {
  MemoryStore memory;
  FaultyStore faulty(&memory);
  faulty.FailNextLoads(1);
  Snapshot snapshot;
  EXPECT_THAT(faulty.Load(&snapshot), StatusIs(ErrorCode::kUnknownError));
  EXPECT_THAT(faulty.Load(&snapshot), IsOk());
}

}  // namespace
}  // namespace bbs::storage
