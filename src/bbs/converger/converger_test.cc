#include "bbs/converger/converger.h"
#include "bbs/domain/event_testing.h"

#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/clients/auctioneer.h"
#include "bbs/state/engine_testing.h"
#include "bbs/storage/memory_store.h"

namespace bbs::converger {
namespace {

using namespace std::chrono_literals;

class Auctions final : public clients::Auctioneer {
 public:
  void RequestLrpAuctions(std::vector<clients::LrpStartRequest> requests, std::string) override {
    for (auto& r : requests) lrps.push_back(r);
  }
  void RequestTaskAuctions(std::vector<clients::TaskStartRequest> requests) override {
    for (auto& r : requests) tasks.push_back(r.task_guid);
  }
  std::vector<clients::LrpStartRequest> lrps;
  std::vector<std::string> tasks;
};

// A registry-like directory whose present cells the test sets.
class Cells final : public cells::CellDirectory {
 public:
  Result<models::CellPresence> Lookup(const std::string& cell_id) override {
    if (!present.count(cell_id)) return NotFound();
    models::CellPresence p;
    p.set_cell_id(cell_id);
    p.set_rep_url("http://" + cell_id);
    return p;
  }
  Result<std::vector<models::CellPresence>> All() override {
    std::vector<models::CellPresence> out;
    for (const auto& c : present) out.push_back(*Lookup(c));
    return out;
  }
  std::set<std::string> present;
};

using state::testing::NewLrp;

class ConvergerTest : public ::testing::Test {
 protected:
  ConvergerTest()
      : engine_(&store_, &clock_, &guids_, &publisher_, Logger(LogSink::Null(), "t"),
                state::Engine::Options{}),
        converger_(&engine_, &cells_, nullptr, Converger::Options{.metrics = &metrics_},
                   Logger(LogSink::Null(), "t")) {
    engine_.SetPeers(&auctions_, nullptr, &cells_);
    EXPECT_THAT(engine_.Load(), IsOk());
    engine_.Start();
    cells_.present = {"cell-1"};
  }

  state::ActualLrpPtr Row(const std::string& guid, int index, models::ActualLRP::Presence p) {
    for (const auto& r : engine_.model().ActualLrps({"", "", guid, index})) {
      if (r->presence() == p) return r;
    }
    return nullptr;
  }

  void Running(const std::string& guid, int index, const std::string& cell) {
    state::testing::ClaimAndStart(engine_, guid, index,
                                  state::testing::InstanceKey("ig-" + cell, cell));
  }

  storage::MemoryStore store_;
  FakeClock clock_;
  SequentialGuidGenerator guids_;
  domain::testing::NullEventPublisher publisher_;
  Auctions auctions_;
  Cells cells_;
  metrics::BbsMetrics metrics_;
  state::Engine engine_;
  Converger converger_;
};

TEST_F(ConvergerTest, AStaleUnclaimedInstanceIsReAuctionedAfterThirtySeconds) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  auctions_.lrps.clear();
  ASSERT_THAT(converger_.ConvergeLrps(), IsOk());
  EXPECT_TRUE(auctions_.lrps.empty());
  clock_.Advance(31s);
  ASSERT_THAT(converger_.ConvergeLrps(), IsOk());
  ASSERT_EQ(auctions_.lrps.size(), 1u);
  EXPECT_EQ(auctions_.lrps[0].process_guid, "pg");
}

TEST_F(ConvergerTest, AnInstanceOnAVanishedCellBecomesSuspectAndIsReplaced) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  Running("pg", 0, "cell-1");
  auctions_.lrps.clear();
  cells_.present.clear();
  cells_.present.insert("cell-2");
  ASSERT_THAT(converger_.ConvergeLrps(), IsOk());
  auto suspect = Row("pg", 0, models::ActualLRP::SUSPECT);
  ASSERT_NE(suspect, nullptr);
  EXPECT_EQ(suspect->state(), "RUNNING");
  auto replacement = Row("pg", 0, models::ActualLRP::ORDINARY);
  ASSERT_NE(replacement, nullptr);
  EXPECT_EQ(replacement->state(), "UNCLAIMED");
  EXPECT_EQ(auctions_.lrps.size(), 1u);
  EXPECT_EQ(converger_.last_lrp_report().metrics.suspect_cells, 1);

  // The replacement runs on the new cell: the suspect goes.
  Running("pg", 0, "cell-2");
  EXPECT_EQ(Row("pg", 0, models::ActualLRP::SUSPECT), nullptr);
}

TEST_F(ConvergerTest, ASuspectWhoseCellReturnsIsPromotedBack) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 1), ""), IsOk());
  Running("pg", 0, "cell-1");
  cells_.present.clear();
  ASSERT_THAT(converger_.ConvergeLrps(), IsOk());
  ASSERT_NE(Row("pg", 0, models::ActualLRP::SUSPECT), nullptr);
  cells_.present.insert("cell-1");
  ASSERT_THAT(converger_.ConvergeLrps(), IsOk());
  EXPECT_EQ(Row("pg", 0, models::ActualLRP::SUSPECT), nullptr);
  auto ordinary = Row("pg", 0, models::ActualLRP::ORDINARY);
  ASSERT_NE(ordinary, nullptr);
  EXPECT_EQ(ordinary->actual_lrp_instance_key().cell_id(), "cell-1");
}

TEST_F(ConvergerTest, MissingInstancesAreCreatedAndAuctionedInOneRequest) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 2), ""), IsOk());
  ASSERT_THAT(engine_.actual_lrps().RetireActualLrp(state::testing::LrpKey("pg", 1), ""), IsOk());
  auctions_.lrps.clear();
  ASSERT_THAT(converger_.ConvergeLrps(), IsOk());
  EXPECT_NE(Row("pg", 1, models::ActualLRP::ORDINARY), nullptr);
  ASSERT_EQ(auctions_.lrps.size(), 1u);
  EXPECT_EQ(auctions_.lrps[0].indices, std::vector<int32_t>{1});
  EXPECT_EQ(converger_.last_lrp_report().metrics.missing, 1);
}

TEST_F(ConvergerTest, EachPassIsRecordedOnTheMetrics) {
  ASSERT_THAT(engine_.domains().UpsertDomain("cf-apps", 0), IsOk());
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(NewLrp("pg", 2), ""), IsOk());
  models::TaskDefinition def;
  def.set_root_fs("docker:///busybox");
  def.mutable_action()->mutable_run_action()->set_path("/bin/true");
  ASSERT_THAT(engine_.tasks().DesireTask("tg", "d", def), IsOk());
  ASSERT_THAT(converger_.ConvergeLrps(), IsOk());
  ASSERT_THAT(converger_.ConvergeTasks(), IsOk());

  metrics::LrpReport lrps = metrics_.TakeLrpReport();
  EXPECT_EQ(lrps.runs, 1u);
  EXPECT_EQ(lrps.last.desired, 2);
  EXPECT_EQ(lrps.last.unclaimed, 2);
  EXPECT_EQ(lrps.last.present_cells, 1);
  EXPECT_EQ(lrps.last.fresh_domains, std::vector<std::string>{"cf-apps"});
  metrics::TaskReport tasks = metrics_.TakeTaskReport();
  EXPECT_EQ(tasks.runs, 1u);
  EXPECT_EQ(tasks.last.pending, 1);
}

TEST_F(ConvergerTest, PendingTasksAreReAuctionedAndExpireAfterThirtyMinutes) {
  models::TaskDefinition def;
  def.set_root_fs("docker:///busybox");
  def.mutable_action()->mutable_run_action()->set_path("/bin/true");
  ASSERT_THAT(engine_.tasks().DesireTask("tg", "d", def), IsOk());
  auctions_.tasks.clear();
  ASSERT_THAT(converger_.ConvergeTasks(), IsOk());
  EXPECT_EQ(auctions_.tasks, std::vector<std::string>{"tg"});
  clock_.Advance(31min);
  ASSERT_THAT(converger_.ConvergeTasks(), IsOk());
  auto task = engine_.model().Task("tg");
  EXPECT_EQ(task->state(), models::Task::Completed);
  EXPECT_EQ(task->failure_reason(), "not started within time limit");
}

TEST_F(ConvergerTest, RunningTasksOnAVanishedCellFail) {
  models::TaskDefinition def;
  def.set_root_fs("docker:///busybox");
  def.mutable_action()->mutable_run_action()->set_path("/bin/true");
  ASSERT_THAT(engine_.tasks().DesireTask("tg", "d", def), IsOk());
  ASSERT_THAT(engine_.tasks().StartTask("tg", "cell-9"), IsOk());
  ASSERT_THAT(converger_.ConvergeTasks(), IsOk());
  auto task = engine_.model().Task("tg");
  EXPECT_EQ(task->state(), models::Task::Completed);
  EXPECT_EQ(task->failure_reason(), "cell disappeared before completion");
  EXPECT_EQ(task->cell_id(), "cell-9");
}

}  // namespace
}  // namespace bbs::converger
