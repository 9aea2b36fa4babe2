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

class NullAuctioneer final : public clients::Auctioneer {
 public:
  void RequestLrpAuctions(std::vector<clients::LrpStartRequest>, std::string) override {}
  void RequestTaskAuctions(std::vector<clients::TaskStartRequest> requests) override {
    for (auto& r : requests) tasks.push_back(r.task_guid);
  }
  std::vector<std::string> tasks;
};

class CancelRecorder final : public clients::Reps {
 public:
  Status StopLrpInstance(const std::string&, const std::string&, const std::string&,
                         const std::string&) override {
    return Status::Ok();
  }
  void StopLrpInstanceAsync(std::string, std::string, std::string, std::string) override {}
  void UpdateLrpInstanceAsync(std::string, clients::LrpInstanceUpdate, std::string) override {}
  Status CancelTask(const std::string& rep_url, const std::string& task_guid,
                    const std::string&) override {
    cancels.push_back(rep_url + " " + task_guid);
    return Status::Ok();
  }
  std::vector<std::string> cancels;
};

models::TaskDefinition Definition(const std::string& callback_url = "") {
  models::TaskDefinition def;
  def.set_root_fs("docker:///busybox");
  def.mutable_action()->mutable_run_action()->set_path("/bin/true");
  def.mutable_action()->mutable_run_action()->set_user("root");
  def.set_completion_callback_url(callback_url);
  return def;
}

class EngineTaskTest : public testing::EngineFixture<NullAuctioneer, CancelRecorder> {
 protected:
  EngineTaskTest() : EngineFixture("http://{cell_id}:1801", /*record_metrics=*/true) {
    engine_.tasks().SetCallbackSink([this](TaskPtr t) { callbacks_.push_back(t->task_guid()); });
    StartEngine();
  }

  std::vector<std::string> callbacks_;
};

TEST_F(EngineTaskTest, DesireCreatesAPendingTaskAndAuctionsIt) {
  ASSERT_THAT(engine_.tasks().DesireTask("tg-1", "cf-tasks", Definition()), IsOk());
  EXPECT_EQ(engine_.tasks().DesireTask("tg-1", "cf-tasks", Definition()).code(),
            ErrorCode::kResourceExists);
  auto task = engine_.model().Task("tg-1");
  ASSERT_NE(task, nullptr);
  EXPECT_EQ(task->state(), models::Task::Pending);
  EXPECT_EQ(task->created_at(), clock_.NowNanos());
  EXPECT_EQ(auctioneer_.tasks, std::vector<std::string>{"tg-1"});
}

TEST_F(EngineTaskTest, ASecondStartOnTheSameCellShouldNotStart) {
  ASSERT_THAT(engine_.tasks().DesireTask("tg-1", "cf-tasks", Definition()), IsOk());
  auto first = engine_.tasks().StartTask("tg-1", "cell-1");
  ASSERT_THAT(first, IsOk());
  EXPECT_TRUE(*first);
  auto second = engine_.tasks().StartTask("tg-1", "cell-1");
  ASSERT_THAT(second, IsOk());
  EXPECT_FALSE(*second);
  EXPECT_EQ(engine_.tasks().StartTask("tg-1", "cell-2").status().code(),
            ErrorCode::kInvalidStateTransition);
}

TEST_F(EngineTaskTest, TasksThatReallyStartAndCompleteAreCountedPerCell) {
  ASSERT_THAT(engine_.tasks().DesireTask("tg-1", "cf-tasks", Definition()), IsOk());
  ASSERT_THAT(engine_.tasks().DesireTask("tg-2", "cf-tasks", Definition()), IsOk());
  ASSERT_THAT(engine_.tasks().StartTask("tg-1", "cell-1"), IsOk());
  ASSERT_THAT(engine_.tasks().StartTask("tg-1", "cell-1"), IsOk());  // should not start
  ASSERT_THAT(engine_.tasks().StartTask("tg-2", "cell-1"), IsOk());
  EXPECT_FALSE(engine_.tasks().CompleteTask("tg-1", "cell-2", false, "", "").ok());
  ASSERT_THAT(engine_.tasks().CompleteTask("tg-1", "cell-1", false, "", "42"), IsOk());
  ASSERT_THAT(engine_.tasks().CompleteTask("tg-2", "cell-1", true, "boom", ""), IsOk());

  metrics::TaskReport report = metrics_.TakeTaskReport();
  ASSERT_EQ(report.cells.size(), 1u);
  EXPECT_EQ(report.cells[0].cell_id, "cell-1");
  EXPECT_EQ(report.cells[0].started, 2);
  EXPECT_EQ(report.cells[0].succeeded, 1);
  EXPECT_EQ(report.cells[0].failed, 1);
}

TEST_F(EngineTaskTest, CancellingARunningTaskTellsItsRep) {
  ASSERT_THAT(engine_.tasks().DesireTask("tg-1", "cf-tasks", Definition()), IsOk());
  ASSERT_THAT(engine_.tasks().StartTask("tg-1", "cell-1"), IsOk());
  ASSERT_THAT(engine_.tasks().CancelTask("tg-1", ""), IsOk());
  EXPECT_EQ(reps_.cancels, std::vector<std::string>{"http://cell-1:1801 tg-1"});
  auto task = engine_.model().Task("tg-1");
  EXPECT_EQ(task->state(), models::Task::Completed);
  EXPECT_EQ(task->failure_reason(), "task was cancelled");
}

TEST_F(EngineTaskTest, CompletionWithACallbackUrlReachesTheCallbackSink) {
  ASSERT_THAT(engine_.tasks().DesireTask("tg-1", "cf-tasks", Definition("http://cc/cb")), IsOk());
  ASSERT_THAT(engine_.tasks().StartTask("tg-1", "cell-1"), IsOk());
  EXPECT_EQ(engine_.tasks().CompleteTask("tg-1", "cell-2", false, "", "").code(),
            ErrorCode::kRunningOnDifferentCell);
  ASSERT_THAT(engine_.tasks().CompleteTask("tg-1", "cell-1", false, "", "42"), IsOk());
  EXPECT_EQ(callbacks_, std::vector<std::string>{"tg-1"});
}

TEST_F(EngineTaskTest, ResolvingThenDeletingRemovesTheTask) {
  ASSERT_THAT(engine_.tasks().DesireTask("tg-1", "cf-tasks", Definition()), IsOk());
  EXPECT_THAT(engine_.tasks().DeleteTask("tg-1"), StatusIs(ErrorCode::kInvalidStateTransition));
  ASSERT_THAT(engine_.tasks().CancelTask("tg-1", ""), IsOk());
  ASSERT_THAT(engine_.tasks().ResolvingTask("tg-1"), IsOk());
  ASSERT_THAT(engine_.tasks().DeleteTask("tg-1"), IsOk());
  EXPECT_EQ(engine_.model().Task("tg-1"), nullptr);
  EXPECT_THAT(engine_.tasks().DeleteTask("tg-1"), StatusIs(ErrorCode::kResourceNotFound));
}

TEST_F(EngineTaskTest, TheFourthRejectionFailsTheTask) {
  ASSERT_THAT(engine_.tasks().DesireTask("tg-1", "cf-tasks", Definition()), IsOk());
  for (int i = 0; i < 3; ++i) ASSERT_THAT(engine_.tasks().RejectTask("tg-1", "no room"), IsOk());
  EXPECT_EQ(engine_.model().Task("tg-1")->state(), models::Task::Pending);
  ASSERT_THAT(engine_.tasks().RejectTask("tg-1", "no room"), IsOk());
  EXPECT_EQ(engine_.model().Task("tg-1")->state(), models::Task::Completed);
  EXPECT_TRUE(engine_.model().Task("tg-1")->failed());
}

TEST_F(EngineTaskTest, ListsFilterByDomainAndCell) {
  ASSERT_THAT(engine_.tasks().DesireTask("tg-1", "a", Definition()), IsOk());
  ASSERT_THAT(engine_.tasks().DesireTask("tg-2", "b", Definition()), IsOk());
  ASSERT_THAT(engine_.tasks().StartTask("tg-2", "cell-1"), IsOk());
  EXPECT_EQ(engine_.model().Tasks("", "").size(), 2u);
  EXPECT_EQ(engine_.model().Tasks("a", "").size(), 1u);
  EXPECT_EQ(engine_.model().Tasks("", "cell-1").size(), 1u);
  EXPECT_EQ(engine_.model().Tasks("a", "cell-1").size(), 0u);
}

}  // namespace
}  // namespace bbs::state
