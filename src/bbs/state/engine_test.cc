#include "bbs/state/engine.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/state/engine_testing.h"
#include "bbs/storage/memory_store.h"
#include "models/common.pb.h"

namespace bbs::state {
namespace {

class RecordingPublisher final : public domain::EventPublisher {
 public:
  void Publish(const std::vector<domain::Event>& batch) override {
    std::lock_guard lock(mu_);
    for (const auto& e : batch) types.push_back(e.type);
  }
  std::vector<std::string> Types() {
    std::lock_guard lock(mu_);
    return types;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> types;
};

using testing::NewLrp;

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : faulty_(&store_) { Restart(); }

  void Restart() {
    if (engine_) engine_->Stop();
    engine_ = std::make_unique<Engine>(&faulty_, &clock_, &guids_, &publisher_,
                                       Logger(LogSink::Null(), "test"), Engine::Options{});
    ASSERT_THAT(engine_->Load(), IsOk());
    engine_->Start();
  }

  std::vector<ActualLrpPtr> Actuals(const std::string& guid) {
    return engine_->model().ActualLrps(ActualLrpFilter{"", "", guid, std::nullopt});
  }

  storage::MemoryStore store_;
  storage::FaultyStore faulty_;
  FakeClock clock_;
  SequentialGuidGenerator guids_;
  RecordingPublisher publisher_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, DesireCreatesOneUnclaimedInstancePerIndex) {
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 3), "trace"), IsOk());
  auto actuals = Actuals("pg-1");
  ASSERT_EQ(actuals.size(), 3u);
  for (const auto& a : actuals) {
    EXPECT_EQ(a->state(), "UNCLAIMED");
    EXPECT_EQ(a->actual_lrp_key().domain(), "cf-apps");
    EXPECT_EQ(a->since(), clock_.NowNanos());
    EXPECT_TRUE(a->has_routable());
    EXPECT_FALSE(a->routable());
    EXPECT_EQ(a->modification_tag().index(), 0u);
  }
  auto desired = engine_->model().DesiredLrp("pg-1");
  ASSERT_NE(desired, nullptr);
  EXPECT_EQ(desired->scheduling_info().modification_tag().index(), 0u);
  EXPECT_FALSE(desired->scheduling_info().modification_tag().epoch().empty());
}

TEST_F(EngineTest, DesireOfAnExistingProcessGuidIsResourceExists) {
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 1), ""), IsOk());
  Status s = engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 1), "");
  EXPECT_THAT(s, StatusIs(ErrorCode::kResourceExists)) << s.ToString();
}

TEST_F(EngineTest, DesireEmitsDesiredThenInstanceEvents) {
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 2), ""), IsOk());
  auto types = publisher_.Types();
  // desired_lrp_created, then per index the group and the instance event.
  ASSERT_EQ(types.size(), 5u);
  EXPECT_EQ(types[0], "desired_lrp_created");
  EXPECT_EQ(std::count(types.begin(), types.end(), "actual_lrp_instance_created"), 2);
  EXPECT_EQ(std::count(types.begin(), types.end(), "actual_lrp_created"), 2);
}

TEST_F(EngineTest, ScalingUpAddsTheNewIndicesAndBumpsTheTag) {
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 1), ""), IsOk());
  models::DesiredLRPUpdate update;
  update.set_instances(3);
  ASSERT_THAT(engine_->desired_lrps().UpdateDesiredLrp("pg-1", update, ""), IsOk());
  EXPECT_EQ(Actuals("pg-1").size(), 3u);
  EXPECT_EQ(engine_->model().DesiredLrp("pg-1")->scheduling_info().instances(), 3);
  EXPECT_EQ(engine_->model().DesiredLrp("pg-1")->scheduling_info().modification_tag().index(), 1u);
}

TEST_F(EngineTest, ScalingDownDeletesUnclaimedInstancesAboveTheNewCount) {
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 4), ""), IsOk());
  models::DesiredLRPUpdate update;
  update.set_instances(1);
  ASSERT_THAT(engine_->desired_lrps().UpdateDesiredLrp("pg-1", update, ""), IsOk());
  auto actuals = Actuals("pg-1");
  ASSERT_EQ(actuals.size(), 1u);
  EXPECT_EQ(actuals[0]->actual_lrp_key().index(), 0);
}

TEST_F(EngineTest, UpdateOfAMissingLrpIsResourceNotFound) {
  models::DesiredLRPUpdate update;
  update.set_instances(1);
  EXPECT_THAT(engine_->desired_lrps().UpdateDesiredLrp("nope", update, ""),
              StatusIs(ErrorCode::kResourceNotFound));
}

TEST_F(EngineTest, UpdateWithoutInstancesKeepsTheInstances) {
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 2), ""), IsOk());
  models::DesiredLRPUpdate update;
  update.set_annotation("new");
  ASSERT_THAT(engine_->desired_lrps().UpdateDesiredLrp("pg-1", update, ""), IsOk());
  EXPECT_EQ(Actuals("pg-1").size(), 2u);
  EXPECT_EQ(engine_->model().DesiredLrp("pg-1")->scheduling_info().annotation(), "new");
}

TEST_F(EngineTest, RemoveDeletesTheDesiredLrpAndItsUnclaimedInstances) {
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 2), ""), IsOk());
  ASSERT_THAT(engine_->desired_lrps().RemoveDesiredLrp("pg-1", ""), IsOk());
  EXPECT_EQ(engine_->model().DesiredLrp("pg-1"), nullptr);
  EXPECT_TRUE(Actuals("pg-1").empty());
  EXPECT_THAT(engine_->desired_lrps().RemoveDesiredLrp("pg-1", ""),
              StatusIs(ErrorCode::kResourceNotFound));
}

TEST_F(EngineTest, AFailedCommitLeavesMemoryUntouchedAndPublishesNothing) {
  faulty_.FailNextCommits(1);
  Status s = engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 2), "");
  EXPECT_THAT(s, StatusIs(ErrorCode::kUnknownError));
  EXPECT_EQ(engine_->model().DesiredLrp("pg-1"), nullptr);
  EXPECT_TRUE(Actuals("pg-1").empty());
  EXPECT_TRUE(publisher_.Types().empty());
  EXPECT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 2), ""), IsOk());
}

TEST_F(EngineTest, CommittedStateSurvivesARestart) {
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 2), ""), IsOk());
  ASSERT_THAT(engine_->domains().UpsertDomain("cf-apps", 0), IsOk());
  Restart();
  EXPECT_NE(engine_->model().DesiredLrp("pg-1"), nullptr);
  EXPECT_EQ(Actuals("pg-1").size(), 2u);
  EXPECT_EQ(engine_->domains().FreshDomains(), std::vector<std::string>{"cf-apps"});
}

TEST_F(EngineTest, DomainsExpireAfterTheirTtl) {
  ASSERT_THAT(engine_->domains().UpsertDomain("d1", 10), IsOk());
  ASSERT_THAT(engine_->domains().UpsertDomain("forever", 0), IsOk());
  EXPECT_EQ(engine_->domains().FreshDomains().size(), 2u);
  clock_.Advance(std::chrono::seconds(11));
  EXPECT_EQ(engine_->domains().FreshDomains(), std::vector<std::string>{"forever"});
}

TEST_F(EngineTest, ConcurrentWritesAreGroupCommittedAndAllLand) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto guid = "pg-" + std::to_string(t) + "-" + std::to_string(i);
        if (!engine_->desired_lrps().DesireLrp(NewLrp(guid, 1), "").ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(engine_->model().DesiredLrpCount(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(engine_->model().ActualLrpCount(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_LE(store_.commit_count(), kThreads * kPerThread);
}

TEST_F(EngineTest, ActualLrpFiltersCombine) {
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("pg-1", 3), ""), IsOk());
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("pg-2", 1), ""), IsOk());
  EXPECT_EQ(engine_->model().ActualLrps({}).size(), 4u);
  EXPECT_EQ(engine_->model().ActualLrps({"cf-apps", "", "", std::nullopt}).size(), 4u);
  EXPECT_EQ(engine_->model().ActualLrps({"other", "", "", std::nullopt}).size(), 0u);
  EXPECT_EQ(engine_->model().ActualLrps({"", "", "pg-1", 0}).size(), 1u);
  EXPECT_EQ(engine_->model().ActualLrps({"", "cell-1", "", std::nullopt}).size(), 0u);
  EXPECT_EQ(engine_->model().ActualLrpsByProcessGuids({"pg-2", "pg-2", "nope"}).size(), 1u);
}

TEST_F(EngineTest, DesiredLrpFiltersCombine) {
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("app1-v1", 1), ""), IsOk());
  ASSERT_THAT(engine_->desired_lrps().DesireLrp(NewLrp("app2-v1", 1), ""), IsOk());
  DesiredLrpFilter by_app;
  by_app.app_guids = {"app1"};
  EXPECT_EQ(engine_->model().DesiredLrps(by_app).size(), 1u);
  DesiredLrpFilter by_guid;
  by_guid.process_guids = {"app2-v1", "missing"};
  EXPECT_EQ(engine_->model().DesiredLrps(by_guid).size(), 1u);
  DesiredLrpFilter by_domain;
  by_domain.domain = "other";
  EXPECT_TRUE(engine_->model().DesiredLrps(by_domain).empty());
}

}  // namespace
}  // namespace bbs::state
