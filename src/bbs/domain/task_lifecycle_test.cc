#include "bbs/domain/task_lifecycle.h"
#include "bbs/base/status_matchers.h"

#include <functional>

#include <gtest/gtest.h>

namespace bbs::domain {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kEarlier = kNow - 5 * kSecond;
constexpr int64_t kCompletedAt = kNow - 10 * kSecond;

models::TaskDefinition Definition(const std::string& callback_url = "") {
  models::TaskDefinition def;
  def.set_root_fs("docker:///busybox");
  def.set_annotation("note");
  def.set_completion_callback_url(callback_url);
  return def;
}

models::Task TaskIn(models::Task::State state, const std::string& cell_id = "",
                    const std::string& callback_url = "") {
  models::Task task =
      DesireTask("tg", "d", Definition(callback_url), kEarlier - kSecond).after.value();
  task.set_state(state);
  task.set_cell_id(cell_id);
  task.set_updated_at(kEarlier);
  if (state == models::Task::Completed || state == models::Task::Resolving) {
    task.set_first_completed_at(kCompletedAt);
    task.set_result("r");
  }
  return task;
}

// Checks that nothing is written and nothing is sent.
void ExpectRefused(const TaskDecision& d, const std::string& status) {
  EXPECT_EQ(d.status.ToString(), status);
  EXPECT_FALSE(d.changed());
  EXPECT_EQ(d.event, TaskEvent::kNone);
  EXPECT_FALSE(d.start_callback);
  EXPECT_EQ(d.cancel_on_cell, "");
  EXPECT_FALSE(d.should_start);
  EXPECT_FALSE(d.request_auction);
}

void ExpectCompletedAtNow(const models::Task& task, bool failed, const std::string& reason,
                          const std::string& result) {
  EXPECT_EQ(task.state(), models::Task::Completed);
  EXPECT_EQ(task.failed(), failed);
  EXPECT_EQ(task.failure_reason(), reason);
  EXPECT_EQ(task.result(), result);
  EXPECT_EQ(task.cell_id(), "");
  EXPECT_EQ(task.first_completed_at(), kNow);
  EXPECT_EQ(task.updated_at(), kNow);
}

// --- state names and the generic check ---

TEST(TaskLifecycleTest, StateNamesAreUpstreamsMixedCaseNames) {
  EXPECT_EQ(TaskStateName(models::Task::Invalid), "Invalid");
  EXPECT_EQ(TaskStateName(models::Task::Pending), "Pending");
  EXPECT_EQ(TaskStateName(models::Task::Running), "Running");
  EXPECT_EQ(TaskStateName(models::Task::Completed), "Completed");
  EXPECT_EQ(TaskStateName(models::Task::Resolving), "Resolving");
  EXPECT_EQ(TaskStateName(static_cast<models::Task::State>(7)), "7");
}

TEST(TaskLifecycleTest, GenericCheckAllowsOnlyTheThreeForwardSteps) {
  const models::Task::State all[] = {models::Task::Invalid, models::Task::Pending,
                                     models::Task::Running, models::Task::Completed,
                                     models::Task::Resolving};
  for (auto from : all) {
    for (auto to : all) {
      const bool allowed = (from == models::Task::Pending && to == models::Task::Running) ||
                           (from == models::Task::Running && to == models::Task::Completed) ||
                           (from == models::Task::Completed && to == models::Task::Resolving);
      EXPECT_EQ(ValidateTaskTransition(from, to).ok(), allowed)
          << TaskStateName(from) << " -> " << TaskStateName(to);
    }
  }
}

// --- desire ---

TEST(TaskLifecycleTest, DesiringATaskCreatesItPendingAndAsksForAnAuction) {
  TaskDecision d = DesireTask("tg", "d", Definition(), kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_TRUE(d.after.has_value());
  EXPECT_EQ(d.after->task_guid(), "tg");
  EXPECT_EQ(d.after->domain(), "d");
  EXPECT_EQ(d.after->state(), models::Task::Pending);
  EXPECT_EQ(d.after->created_at(), kNow);
  EXPECT_EQ(d.after->updated_at(), kNow);
  EXPECT_EQ(d.after->first_completed_at(), 0);
  EXPECT_EQ(d.after->task_definition().root_fs(), "docker:///busybox");
  EXPECT_EQ(d.event, TaskEvent::kCreated);
  EXPECT_TRUE(d.request_auction);
  EXPECT_FALSE(d.start_callback);
}

TEST(TaskLifecycleTest, DesiringATaskWithAnEmptyDefinitionStillStoresTheDefinition) {
  TaskDecision d = DesireTask("tg", "d", models::TaskDefinition(), kNow);
  ASSERT_TRUE(d.after.has_value());
  EXPECT_TRUE(d.after->has_task_definition());
}

// --- start ---

TEST(TaskLifecycleTest, StartingAPendingTaskRunsItOnTheCell) {
  TaskDecision d = StartTask(TaskIn(models::Task::Pending), "cell-1", kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_TRUE(d.after.has_value());
  EXPECT_EQ(d.after->state(), models::Task::Running);
  EXPECT_EQ(d.after->cell_id(), "cell-1");
  EXPECT_EQ(d.after->updated_at(), kNow);
  EXPECT_TRUE(d.should_start);
  EXPECT_EQ(d.event, TaskEvent::kChanged);
  EXPECT_FALSE(d.start_callback);
}

TEST(TaskLifecycleTest, StartingATaskRunningOnTheSameCellChangesNothing) {
  TaskDecision d = StartTask(TaskIn(models::Task::Running, "cell-1"), "cell-1", kNow);
  ExpectRefused(d, "OK");
}

TEST(TaskLifecycleTest, StartingATaskRunningOnAnotherCellIsAnInvalidStateTransition) {
  ExpectRefused(StartTask(TaskIn(models::Task::Running, "cell-1"), "cell-2", kNow),
                "InvalidStateTransition: Cannot transition from Running to Running");
}

TEST(TaskLifecycleTest, RefusesEveryTransitionTheStateMachineDoesNotHave) {
  struct Case {
    models::Task::State from;
    const char* to;
    std::function<TaskDecision(const models::Task&)> run;
  };
  const std::vector<Case> cases = {
      {models::Task::Completed, "Running",
       [](const models::Task& t) { return StartTask(t, "cell-1", kNow); }},
      {models::Task::Resolving, "Running",
       [](const models::Task& t) { return StartTask(t, "cell-1", kNow); }},
      {models::Task::Invalid, "Running",
       [](const models::Task& t) { return StartTask(t, "cell-1", kNow); }},
      {models::Task::Completed, "Completed",
       [](const models::Task& t) { return CancelTask(t, kNow); }},
      {models::Task::Resolving, "Completed",
       [](const models::Task& t) { return CancelTask(t, kNow); }},
      {models::Task::Completed, "Completed",
       [](const models::Task& t) { return FailTask(t, "boom", kNow); }},
      {models::Task::Resolving, "Completed",
       [](const models::Task& t) { return FailTask(t, "boom", kNow); }},
      {models::Task::Pending, "Completed",
       [](const models::Task& t) { return CompleteTask(t, "cell-1", false, "", "", kNow); }},
      {models::Task::Completed, "Completed",
       [](const models::Task& t) { return CompleteTask(t, "cell-1", false, "", "", kNow); }},
      {models::Task::Resolving, "Completed",
       [](const models::Task& t) { return CompleteTask(t, "cell-1", false, "", "", kNow); }},
      {models::Task::Pending, "Resolving",
       [](const models::Task& t) { return ResolvingTask(t, kNow); }},
      {models::Task::Resolving, "Resolving",
       [](const models::Task& t) { return ResolvingTask(t, kNow); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(models::Task::State_Name(c.from)) + " -> " + c.to);
    ExpectRefused(c.run(TaskIn(c.from)),
                  std::string("InvalidStateTransition: Cannot transition from ") +
                      models::Task::State_Name(c.from) + " to " + c.to);
  }
}

// --- cancel ---

TEST(TaskLifecycleTest, CancellingAPendingTaskCompletesItFailed) {
  TaskDecision d = CancelTask(TaskIn(models::Task::Pending), kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_TRUE(d.after.has_value());
  ExpectCompletedAtNow(*d.after, true, "task was cancelled", "");
  EXPECT_EQ(d.event, TaskEvent::kChanged);
  EXPECT_EQ(d.cancel_on_cell, "");
  EXPECT_FALSE(d.start_callback);
}

TEST(TaskLifecycleTest, CancellingARunningTaskAsksItsCellToCancel) {
  TaskDecision d = CancelTask(TaskIn(models::Task::Running, "cell-1"), kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_TRUE(d.after.has_value());
  ExpectCompletedAtNow(*d.after, true, "task was cancelled", "");
  EXPECT_EQ(d.cancel_on_cell, "cell-1");
}

TEST(TaskLifecycleTest, CancellingATaskWithACallbackStartsTheCallback) {
  TaskDecision d = CancelTask(TaskIn(models::Task::Running, "cell-1", "http://cc/done"), kNow);
  EXPECT_TRUE(d.start_callback);
}

// --- fail ---

TEST(TaskLifecycleTest, FailingAPendingTaskCompletesItWithTheReason) {
  TaskDecision d = FailTask(TaskIn(models::Task::Pending), "boom", kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_TRUE(d.after.has_value());
  ExpectCompletedAtNow(*d.after, true, "boom", "");
  EXPECT_EQ(d.event, TaskEvent::kChanged);
  EXPECT_FALSE(d.start_callback);
}

TEST(TaskLifecycleTest, FailingARunningTaskClearsTheCellAndDoesNotCallTheRep) {
  TaskDecision d =
      FailTask(TaskIn(models::Task::Running, "cell-1", "http://cc/done"), "boom", kNow);
  ASSERT_TRUE(d.after.has_value());
  ExpectCompletedAtNow(*d.after, true, "boom", "");
  EXPECT_EQ(d.cancel_on_cell, "");
  EXPECT_TRUE(d.start_callback);
}

TEST(TaskLifecycleTest, FailingTruncatesALongReasonTo1024Bytes) {
  TaskDecision d = FailTask(TaskIn(models::Task::Pending), std::string(2000, 'x'), kNow);
  ASSERT_TRUE(d.after.has_value());
  EXPECT_EQ(d.after->failure_reason(), std::string(1013, 'x') + "(truncated)");
}

TEST(TaskLifecycleTest, FailingKeepsAReasonOf1023Bytes) {
  TaskDecision d = FailTask(TaskIn(models::Task::Pending), std::string(1023, 'x'), kNow);
  ASSERT_TRUE(d.after.has_value());
  EXPECT_EQ(d.after->failure_reason(), std::string(1023, 'x'));
}

// --- reject ---

TEST(TaskLifecycleTest, RejectingAPendingTaskCountsTheRejection) {
  TaskDecision d = RejectTask(TaskIn(models::Task::Pending), "no room", 3, kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_TRUE(d.after.has_value());
  EXPECT_EQ(d.after->state(), models::Task::Pending);
  EXPECT_EQ(d.after->rejection_count(), 1);
  EXPECT_EQ(d.after->rejection_reason(), "no room");
  EXPECT_EQ(d.after->updated_at(), kNow);
  EXPECT_EQ(d.after->failed(), false);
  EXPECT_EQ(d.event, TaskEvent::kChanged);
  EXPECT_FALSE(d.request_auction);
  EXPECT_FALSE(d.start_callback);
}

TEST(TaskLifecycleTest, RejectingARunningTaskReturnsItToPendingKeepingTheCell) {
  TaskDecision d = RejectTask(TaskIn(models::Task::Running, "cell-1"), "no room", 3, kNow);
  ASSERT_TRUE(d.after.has_value());
  EXPECT_EQ(d.after->state(), models::Task::Pending);
  EXPECT_EQ(d.after->cell_id(), "cell-1");
  EXPECT_EQ(d.after->rejection_count(), 1);
  EXPECT_EQ(d.cancel_on_cell, "");
}

TEST(TaskLifecycleTest, RejectingACompletedTaskIsAnInvalidRequest) {
  ExpectRefused(RejectTask(TaskIn(models::Task::Completed), "no room", 3, kNow),
                "InvalidRequest: the request received is invalid");
}

TEST(TaskLifecycleTest, RejectingAResolvingTaskIsAnInvalidRequest) {
  ExpectRefused(RejectTask(TaskIn(models::Task::Resolving), "no room", 3, kNow),
                "InvalidRequest: the request received is invalid");
}

TEST(TaskLifecycleTest, WithMaxRetriesThreeTheFourthRejectionFailsTheTask) {
  models::Task task = TaskIn(models::Task::Running, "cell-1", "http://cc/done");
  for (int i = 1; i <= 3; ++i) {
    TaskDecision d = RejectTask(task, "no room " + std::to_string(i), 3, kNow);
    ASSERT_TRUE(d.after.has_value());
    EXPECT_EQ(d.after->state(), models::Task::Pending) << "rejection " << i;
    EXPECT_EQ(d.after->rejection_count(), i);
    EXPECT_FALSE(d.start_callback);
    task = *d.after;
  }
  TaskDecision d = RejectTask(task, "no room 4", 3, kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_TRUE(d.after.has_value());
  ExpectCompletedAtNow(*d.after, true, "no room 4", "");
  EXPECT_EQ(d.after->rejection_count(), 4);
  EXPECT_EQ(d.after->rejection_reason(), "no room 4");
  EXPECT_EQ(d.event, TaskEvent::kChanged);
  EXPECT_TRUE(d.start_callback);
  EXPECT_EQ(d.cancel_on_cell, "");
}

TEST(TaskLifecycleTest, WithMaxRetriesZeroTheFirstRejectionFailsTheTask) {
  TaskDecision d = RejectTask(TaskIn(models::Task::Pending), "no room", 0, kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_TRUE(d.after.has_value());
  ExpectCompletedAtNow(*d.after, true, "no room", "");
  EXPECT_EQ(d.after->rejection_count(), 1);
  EXPECT_FALSE(d.start_callback);
}

TEST(TaskLifecycleTest, RejectingTruncatesBothReasonsTo1024Bytes) {
  const std::string reason(1024, 'y');
  const std::string stored = std::string(1013, 'y') + "(truncated)";
  TaskDecision pending = RejectTask(TaskIn(models::Task::Pending), reason, 3, kNow);
  ASSERT_TRUE(pending.after.has_value());
  EXPECT_EQ(pending.after->rejection_reason(), stored);
  TaskDecision failed = RejectTask(TaskIn(models::Task::Pending), reason, 0, kNow);
  ASSERT_TRUE(failed.after.has_value());
  EXPECT_EQ(failed.after->rejection_reason(), stored);
  EXPECT_EQ(failed.after->failure_reason(), stored);
}

// --- complete ---

TEST(TaskLifecycleTest, CompletingARunningTaskOnItsCellRecordsTheOutcome) {
  TaskDecision d =
      CompleteTask(TaskIn(models::Task::Running, "cell-1"), "cell-1", false, "", "42", kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_TRUE(d.after.has_value());
  ExpectCompletedAtNow(*d.after, false, "", "42");
  EXPECT_EQ(d.event, TaskEvent::kChanged);
  EXPECT_FALSE(d.start_callback);
  EXPECT_EQ(d.cancel_on_cell, "");
}

TEST(TaskLifecycleTest, CompletingATaskWithACallbackStartsTheCallback) {
  TaskDecision d = CompleteTask(TaskIn(models::Task::Running, "cell-1", "http://cc/done"), "cell-1",
                                true, "exit 1", "", kNow);
  ASSERT_TRUE(d.after.has_value());
  ExpectCompletedAtNow(*d.after, true, "exit 1", "");
  EXPECT_TRUE(d.start_callback);
}

TEST(TaskLifecycleTest, CompletingTruncatesTheFailureReasonButNotTheResult) {
  TaskDecision d = CompleteTask(TaskIn(models::Task::Running, "cell-1"), "cell-1", true,
                                std::string(1500, 'z'), std::string(1500, 'r'), kNow);
  ASSERT_TRUE(d.after.has_value());
  EXPECT_EQ(d.after->failure_reason(), std::string(1013, 'z') + "(truncated)");
  EXPECT_EQ(d.after->result(), std::string(1500, 'r'));
}

TEST(TaskLifecycleTest, CompletingATaskRunningOnAnotherCellIsRunningOnDifferentCell) {
  ExpectRefused(
      CompleteTask(TaskIn(models::Task::Running, "cell-1"), "cell-2", false, "", "", kNow),
      "RunningOnDifferentCell: Running on cell cell-1 not cell-2");
}

// --- resolving ---

TEST(TaskLifecycleTest, ResolvingACompletedTaskMakesItResolving) {
  models::Task task = TaskIn(models::Task::Completed, "", "http://cc/done");
  TaskDecision d = ResolvingTask(task, kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_TRUE(d.after.has_value());
  EXPECT_EQ(d.after->state(), models::Task::Resolving);
  EXPECT_EQ(d.after->updated_at(), kNow);
  EXPECT_EQ(d.after->first_completed_at(), kCompletedAt);
  EXPECT_EQ(d.after->result(), "r");
  EXPECT_EQ(d.event, TaskEvent::kChanged);
  EXPECT_FALSE(d.start_callback);
}

TEST(TaskLifecycleTest, ResolvingARunningTaskIsAnInvalidStateTransition) {
  ExpectRefused(ResolvingTask(TaskIn(models::Task::Running, "cell-1"), kNow),
                "InvalidStateTransition: Cannot transition from Running to Resolving");
}

// --- delete ---

TEST(TaskLifecycleTest, DeletingAResolvingTaskRemovesIt) {
  TaskDecision d = DeleteTask(TaskIn(models::Task::Resolving));
  ASSERT_THAT(d.status, IsOk());
  EXPECT_TRUE(d.deleted);
  EXPECT_FALSE(d.after.has_value());
  EXPECT_EQ(d.event, TaskEvent::kRemoved);
}

TEST(TaskLifecycleTest, DeletingACompletedTaskIsAnInvalidStateTransition) {
  ExpectRefused(DeleteTask(TaskIn(models::Task::Completed)),
                "InvalidStateTransition: Cannot transition from Completed to Resolving");
}

TEST(TaskLifecycleTest, DeletingAPendingTaskIsAnInvalidStateTransition) {
  ExpectRefused(DeleteTask(TaskIn(models::Task::Pending)),
                "InvalidStateTransition: Cannot transition from Pending to Resolving");
}

TEST(TaskLifecycleTest, DeletingARunningTaskIsAnInvalidStateTransition) {
  ExpectRefused(DeleteTask(TaskIn(models::Task::Running, "cell-1")),
                "InvalidStateTransition: Cannot transition from Running to Resolving");
}

// --- convergence (behavior.md §7.2), one test per case ---

constexpr TaskConvergenceDurations kDurations{30 * kSecond, 1800 * kSecond, 120 * kSecond};

models::Task Pending(const std::string& guid, int64_t created_at) {
  models::Task task = DesireTask(guid, "d", Definition(), created_at).after.value();
  return task;
}

models::Task InState(const std::string& guid, models::Task::State state, int64_t updated_at,
                     int64_t first_completed_at, const std::string& cell_id = "") {
  models::Task task = Pending(guid, kNow - 60 * kSecond);
  task.set_state(state);
  task.set_updated_at(updated_at);
  task.set_first_completed_at(first_completed_at);
  task.set_cell_id(cell_id);
  return task;
}

TaskConvergence ConvergeAtNow(const std::vector<models::Task>& tasks,
                              const std::set<std::string>& cells = {"cell-1"}) {
  std::vector<const models::Task*> pointers;
  pointers.reserve(tasks.size());
  for (const models::Task& task : tasks) {
    pointers.push_back(&task);
  }
  return Converge(pointers, cells, kNow, kDurations);
}

TEST(TaskConvergenceTest, NothingToDoForFreshTasks) {
  std::vector<models::Task> tasks = {
      InState("r", models::Task::Running, kNow, 0, "cell-1"),
      InState("c", models::Task::Completed, kNow - kDurations.kick, kNow),
      InState("v", models::Task::Resolving, kNow - kDurations.kick, kNow)};
  TaskConvergence c = ConvergeAtNow(tasks);
  EXPECT_TRUE(c.expired_pending.empty());
  EXPECT_TRUE(c.to_auction.empty());
  EXPECT_TRUE(c.cell_disappeared.empty());
  EXPECT_TRUE(c.demoted_resolving.empty());
  EXPECT_TRUE(c.to_delete.empty());
  EXPECT_TRUE(c.to_kick.empty());
  EXPECT_EQ(c.metrics.running, 1);
  EXPECT_EQ(c.metrics.completed, 1);
  EXPECT_EQ(c.metrics.resolving, 1);
  EXPECT_EQ(c.metrics.kicked, 0);
  EXPECT_EQ(c.metrics.pruned, 0);
}

// `after` is COMPLETED, failed with `reason`, without result, completed and updated now, and
// still names `cell`.
void ExpectFailedByConvergence(const models::Task& after, const std::string& reason,
                               const std::string& cell) {
  EXPECT_EQ(after.state(), models::Task::Completed);
  EXPECT_TRUE(after.failed());
  EXPECT_EQ(after.failure_reason(), reason);
  EXPECT_EQ(after.result(), "");
  EXPECT_EQ(after.first_completed_at(), kNow);
  EXPECT_EQ(after.updated_at(), kNow);
  EXPECT_EQ(after.cell_id(), cell);
}

TEST(TaskConvergenceTest, PendingTaskCreatedBeforeTheExpiryIsCompletedFailed) {
  std::vector<models::Task> tasks = {Pending("old", kNow - kDurations.expire_pending - 1)};
  tasks[0].set_cell_id("cell-9");  // left by a rejection; the update keeps it
  TaskConvergence c = ConvergeAtNow(tasks);
  ASSERT_EQ(c.expired_pending.size(), 1u);
  EXPECT_EQ(c.expired_pending[0].before, &tasks[0]);
  const models::Task& after = c.expired_pending[0].after;
  ExpectFailedByConvergence(after, "not started within time limit", "cell-9");
  EXPECT_TRUE(c.to_auction.empty());
  EXPECT_TRUE(c.to_kick.empty());  // completed just now: not kicked in this pass
  EXPECT_TRUE(c.to_delete.empty());
  EXPECT_EQ(c.metrics.kicked, 1);
  EXPECT_EQ(c.metrics.pending, 0);
  EXPECT_EQ(c.metrics.completed, 1);
}

TEST(TaskConvergenceTest, PendingTaskCreatedExactlyAtTheExpiryIsNeitherExpiredNorAuctioned) {
  std::vector<models::Task> tasks = {Pending("edge", kNow - kDurations.expire_pending)};
  TaskConvergence c = ConvergeAtNow(tasks);
  EXPECT_TRUE(c.expired_pending.empty());
  EXPECT_TRUE(c.to_auction.empty());
  EXPECT_EQ(c.metrics.kicked, 0);
  EXPECT_EQ(c.metrics.pending, 1);
}

TEST(TaskConvergenceTest, EveryPendingTaskWithinTheExpiryIsReauctioned) {
  std::vector<models::Task> tasks = {Pending("new", kNow),
                                     Pending("older", kNow - kDurations.expire_pending + 1)};
  TaskConvergence c = ConvergeAtNow(tasks);
  ASSERT_EQ(c.to_auction.size(), 2u);
  EXPECT_EQ(c.to_auction[0], &tasks[0]);
  EXPECT_EQ(c.to_auction[1], &tasks[1]);
  EXPECT_TRUE(c.expired_pending.empty());
  EXPECT_EQ(c.metrics.kicked, 2);
  EXPECT_EQ(c.metrics.pending, 2);
}

TEST(TaskConvergenceTest, RunningTaskOnAVanishedCellIsFailedKeepingItsCell) {
  std::vector<models::Task> tasks = {InState("gone", models::Task::Running, kEarlier, 0, "cell-2"),
                                     InState("here", models::Task::Running, kEarlier, 0, "cell-1")};
  TaskConvergence c = ConvergeAtNow(tasks);
  ASSERT_EQ(c.cell_disappeared.size(), 1u);
  EXPECT_EQ(c.cell_disappeared[0].before, &tasks[0]);
  const models::Task& after = c.cell_disappeared[0].after;
  ExpectFailedByConvergence(after, "cell disappeared before completion", "cell-2");
  EXPECT_EQ(c.metrics.kicked, 1);
  EXPECT_EQ(c.metrics.running, 1);
  EXPECT_EQ(c.metrics.completed, 1);
}

TEST(TaskConvergenceTest, WithNoCellsEveryRunningTaskIsFailed) {
  std::vector<models::Task> tasks = {InState("a", models::Task::Running, kEarlier, 0, "cell-1"),
                                     InState("b", models::Task::Running, kEarlier, 0, "")};
  TaskConvergence c = ConvergeAtNow(tasks, {});
  EXPECT_EQ(c.cell_disappeared.size(), 2u);
  EXPECT_EQ(c.metrics.running, 0);
  EXPECT_EQ(c.metrics.completed, 2);
}

TEST(TaskConvergenceTest, ResolvingTaskNotUpdatedForTheKickDurationIsDemotedAndKicked) {
  std::vector<models::Task> tasks = {
      InState("stuck", models::Task::Resolving, kNow - kDurations.kick - 1, kNow - 40 * kSecond)};
  TaskConvergence c = ConvergeAtNow(tasks);
  ASSERT_EQ(c.demoted_resolving.size(), 1u);
  EXPECT_EQ(c.demoted_resolving[0].before, &tasks[0]);
  EXPECT_EQ(c.demoted_resolving[0].after.state(), models::Task::Completed);
  EXPECT_EQ(c.demoted_resolving[0].after.updated_at(), kNow - kDurations.kick - 1);
  ASSERT_EQ(c.to_kick.size(), 1u);
  EXPECT_EQ(c.to_kick[0].task_guid(), "stuck");
  EXPECT_EQ(c.to_kick[0].state(), models::Task::Completed);
  EXPECT_EQ(c.metrics.kicked, 1);
  EXPECT_EQ(c.metrics.resolving, 0);
  EXPECT_EQ(c.metrics.completed, 1);
}

TEST(TaskConvergenceTest, ResolvingTaskUpdatedExactlyAtTheKickDurationIsLeftAlone) {
  std::vector<models::Task> tasks = {
      InState("v", models::Task::Resolving, kNow - kDurations.kick, kNow - 40 * kSecond)};
  TaskConvergence c = ConvergeAtNow(tasks);
  EXPECT_TRUE(c.demoted_resolving.empty());
  EXPECT_TRUE(c.to_kick.empty());
  EXPECT_EQ(c.metrics.resolving, 1);
}

TEST(TaskConvergenceTest, CompletedTaskPastTheCompletedExpiryIsDeleted) {
  const int64_t first = kNow - kDurations.expire_completed - 1;
  std::vector<models::Task> tasks = {InState("old", models::Task::Completed, first, first)};
  TaskConvergence c = ConvergeAtNow(tasks);
  ASSERT_EQ(c.to_delete.size(), 1u);
  EXPECT_EQ(c.to_delete[0].task_guid(), "old");
  EXPECT_TRUE(c.to_kick.empty());
  EXPECT_EQ(c.metrics.pruned, 1);
  EXPECT_EQ(c.metrics.kicked, 0);
  EXPECT_EQ(c.metrics.completed, 0);
}

TEST(TaskConvergenceTest, CompletedTaskExactlyAtTheCompletedExpiryIsKickedNotDeleted) {
  const int64_t first = kNow - kDurations.expire_completed;
  std::vector<models::Task> tasks = {InState("edge", models::Task::Completed, first, first)};
  TaskConvergence c = ConvergeAtNow(tasks);
  EXPECT_TRUE(c.to_delete.empty());
  ASSERT_EQ(c.to_kick.size(), 1u);
  EXPECT_EQ(c.metrics.completed, 1);
}

TEST(TaskConvergenceTest, StuckResolvingTaskPastTheCompletedExpiryIsDemotedThenDeleted) {
  const int64_t first = kNow - kDurations.expire_completed - 1;
  std::vector<models::Task> tasks = {
      InState("late", models::Task::Resolving, kNow - kDurations.kick - 1, first)};
  TaskConvergence c = ConvergeAtNow(tasks);
  ASSERT_EQ(c.demoted_resolving.size(), 1u);
  ASSERT_EQ(c.to_delete.size(), 1u);
  EXPECT_EQ(c.to_delete[0].state(), models::Task::Completed);
  EXPECT_TRUE(c.to_kick.empty());
  EXPECT_EQ(c.metrics.pruned, 1);
  EXPECT_EQ(c.metrics.kicked, 0);
  EXPECT_EQ(c.metrics.completed, 0);
  EXPECT_EQ(c.metrics.resolving, 0);
}

TEST(TaskConvergenceTest, ResolvingTaskPastTheCompletedExpiryButRecentlyUpdatedIsKept) {
  const int64_t first = kNow - kDurations.expire_completed - 1;
  std::vector<models::Task> tasks = {InState("busy", models::Task::Resolving, kNow, first)};
  TaskConvergence c = ConvergeAtNow(tasks);
  EXPECT_TRUE(c.to_delete.empty());
  EXPECT_EQ(c.metrics.resolving, 1);
}

TEST(TaskConvergenceTest, CompletedTaskNotUpdatedForTheKickDurationIsKicked) {
  std::vector<models::Task> tasks = {
      InState("k", models::Task::Completed, kNow - kDurations.kick - 1, kNow - 40 * kSecond),
      InState("fresh", models::Task::Completed, kNow - kDurations.kick, kNow - 40 * kSecond)};
  TaskConvergence c = ConvergeAtNow(tasks);
  ASSERT_EQ(c.to_kick.size(), 1u);
  EXPECT_EQ(c.to_kick[0].task_guid(), "k");
  EXPECT_EQ(c.metrics.kicked, 1);
  EXPECT_EQ(c.metrics.completed, 2);
}

TEST(TaskConvergenceTest, CountsEveryStateAndSumsTheKicks) {
  std::vector<models::Task> tasks = {
      Pending("p1", kNow),
      Pending("p2", kNow - kDurations.expire_pending - 1),
      InState("r1", models::Task::Running, kNow, 0, "cell-1"),
      InState("r2", models::Task::Running, kNow, 0, "cell-2"),
      InState("c1", models::Task::Completed, kNow - kDurations.kick - 1, kNow - 40 * kSecond),
      InState("c2", models::Task::Completed, kNow, kNow - kDurations.expire_completed - 1),
      InState("v1", models::Task::Resolving, kNow, kNow)};
  TaskConvergence c = ConvergeAtNow(tasks);
  EXPECT_EQ(c.metrics.pending, 1);    // p1
  EXPECT_EQ(c.metrics.running, 1);    // r1
  EXPECT_EQ(c.metrics.completed, 3);  // p2, r2, c1 (c2 deleted)
  EXPECT_EQ(c.metrics.resolving, 1);  // v1
  EXPECT_EQ(c.metrics.kicked, 4);     // p2 expired, p1 auctioned, r2 failed, c1 kicked
  EXPECT_EQ(c.metrics.pruned, 1);     // c2
}

}  // namespace
}  // namespace bbs::domain
