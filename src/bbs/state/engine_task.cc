// The task operations of the state engine (behavior.md §5): lock the task, let the pure state
// machine decide, commit, publish, then do the outbound work without holding a lock.

#include "bbs/clients/auctioneer.h"
#include "bbs/clients/reps.h"
#include "bbs/domain/events.h"
#include "bbs/domain/task_lifecycle.h"
#include "bbs/state/engine.h"
#include "bbs/state/start_requests.h"

namespace bbs::state {

namespace {

domain::Event TaskEventOf(domain::TaskEvent kind, const TaskPtr& before,
                          const models::Task* after) {
  switch (kind) {
    case domain::TaskEvent::kCreated:
      return domain::TaskCreatedEvent(*after);
    case domain::TaskEvent::kChanged:
      return domain::TaskChangedEvent(*before, *after);
    default:
      return domain::TaskRemovedEvent(*before);
  }
}

}  // namespace

std::unique_lock<std::mutex> Engine::LockTask(const std::string& task_guid) {
  return LockProcess("task:" + task_guid);
}

Status Engine::ApplyTaskDecision(std::unique_lock<std::mutex>& lock, const TaskPtr& before,
                                 const domain::TaskDecision& d, const std::string& trace_id) {
  if (!d.status.ok()) return d.status;
  TaskPtr after;
  if (d.changed()) {
    Change change;
    if (d.after) {
      after = std::make_shared<const models::Task>(*d.after);
      change.mutations.push_back(storage::PutTask{*d.after});
    } else if (d.deleted) {
      change.mutations.push_back(storage::DeleteTask{before->task_guid()});
    }
    if (d.event != domain::TaskEvent::kNone) {
      change.events.push_back(TaskEventOf(d.event, before, after.get()));
    }
    Status s = Commit(std::move(change));
    if (!s.ok()) return s;
  }
  lock.unlock();
  if (d.request_auction && auctioneer_ != nullptr && after) {
    auctioneer_->RequestTaskAuctions({TaskStartRequestOf(*after)});
  }
  if (d.start_callback && after && callback_sink_) callback_sink_(after);
  if (!d.cancel_on_cell.empty() && cells_ != nullptr && reps_ != nullptr) {
    auto presence = cells_->Lookup(d.cancel_on_cell);
    if (presence.ok()) {
      // Only a failure to build the rep client reaches the caller (outbound.md §4.6).
      return reps_->CancelTask(presence->rep_url(), before->task_guid(), trace_id);
    }
  }
  return Status::Ok();
}

TaskPtr Engine::Task(const std::string& task_guid) const {
  std::shared_lock lock(state_mu_);
  auto it = tasks_.find(task_guid);
  return it == tasks_.end() ? nullptr : it->second;
}

std::vector<TaskPtr> Engine::Tasks(const std::string& domain, const std::string& cell_id) const {
  std::vector<TaskPtr> out;
  std::shared_lock lock(state_mu_);
  out.reserve(tasks_.size());
  for (const auto& [guid, task] : tasks_) {
    if (!domain.empty() && task->domain() != domain) continue;
    if (!cell_id.empty() && task->cell_id() != cell_id) continue;
    out.push_back(task);
  }
  return out;
}

Status Engine::DesireTask(const std::string& task_guid, const std::string& domain,
                          const models::TaskDefinition& definition) {
  auto lock = LockTask(task_guid);
  if (Task(task_guid)) return Exists();
  auto d = domain::DesireTask(task_guid, domain, definition, clock_->NowNanos());
  return ApplyTaskDecision(lock, nullptr, d, "");
}

Result<bool> Engine::StartTask(const std::string& task_guid, const std::string& cell_id) {
  auto lock = LockTask(task_guid);
  TaskPtr task = Task(task_guid);
  if (!task) return NotFound();
  auto d = domain::StartTask(*task, cell_id, clock_->NowNanos());
  Status s = ApplyTaskDecision(lock, task, d, "");
  if (!s.ok()) return s;
  return d.should_start;
}

Status Engine::CancelTask(const std::string& task_guid, const std::string& trace_id) {
  auto lock = LockTask(task_guid);
  TaskPtr task = Task(task_guid);
  if (!task) return NotFound();
  auto d = domain::CancelTask(*task, clock_->NowNanos());
  return ApplyTaskDecision(lock, task, d, trace_id);
}

Status Engine::FailTask(const std::string& task_guid, const std::string& reason) {
  auto lock = LockTask(task_guid);
  TaskPtr task = Task(task_guid);
  if (!task) return NotFound();
  auto d = domain::FailTask(*task, reason, clock_->NowNanos());
  return ApplyTaskDecision(lock, task, d, "");
}

Status Engine::RejectTask(const std::string& task_guid, const std::string& reason) {
  auto lock = LockTask(task_guid);
  TaskPtr task = Task(task_guid);
  if (!task) return NotFound();
  auto d = domain::RejectTask(*task, reason, task_options_.max_task_retries, clock_->NowNanos());
  return ApplyTaskDecision(lock, task, d, "");
}

Status Engine::CompleteTask(const std::string& task_guid, const std::string& cell_id, bool failed,
                            const std::string& failure_reason, const std::string& result) {
  auto lock = LockTask(task_guid);
  TaskPtr task = Task(task_guid);
  if (!task) return NotFound();
  auto d = domain::CompleteTask(*task, cell_id, failed, failure_reason, result, clock_->NowNanos());
  return ApplyTaskDecision(lock, task, d, "");
}

Status Engine::ResolvingTask(const std::string& task_guid) {
  auto lock = LockTask(task_guid);
  TaskPtr task = Task(task_guid);
  if (!task) return NotFound();
  auto d = domain::ResolvingTask(*task, clock_->NowNanos());
  return ApplyTaskDecision(lock, task, d, "");
}

Status Engine::DeleteTask(const std::string& task_guid) {
  auto lock = LockTask(task_guid);
  TaskPtr task = Task(task_guid);
  if (!task) return NotFound();
  auto d = domain::DeleteTask(*task);
  return ApplyTaskDecision(lock, task, d, "");
}

}  // namespace bbs::state
