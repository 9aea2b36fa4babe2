#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/cells/cell_directory.h"
#include "bbs/clients/auctioneer.h"
#include "bbs/clients/reps.h"
#include "bbs/domain/event_testing.h"
#include "bbs/state/engine.h"
#include "bbs/state/engine_testing.h"
#include "bbs/storage/memory_store.h"

namespace bbs::state {
namespace {

class RecordingAuctioneer final : public clients::Auctioneer {
 public:
  void RequestLrpAuctions(std::vector<clients::LrpStartRequest> requests, std::string) override {
    std::lock_guard lock(mu);
    for (auto& r : requests) lrps.push_back(std::move(r));
  }
  void RequestTaskAuctions(std::vector<clients::TaskStartRequest> requests) override {
    std::lock_guard lock(mu);
    for (auto& r : requests) tasks.push_back(std::move(r));
  }
  std::vector<int32_t> Indices() {
    std::lock_guard lock(mu);
    std::vector<int32_t> out;
    for (const auto& r : lrps) out.insert(out.end(), r.indices.begin(), r.indices.end());
    return out;
  }
  std::mutex mu;
  std::vector<clients::LrpStartRequest> lrps;
  std::vector<clients::TaskStartRequest> tasks;
};

class RecordingReps final : public clients::Reps {
 public:
  Status StopLrpInstance(const std::string& rep_url, const std::string& process_guid,
                         const std::string& instance_guid, const std::string&) override {
    std::lock_guard lock(mu);
    stops.push_back(rep_url + " " + process_guid + " " + instance_guid);
    return stop_status;
  }
  void StopLrpInstanceAsync(std::string rep_url, std::string process_guid,
                            std::string instance_guid, std::string trace_id) override {
    (void)StopLrpInstance(rep_url, process_guid, instance_guid, trace_id);
  }
  void UpdateLrpInstanceAsync(std::string rep_url, clients::LrpInstanceUpdate update,
                              std::string) override {
    std::lock_guard lock(mu);
    updates.push_back({rep_url, std::move(update)});
  }
  Status CancelTask(const std::string& rep_url, const std::string& task_guid,
                    const std::string&) override {
    std::lock_guard lock(mu);
    cancels.push_back(rep_url + " " + task_guid);
    return Status::Ok();
  }
  std::mutex mu;
  std::vector<std::string> stops;
  std::vector<std::string> cancels;
  std::vector<std::pair<std::string, clients::LrpInstanceUpdate>> updates;
  Status stop_status;
};

using testing::NewLrp;

using testing::InstanceKey;
using testing::LrpKey;
using testing::Started;

class EngineLrpTest : public testing::EngineFixture<RecordingAuctioneer, RecordingReps> {
 protected:
  EngineLrpTest() : EngineFixture("http://rep-{cell_id}:1800", /*record_metrics=*/false) {
    StartEngine();
  }

  ActualLrpPtr Ordinary(const std::string& guid, int index) {
    auto rows = engine_.model().ActualLrps({"", "", guid, index});
    for (const auto& r : rows) {
      if (r->presence() == models::ActualLRP::ORDINARY) return r;
    }
    return nullptr;
  }

  void Running(const std::string& guid, int index, const std::string& ig, const std::string& cell) {
    testing::ClaimAndStart(engine_, guid, index, InstanceKey(ig, cell));
  }
};

TEST_F(EngineLrpTest, DesireRequestsOneAuctionForAllIndices) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 3), ""), IsOk());
  ASSERT_EQ(auctioneer_.lrps.size(), 1u);
  EXPECT_EQ(auctioneer_.lrps[0].indices, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(auctioneer_.lrps[0].root_fs, "preloaded:cflinuxfs4");
}

TEST_F(EngineLrpTest, ClaimThenStartMakesTheInstanceRunning) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  Running("pg", 0, "ig-1", "cell-1");
  auto lrp = Ordinary("pg", 0);
  ASSERT_NE(lrp, nullptr);
  EXPECT_EQ(lrp->state(), "RUNNING");
  EXPECT_EQ(lrp->modification_tag().index(), 2u);
  EXPECT_EQ(engine_.model().ActualLrps({"", "cell-1", "", std::nullopt}).size(), 1u);
}

TEST_F(EngineLrpTest, AnIdenticalStartHeartbeatWritesNothing) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  Running("pg", 0, "ig-1", "cell-1");
  int64_t commits = store_.commit_count();
  ASSERT_THAT(engine_.actual_lrps().StartActualLrp(Started("pg", 0, InstanceKey("ig-1", "cell-1"))),
              IsOk());
  EXPECT_EQ(store_.commit_count(), commits);
}

TEST_F(EngineLrpTest, FirstTwoCrashesReAuctionAndTheThirdWaits) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  for (int crash = 1; crash <= 3; ++crash) {
    Running("pg", 0, "ig-" + std::to_string(crash), "cell-1");
    ASSERT_THAT(engine_.actual_lrps().CrashActualLrp(
                    LrpKey("pg", 0), InstanceKey("ig-" + std::to_string(crash), "cell-1"), "boom"),
                IsOk());
    auto lrp = Ordinary("pg", 0);
    EXPECT_EQ(lrp->crash_count(), crash);
    EXPECT_EQ(lrp->state(), crash < 3 ? "UNCLAIMED" : "CRASHED");
  }
  // desire + crash #1 + crash #2
  EXPECT_EQ(auctioneer_.Indices(), (std::vector<int32_t>{0, 0, 0}));
}

TEST_F(EngineLrpTest, RetiringARunningInstanceAsksItsRepToStopIt) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  Running("pg", 0, "ig-1", "cell-1");
  ASSERT_THAT(engine_.actual_lrps().RetireActualLrp(LrpKey("pg", 0), "trace"), IsOk());
  ASSERT_EQ(reps_.stops.size(), 1u);
  EXPECT_EQ(reps_.stops[0], "http://rep-cell-1:1800 pg ig-1");
  EXPECT_NE(Ordinary("pg", 0), nullptr);  // the rep removes it when the container is gone
}

TEST_F(EngineLrpTest, RetireGivesUpAfterFiveFailedStops) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  Running("pg", 0, "ig-1", "cell-1");
  reps_.stop_status = UnknownError("rep down");
  Status s = engine_.actual_lrps().RetireActualLrp(LrpKey("pg", 0), "");
  EXPECT_THAT(s, StatusIs(ErrorCode::kUnknownError));
  EXPECT_EQ(reps_.stops.size(), 5u);
}

TEST_F(EngineLrpTest, RetiringAnUnclaimedInstanceDeletesIt) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  ASSERT_THAT(engine_.actual_lrps().RetireActualLrp(LrpKey("pg", 0), ""), IsOk());
  EXPECT_EQ(Ordinary("pg", 0), nullptr);
  EXPECT_TRUE(reps_.stops.empty());
}

TEST_F(EngineLrpTest, ScaleDownStopsRunningInstancesThroughTheirRep) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 2), ""), IsOk());
  Running("pg", 1, "ig-1", "cell-9");
  models::DesiredLRPUpdate update;
  update.set_instances(1);
  ASSERT_THAT(engine_.desired_lrps().UpdateDesiredLrp("pg", update, ""), IsOk());
  ASSERT_EQ(reps_.stops.size(), 1u);
  EXPECT_EQ(reps_.stops[0], "http://rep-cell-9:1800 pg ig-1");
}

TEST_F(EngineLrpTest, ChangedInternalRoutesAndMetricTagsReachTheRepsOfRunningInstances) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 2), ""), IsOk());
  Running("pg", 1, "ig-1", "cell-1");
  models::DesiredLRPUpdate update;
  (*update.mutable_routes()->mutable_routes())["internal-router"] =
      R"([{"hostname":"app.apps.internal"}])";
  (*update.mutable_metric_tags())["instance"].set_dynamic(models::MetricTagValue::INDEX);
  ASSERT_THAT(engine_.desired_lrps().UpdateDesiredLrp("pg", update, ""), IsOk());
  ASSERT_EQ(reps_.updates.size(), 1u);  // the UNCLAIMED instance 0 has no rep
  const auto& [url, u] = reps_.updates[0];
  EXPECT_EQ(url, "http://rep-cell-1:1800");
  EXPECT_EQ(u.instance_guid, "ig-1");
  ASSERT_TRUE(u.internal_routes.has_value());
  EXPECT_EQ(*u.internal_routes, std::vector<std::string>{"app.apps.internal"});
  ASSERT_TRUE(u.metric_tags.has_value());
  EXPECT_EQ(u.metric_tags->at("instance"), "1");
}

TEST_F(EngineLrpTest, AnUpdateWithoutRoutesOrTagsCallsNoRep) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  Running("pg", 0, "ig-1", "cell-1");
  models::DesiredLRPUpdate update;
  update.set_annotation("x");
  ASSERT_THAT(engine_.desired_lrps().UpdateDesiredLrp("pg", update, ""), IsOk());
  EXPECT_TRUE(reps_.updates.empty());
}

TEST_F(EngineLrpTest, RollingEvacuationKeepsTheContainerAndAuctionsAReplacement) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  Running("pg", 0, "ig-1", "cell-1");
  auto r = engine_.actual_lrps().EvacuateRunningActualLrp(
      Started("pg", 0, InstanceKey("ig-1", "cell-1")));
  ASSERT_THAT(r.status, IsOk()) << r.status.ToString();
  EXPECT_TRUE(r.keep_container);
  EXPECT_EQ(Ordinary("pg", 0)->state(), "UNCLAIMED");
  EXPECT_EQ(engine_.model().ActualLrps({"", "", "pg", 0}).size(), 2u);
  EXPECT_EQ(auctioneer_.Indices().size(), 2u);
  // The replacement starts: the evacuating row goes, and the old cell may let go.
  Running("pg", 0, "ig-2", "cell-2");
  EXPECT_EQ(engine_.model().ActualLrps({"", "", "pg", 0}).size(), 1u);
  auto again = engine_.actual_lrps().EvacuateRunningActualLrp(
      Started("pg", 0, InstanceKey("ig-1", "cell-1")));
  EXPECT_FALSE(again.keep_container);
}

TEST_F(EngineLrpTest, ConcurrentClaimsHaveExactlyOneWinner) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  constexpr int kClaimers = 16;
  std::atomic<int> wins{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClaimers; ++i) {
    threads.emplace_back([&, i] {
      Status s = engine_.actual_lrps().ClaimActualLrp(
          "pg", 0, InstanceKey("ig-" + std::to_string(i), "cell"));
      if (s.ok()) ++wins;
      if (s.code() == ErrorCode::kActualLrpCannotBeClaimed) ++refused;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(refused.load(), kClaimers - 1);
}

}  // namespace
}  // namespace bbs::state
