#include "bbs/state/tasks.h"

#include "bbs/domain/events.h"

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

Status Tasks::Apply(KeyLocks::Held& lock, const TaskPtr& before, const domain::TaskDecision& d,
                    const std::string& trace_id) {
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
    Status s = ctx_.committer->Commit(std::move(change));
    if (!s.ok()) return s;
  }
  lock.unlock();
  if (d.request_auction && after) ctx_.outbound->RequestTaskAuctions({after.get()});
  if (d.start_callback && after) Kick(after);
  if (!d.cancel_on_cell.empty()) {
    return ctx_.outbound->CancelTask(d.cancel_on_cell, before->task_guid(), trace_id);
  }
  return Status::Ok();
}

void Tasks::Kick(const TaskPtr& task) const {
  if (callback_sink_) callback_sink_(task);
}

template <typename DecideFn>
Status Tasks::Decide(const std::string& task_guid, const std::string& trace_id, DecideFn decide,
                     domain::TaskDecision* out) {
  auto lock = ctx_.locks->Lock(KeyLocks::TaskKey(task_guid));
  TaskPtr task = ctx_.model->Task(task_guid);
  if (!task) return NotFound();
  domain::TaskDecision d = decide(*task);
  Status s = Apply(lock, task, d, trace_id);
  if (out != nullptr) *out = std::move(d);
  return s;
}

Status Tasks::DesireTask(const std::string& task_guid, const std::string& domain,
                         const models::TaskDefinition& definition) {
  auto lock = ctx_.locks->Lock(KeyLocks::TaskKey(task_guid));
  if (ctx_.model->Task(task_guid)) return Exists();
  auto d = domain::DesireTask(task_guid, domain, definition, ctx_.clock->NowNanos());
  return Apply(lock, nullptr, d, "");
}

Result<bool> Tasks::StartTask(const std::string& task_guid, const std::string& cell_id) {
  domain::TaskDecision d;
  Status s = Decide(
      task_guid, "",
      [&](const models::Task& t) { return domain::StartTask(t, cell_id, ctx_.clock->NowNanos()); },
      &d);
  if (!s.ok()) return s;
  if (d.should_start && ctx_.metrics != nullptr) ctx_.metrics->TaskStarted(cell_id);
  return d.should_start;
}

Status Tasks::CancelTask(const std::string& task_guid, const std::string& trace_id) {
  return Decide(task_guid, trace_id, [&](const models::Task& t) {
    return domain::CancelTask(t, ctx_.clock->NowNanos());
  });
}

Status Tasks::FailTask(const std::string& task_guid, const std::string& reason) {
  return Decide(task_guid, "", [&](const models::Task& t) {
    return domain::FailTask(t, reason, ctx_.clock->NowNanos());
  });
}

Status Tasks::RejectTask(const std::string& task_guid, const std::string& reason) {
  return Decide(task_guid, "", [&](const models::Task& t) {
    return domain::RejectTask(t, reason, options_.max_task_retries, ctx_.clock->NowNanos());
  });
}

Status Tasks::CompleteTask(const std::string& task_guid, const std::string& cell_id, bool failed,
                           const std::string& failure_reason, const std::string& result) {
  Status s = Decide(task_guid, "", [&](const models::Task& t) {
    return domain::CompleteTask(t, cell_id, failed, failure_reason, result, ctx_.clock->NowNanos());
  });
  if (s.ok() && ctx_.metrics != nullptr) {
    if (failed) {
      ctx_.metrics->TaskFailed(cell_id);
    } else {
      ctx_.metrics->TaskSucceeded(cell_id);
    }
  }
  return s;
}

Status Tasks::ResolvingTask(const std::string& task_guid) {
  return Decide(task_guid, "", [&](const models::Task& t) {
    return domain::ResolvingTask(t, ctx_.clock->NowNanos());
  });
}

Status Tasks::DeleteTask(const std::string& task_guid) {
  return Decide(task_guid, "", [&](const models::Task& t) { return domain::DeleteTask(t); });
}

}  // namespace bbs::state
