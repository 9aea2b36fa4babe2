#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "bbs/base/status.h"
#include "bbs/domain/task_lifecycle.h"
#include "bbs/state/write_context.h"
#include "models/task.pb.h"

namespace bbs::state {

// The task writes (behavior.md §5): lock the task, let domain/task_lifecycle decide, commit,
// then do the outbound work (auction, rep cancel, completion callback) without holding a lock.
// Thread-safe.
class Tasks {
 public:
  struct Options {
    int32_t max_task_retries = 3;
  };
  explicit Tasks(WriteContext ctx) : ctx_(std::move(ctx)) {}

  // REQUIRES: called before the write path starts.
  void SetOptions(Options options) { options_ = options; }
  // Receives every task that became COMPLETED with a completion_callback_url, after commit.
  // REQUIRES: called before the write path starts.
  void SetCallbackSink(std::function<void(TaskPtr)> sink) { callback_sink_ = std::move(sink); }

  // REQUIRES: the request passed validation.
  Status DesireTask(const std::string& task_guid, const std::string& domain,
                    const models::TaskDefinition& definition);
  // should_start, or the error.
  Result<bool> StartTask(const std::string& task_guid, const std::string& cell_id);
  Status CancelTask(const std::string& task_guid, const std::string& trace_id);
  Status FailTask(const std::string& task_guid, const std::string& reason);
  Status RejectTask(const std::string& task_guid, const std::string& reason);
  Status CompleteTask(const std::string& task_guid, const std::string& cell_id, bool failed,
                      const std::string& failure_reason, const std::string& result);
  Status ResolvingTask(const std::string& task_guid);
  Status DeleteTask(const std::string& task_guid);

  // Hands a COMPLETED task to the callback sink (convergence's kick).
  void Kick(const TaskPtr& task) const;

 private:
  // Commits a task decision (write + event), then does its outbound work. REQUIRES: the task
  // lock is held by the caller through `lock`, which this releases before any network call.
  Status Apply(KeyLocks::Held& lock, const TaskPtr& before, const domain::TaskDecision& decision,
               const std::string& trace_id);
  // Locks the task, reads it (NotFound when missing) and applies what `decide(task)` returns.
  template <typename DecideFn>
  Status Decide(const std::string& task_guid, const std::string& trace_id, DecideFn decide,
                domain::TaskDecision* out = nullptr);

  WriteContext ctx_;
  Options options_;
  std::function<void(TaskPtr)> callback_sink_;
};

}  // namespace bbs::state
