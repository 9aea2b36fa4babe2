#include "bbs/domain/task_lifecycle.h"

#include <utility>

#include "bbs/models/conversion.h"

namespace bbs::domain {
namespace {

using State = models::Task::State;

TaskDecision Refused(Status status) {
  TaskDecision d;
  d.status = std::move(status);
  return d;
}

// `task` moved to COMPLETED as every completing operation does it (behavior.md §5.2).
models::Task Completed(const models::Task& task, bool failed, std::string failure_reason,
                       std::string result, int64_t now) {
  models::Task after = task;
  after.set_state(models::Task::Completed);
  after.set_failed(failed);
  after.set_failure_reason(wire::Truncate1024(std::move(failure_reason)));
  after.set_result(std::move(result));
  after.clear_cell_id();
  after.set_first_completed_at(now);
  after.set_updated_at(now);
  return after;
}

bool HasCallback(const models::Task& task) {
  return !task.task_definition().completion_callback_url().empty();
}

TaskDecision Changed(models::Task after) {
  TaskDecision d;
  d.start_callback = after.state() == models::Task::Completed && HasCallback(after);
  d.after = std::move(after);
  d.event = TaskEvent::kChanged;
  return d;
}

bool PendingOrRunning(const models::Task& task) {
  return task.state() == models::Task::Pending || task.state() == models::Task::Running;
}

// Cancel and fail also complete a PENDING task, which the generic check refuses.
Status ValidateFail(const models::Task& task) {
  if (task.state() == models::Task::Pending) {
    return Status::Ok();
  }
  return ValidateTaskTransition(task.state(), models::Task::Completed);
}

}  // namespace

std::string TaskStateName(State state) {
  if (!models::Task::State_IsValid(state)) {
    return std::to_string(static_cast<int>(state));
  }
  return models::Task::State_Name(state);
}

Status ValidateTaskTransition(State from, State to) {
  bool valid = false;
  switch (to) {
    case models::Task::Running:
      valid = from == models::Task::Pending;
      break;
    case models::Task::Completed:
      valid = from == models::Task::Running;
      break;
    case models::Task::Resolving:
      valid = from == models::Task::Completed;
      break;
    default:
      break;
  }
  if (valid) {
    return Status::Ok();
  }
  return Status(ErrorCode::kInvalidStateTransition,
                "Cannot transition from " + TaskStateName(from) + " to " + TaskStateName(to));
}

TaskDecision DesireTask(const std::string& guid, const std::string& domain,
                        const models::TaskDefinition& definition, int64_t now) {
  models::Task task;
  task.set_task_guid(guid);
  task.set_domain(domain);
  *task.mutable_task_definition() = definition;
  task.set_state(models::Task::Pending);
  task.set_created_at(now);
  task.set_updated_at(now);
  task.set_first_completed_at(0);
  TaskDecision d;
  d.after = std::move(task);
  d.event = TaskEvent::kCreated;
  d.request_auction = true;
  return d;
}

TaskDecision StartTask(const models::Task& task, const std::string& cell_id, int64_t now) {
  if (task.state() == models::Task::Running && task.cell_id() == cell_id) {
    return TaskDecision{};
  }
  if (Status s = ValidateTaskTransition(task.state(), models::Task::Running); !s.ok()) {
    return Refused(std::move(s));
  }
  models::Task after = task;
  after.set_state(models::Task::Running);
  after.set_cell_id(cell_id);
  after.set_updated_at(now);
  TaskDecision d = Changed(std::move(after));
  d.should_start = true;
  return d;
}

TaskDecision CancelTask(const models::Task& task, int64_t now) {
  if (Status s = ValidateFail(task); !s.ok()) {
    return Refused(std::move(s));
  }
  TaskDecision d = Changed(Completed(task, true, kTaskCancelledReason, "", now));
  // Upstream asks the rep whenever the stored cell_id is set; a PENDING task keeps the cell of
  // the rep that rejected it.
  d.cancel_on_cell = task.cell_id();
  return d;
}

TaskDecision FailTask(const models::Task& task, const std::string& reason, int64_t now) {
  if (Status s = ValidateFail(task); !s.ok()) {
    return Refused(std::move(s));
  }
  return Changed(Completed(task, true, reason, "", now));
}

TaskDecision RejectTask(const models::Task& task, const std::string& reason,
                        int32_t max_task_retries, int64_t now) {
  if (!PendingOrRunning(task)) {
    return Refused(InvalidRequest());
  }
  models::Task rejected = task;
  rejected.set_rejection_count(task.rejection_count() + 1);
  rejected.set_rejection_reason(wire::Truncate1024(reason));
  rejected.set_state(models::Task::Pending);
  rejected.set_updated_at(now);
  if (task.rejection_count() >= max_task_retries) {
    return FailTask(rejected, reason, now);
  }
  return Changed(std::move(rejected));
}

TaskDecision CompleteTask(const models::Task& task, const std::string& cell_id, bool failed,
                          const std::string& failure_reason, const std::string& result,
                          int64_t now) {
  if (task.state() == models::Task::Running && task.cell_id() != cell_id) {
    return Refused(Status(ErrorCode::kRunningOnDifferentCell,
                          "Running on cell " + task.cell_id() + " not " + cell_id));
  }
  if (Status s = ValidateTaskTransition(task.state(), models::Task::Completed); !s.ok()) {
    return Refused(std::move(s));
  }
  return Changed(Completed(task, failed, failure_reason, result, now));
}

TaskDecision ResolvingTask(const models::Task& task, int64_t now) {
  if (Status s = ValidateTaskTransition(task.state(), models::Task::Resolving); !s.ok()) {
    return Refused(std::move(s));
  }
  models::Task after = task;
  after.set_state(models::Task::Resolving);
  after.set_updated_at(now);
  return Changed(std::move(after));
}

TaskDecision DeleteTask(const models::Task& task) {
  if (task.state() != models::Task::Resolving) {
    return Refused(Status(ErrorCode::kInvalidStateTransition,
                          "Cannot transition from " + TaskStateName(task.state()) + " to " +
                              TaskStateName(models::Task::Resolving)));
  }
  TaskDecision d;
  d.deleted = true;
  d.event = TaskEvent::kRemoved;
  return d;
}

namespace {

// Convergence's failure of a task (behavior.md §7.2 steps 1 and 3): COMPLETED, failed with
// `reason`, no result, completed and updated now.
models::Task ConvergenceFailure(const models::Task& task, const char* reason, int64_t now) {
  models::Task after = task;
  after.set_state(models::Task::Completed);
  after.set_failed(true);
  after.set_failure_reason(reason);
  after.set_result("");
  after.set_first_completed_at(now);
  after.set_updated_at(now);
  return after;
}

}  // namespace

TaskConvergence Converge(const std::vector<const models::Task*>& tasks,
                         const std::set<std::string>& present_cells, int64_t now,
                         const TaskConvergenceDurations& durations) {
  TaskConvergence c;
  const int64_t expire_pending_before = now - durations.expire_pending;
  const int64_t kick_before = now - durations.kick;
  const int64_t expire_completed_before = now - durations.expire_completed;

  for (const models::Task* task : tasks) {
    // The task as the SQL steps see it one after the other: a task changed by an earlier step
    // is seen changed by the later ones.
    const models::Task* current = task;
    bool deleted = false;
    switch (task->state()) {
      case models::Task::Pending:
        if (task->created_at() < expire_pending_before) {  // 1.
          c.expired_pending.push_back(
              {task, ConvergenceFailure(*task, kExpiredPendingReason, now)});
          current = &c.expired_pending.back().after;
          ++c.metrics.kicked;
        } else if (task->created_at() > expire_pending_before) {  // 2.
          c.to_auction.push_back(task);
          ++c.metrics.kicked;
        }
        break;
      case models::Task::Running:
        if (present_cells.count(task->cell_id()) == 0) {  // 3.
          c.cell_disappeared.push_back(
              {task, ConvergenceFailure(*task, kCellDisappearedReason, now)});
          current = &c.cell_disappeared.back().after;
          ++c.metrics.kicked;
        }
        break;
      case models::Task::Resolving:
        if (task->updated_at() < kick_before) {  // 4.
          models::Task after = *task;
          after.set_state(models::Task::Completed);
          c.demoted_resolving.push_back({task, std::move(after)});
          current = &c.demoted_resolving.back().after;
        }
        break;
      default:
        break;
    }

    if (current->state() == models::Task::Completed) {
      if (current->first_completed_at() < expire_completed_before) {  // 5.
        c.to_delete.push_back(*current);
        ++c.metrics.pruned;
        deleted = true;
      } else if (current->updated_at() < kick_before) {  // 6.
        c.to_kick.push_back(*current);
        ++c.metrics.kicked;
      }
    }

    if (deleted) {
      continue;
    }
    // 7. Per-state counts.
    static constexpr std::pair<models::Task::State, int32_t TaskConvergenceMetrics::*> kCounters[] =
        {{models::Task::Pending, &TaskConvergenceMetrics::pending},
         {models::Task::Running, &TaskConvergenceMetrics::running},
         {models::Task::Completed, &TaskConvergenceMetrics::completed},
         {models::Task::Resolving, &TaskConvergenceMetrics::resolving}};
    for (const auto& [state, counter] : kCounters) {
      if (current->state() == state) ++(c.metrics.*counter);
    }
  }
  return c;
}

}  // namespace bbs::domain
