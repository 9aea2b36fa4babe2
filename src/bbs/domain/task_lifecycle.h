#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "models/task.pb.h"

// The task state machine (behavior.md §5, api.md §8.4) and the task convergence calculator
// (behavior.md §7.2). Pure functions: no I/O, no clock; `now` is Unix time in ns. The state
// engine commits what a decision says, publishes its event and performs the outbound work
// (auction, rep cancel, completion callback). All functions are thread-safe.
namespace bbs::domain {

// The event a task decision emits once committed.
enum class TaskEvent {
  kNone,
  kCreated,  // task_created{after}
  kChanged,  // task_changed{before = the task passed in, after}
  kRemoved,  // task_removed{the task passed in}
};

// What a task operation decided.
struct TaskDecision {
  Status status;  // the answer to the caller; when not OK nothing else is set
  // The task to write (insert for DesireTask, else update); nullopt when nothing is written.
  std::optional<models::Task> after;
  bool deleted = false;  // the task passed in is to be deleted
  TaskEvent event = TaskEvent::kNone;
  // `after` is COMPLETED and has a completion_callback_url: submit it to the callback pool.
  bool start_callback = false;
  // Non-empty: ask the rep of this cell to cancel the task (CancelTask only).
  std::string cancel_on_cell;
  bool should_start = false;     // StartTask's answer
  bool request_auction = false;  // DesireTask: send a task start request to the auctioneer

  bool changed() const { return after.has_value() || deleted; }
};

// "Pending", "Running", "Completed", "Resolving", "Invalid"; the number for unknown values.
std::string TaskStateName(models::Task::State state);

// The generic transition check (behavior.md §5.1): to Running only from Pending, to Completed
// only from Running, to Resolving only from Completed. Otherwise InvalidStateTransition
// "Cannot transition from <From> to <To>".
Status ValidateTaskTransition(models::Task::State from, models::Task::State to);

// A new PENDING task: created_at = updated_at = now, first_completed_at 0, task_definition
// always present. Emits task_created and asks for an auction. REQUIRES: the request passed
// validation (api.md §7.5); the caller checks that `guid` does not exist yet.
TaskDecision DesireTask(const std::string& guid, const std::string& domain,
                        const models::TaskDefinition& definition, int64_t now);

// RUNNING on `cell_id` already: no change, should_start = false. PENDING: RUNNING on `cell_id`,
// should_start = true. Otherwise InvalidStateTransition.
TaskDecision StartTask(const models::Task& task, const std::string& cell_id, int64_t now);

// PENDING/RUNNING -> COMPLETED, failed, "task was cancelled". If the task had a cell, that
// cell's rep is to be told to cancel. Otherwise InvalidStateTransition.
TaskDecision CancelTask(const models::Task& task, int64_t now);

// PENDING/RUNNING -> COMPLETED, failed, failure_reason = `reason` truncated to 1024 bytes.
// Otherwise InvalidStateTransition.
TaskDecision FailTask(const models::Task& task, const std::string& reason, int64_t now);

// PENDING/RUNNING -> PENDING with rejection_count + 1 and rejection_reason (cell_id kept). If
// the count before was already >= `max_task_retries`, the task is failed with `reason` instead
// (one change, one task_changed from the task passed in). Otherwise InvalidRequest.
TaskDecision RejectTask(const models::Task& task, const std::string& reason,
                        int32_t max_task_retries, int64_t now);

// RUNNING on `cell_id` -> COMPLETED with the given outcome, cell_id cleared. RUNNING elsewhere:
// RunningOnDifferentCell "Running on cell <stored> not <requested>"; not RUNNING:
// InvalidStateTransition.
TaskDecision CompleteTask(const models::Task& task, const std::string& cell_id, bool failed,
                          const std::string& failure_reason, const std::string& result,
                          int64_t now);

// COMPLETED -> RESOLVING. Otherwise InvalidStateTransition.
TaskDecision ResolvingTask(const models::Task& task, int64_t now);

// RESOLVING -> deleted (emits task_removed). Otherwise InvalidStateTransition
// "Cannot transition from <State> to Resolving" (upstream's text).
TaskDecision DeleteTask(const models::Task& task);

// --- convergence (behavior.md §7.2) ---

inline constexpr char kTaskCancelledReason[] = "task was cancelled";
inline constexpr char kExpiredPendingReason[] = "not started within time limit";
inline constexpr char kCellDisappearedReason[] = "cell disappeared before completion";

// Durations in ns (BOSH defaults: 30 s, 30 min, 120 s).
struct TaskConvergenceDurations {
  int64_t kick = 0;              // kick_task_duration
  int64_t expire_pending = 0;    // expire_pending_task_duration
  int64_t expire_completed = 0;  // expire_completed_task_duration
};

// One task rewritten by convergence; emits task_changed{*before, after}.
struct TaskUpdate {
  const models::Task* before = nullptr;  // points into the input
  models::Task after;
};

struct TaskConvergenceMetrics {
  int32_t pending = 0;  // per-state counts after this pass
  int32_t running = 0;
  int32_t completed = 0;
  int32_t resolving = 0;
  int32_t kicked = 0;  // steps 1, 2, 3 and 6
  int32_t pruned = 0;  // step 5 (the caller adds the undecodable rows it deleted)
};

// What one task convergence pass decided, step by step. The caller applies steps 1, 3, 4 and
// 5 in this order (a task may be demoted in step 4 and deleted in step 5), then emits their
// events, sends one auction request for `to_auction` and submits `to_kick` to the callback
// pool.
struct TaskConvergence {
  std::vector<TaskUpdate> expired_pending;      // 1. PENDING -> COMPLETED, failed
  std::vector<const models::Task*> to_auction;  // 2. PENDING to re-auction (into the input)
  std::vector<TaskUpdate> cell_disappeared;     // 3. RUNNING -> COMPLETED, failed, cell kept
  std::vector<TaskUpdate> demoted_resolving;    // 4. RESOLVING -> COMPLETED, updated_at kept
  std::vector<models::Task> to_delete;          // 5. as of step 4; emit task_removed
  std::vector<models::Task> to_kick;            // 6. COMPLETED, as of step 4
  TaskConvergenceMetrics metrics;               // 7.
};

// The task convergence calculator. A RUNNING task is on a vanished cell when its cell_id is
// not in `present_cells` (every RUNNING task when the set is empty). REQUIRES: no element of
// `tasks` is null; they outlive the result.
TaskConvergence Converge(const std::vector<const models::Task*>& tasks,
                         const std::set<std::string>& present_cells, int64_t now,
                         const TaskConvergenceDurations& durations);

}  // namespace bbs::domain
