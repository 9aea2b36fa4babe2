#include "bbs/storage/sql/sql_store_test_util.h"

#include <chrono>
#include <cstdio>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/storage/store_test_util.h"

namespace bbs::storage::testing {

void ExpectReconnectsAfterTheConnectionIsKilled(const std::function<std::unique_ptr<Store>()>& open,
                                                const std::function<void()>& kill) {
  std::unique_ptr<Store> opened = open();
  ASSERT_NE(opened, nullptr);
  Store& store = *opened;
  std::vector<Mutation> first = {PutDomain{"before", 0}};
  ASSERT_THAT(store.Commit(first), IsOk());
  kill();
  std::vector<Mutation> second = {PutDomain{"after", 0}};
  ASSERT_THAT(store.Commit(second), IsOk());
  Snapshot snapshot;
  ASSERT_THAT(store.Load(&snapshot), IsOk());
  EXPECT_THAT(snapshot.domains, ::testing::SizeIs(2));
}

void ExpectWritesFailWhileTheServerIsAway(
    const std::string& location, char port_end,
    const std::function<std::unique_ptr<Store>(const std::string&)>& open) {
  size_t host = location.find("127.0.0.1:") + 10;
  size_t end = location.find(port_end, host);
  TcpProxy proxy(static_cast<uint16_t>(std::stoi(location.substr(host, end - host))));
  std::unique_ptr<Store> opened =
      open(location.substr(0, host) + std::to_string(proxy.port()) + location.substr(end));
  ASSERT_NE(opened, nullptr);
  Store& store = *opened;
  std::vector<Mutation> first = {PutTask{SmallTask("before")}};
  ASSERT_THAT(store.Commit(first), IsOk());

  proxy.Down();
  std::vector<Mutation> lost = {PutTask{SmallTask("while-down")}};
  EXPECT_THAT(store.Commit(lost), StatusIs(ErrorCode::kUnknownError));
  Snapshot snapshot;
  EXPECT_THAT(store.Load(&snapshot), StatusIs(ErrorCode::kUnknownError));

  proxy.Up();
  std::vector<Mutation> later = {PutTask{SmallTask("after")}};
  ASSERT_THAT(store.Commit(later), IsOk());
  ASSERT_THAT(store.Load(&snapshot), IsOk());
  std::vector<std::string> guids;
  for (const auto& task : snapshot.tasks) {
    guids.push_back(task.task_guid());
  }
  EXPECT_THAT(guids, ::testing::UnorderedElementsAre("before", "after"));
}

void ExpectOneLineErrorWithoutPassword(const std::function<Status()>& open,
                                       const std::string& prefix, const std::string& password) {
  auto start = std::chrono::steady_clock::now();
  Status status = open();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), ::testing::HasSubstr(prefix));
  EXPECT_THAT(status.message(), ::testing::Not(::testing::HasSubstr("\n")));
  EXPECT_THAT(status.message(), ::testing::Not(::testing::HasSubstr(password)));
}

std::string SeedForThisTest(const std::string& prefix) {
  return prefix + ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

void ExpectTheUpstreamActualLrp(const Snapshot& snapshot) {
  ASSERT_THAT(snapshot.actual_lrps, ::testing::SizeIs(1));
  const models::ActualLRP& lrp = snapshot.actual_lrps[0];
  EXPECT_EQ(lrp.actual_lrp_key().process_guid(), "pg-1");
  EXPECT_EQ(lrp.actual_lrp_key().index(), 2);
  EXPECT_EQ(lrp.state(), "RUNNING");
  EXPECT_EQ(lrp.actual_lrp_net_info().address(), "10.0.0.1");
  ASSERT_EQ(lrp.actual_lrp_internal_routes_size(), 1);
  EXPECT_EQ(lrp.actual_lrp_internal_routes(0).hostname(), "a.apps.internal");
  EXPECT_EQ(lrp.metric_tags().at("source_id"), "s");
  EXPECT_TRUE(lrp.routable());
  EXPECT_EQ(lrp.availability_zone(), "z1");
  EXPECT_EQ(lrp.modification_tag().index(), 3u);
}

std::shared_ptr<const encryption::Encoder> FixtureEncoder() {
  auto encoder = encryption::Encoder::Create(
      {{"fixture", "fixture passphrase"}, {"test-key", "passphrase of test-key"}}, "test-key");
  EXPECT_TRUE(encoder.ok()) << encoder.status().ToString();
  return encoder.ok() ? encoder.value() : nullptr;
}

double CommitAndTimeTheLoadOfActualLrps(const std::function<std::unique_ptr<Store>()>& open,
                                        int count) {
  constexpr int kBatch = 10000;
  std::unique_ptr<Store> store = open();
  EXPECT_NE(store, nullptr);
  if (store == nullptr) return 0;
  for (int first = 0; first < count; first += kBatch) {
    std::vector<Mutation> put;
    put.reserve(kBatch);
    for (int n = first; n < first + kBatch && n < count; ++n) {
      put.push_back(PutActualLrp{
          SmallActualLrp(fmt::format("{:08x}-0000-4000-8000-{:012x}", n / 4, n / 4), n % 4)});
    }
    EXPECT_THAT(store->Commit(put), IsOk());
  }
  store.reset();
  store = open();
  EXPECT_NE(store, nullptr);
  if (store == nullptr) return 0;
  auto start = std::chrono::steady_clock::now();
  Snapshot snapshot;
  EXPECT_THAT(store->Load(&snapshot), IsOk());
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_THAT(snapshot.actual_lrps, ::testing::SizeIs(count));
  std::printf("loaded %d actual LRPs in %.3f s\n", count, elapsed);
  return elapsed;
}

}  // namespace bbs::storage::testing
