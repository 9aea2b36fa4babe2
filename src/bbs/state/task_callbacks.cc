#include "bbs/state/task_callbacks.h"

#include <algorithm>

#include "bbs/clients/callbacks.h"

namespace bbs::state {

TaskCallbacks::TaskCallbacks(Engine* engine, clients::Callbacks* callbacks, size_t workers,
                             Logger logger)
    : engine_(engine),
      callbacks_(callbacks),
      logger_(std::move(logger)),
      pool_(std::clamp<size_t>(workers, 1, 64)) {}

TaskCallbacks::~TaskCallbacks() { Shutdown(); }

void TaskCallbacks::Submit(TaskPtr task) {
  if (!task || task->task_definition().completion_callback_url().empty()) return;
  pool_.Submit([this, task = std::move(task)] { Deliver(task, false); });
}

void TaskCallbacks::Recover() {
  for (const auto& task : engine_->model().Tasks("", "")) {
    if (task->task_definition().completion_callback_url().empty()) continue;
    if (task->state() != models::Task::Completed && task->state() != models::Task::Resolving) {
      continue;
    }
    pool_.Submit([this, task] { Deliver(task, true); });
  }
}

void TaskCallbacks::Shutdown() { pool_.Shutdown(); }

void TaskCallbacks::Deliver(const TaskPtr& task, bool recovering) {
  const std::string& guid = task->task_guid();
  const std::string& url = task->task_definition().completion_callback_url();
  auto log = logger_.Session("task-callback");
  TaskPtr current = engine_->model().Task(guid);
  if (!current) return;
  if (current->state() == models::Task::Completed) {
    Status s = engine_->tasks().ResolvingTask(guid);
    if (!s.ok()) {
      log.Error("marking-task-as-resolving-failed", s.ToString(), {{"task_guid", guid}});
      return;
    }
  } else if (!(recovering && current->state() == models::Task::Resolving)) {
    return;
  }
  std::string body = clients::EncodeTaskCallback(
      guid, current->failed(), current->failure_reason(), current->result(),
      current->task_definition().annotation(), current->created_at());
  constexpr int kAttempts = 3;
  int last_status = 0;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    clients::CallbackOutcome outcome = callbacks_->Post(url, body);
    if (outcome.kind == clients::CallbackOutcome::kFatalTransportError) {
      log.Error("doing-request-failed", outcome.error, {{"task_guid", guid}});
      return;
    }
    if (outcome.kind == clients::CallbackOutcome::kResponse) {
      last_status = outcome.status;
      if (outcome.status != 503 && outcome.status != 504) {
        Status s = engine_->tasks().DeleteTask(guid);
        if (!s.ok()) log.Error("delete-task-failed", s.ToString(), {{"task_guid", guid}});
        return;
      }
    }
  }
  log.Error("callback-failed", "attempts exhausted",
            {{"task_guid", guid}, {"status_code", last_status}});
}

}  // namespace bbs::state
