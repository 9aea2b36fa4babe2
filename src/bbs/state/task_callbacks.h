#pragma once

#include <memory>

#include "bbs/base/logger.h"
#include "bbs/base/worker_pool.h"
#include "bbs/state/engine.h"

namespace bbs::clients {
class Callbacks;
}  // namespace bbs::clients

namespace bbs::state {

// Delivers task completion callbacks (behavior.md §5.3, outbound.md §5): for a COMPLETED task
// with a completion_callback_url, mark it RESOLVING, POST the result (3 attempts, retrying only
// timeouts, closed connections and 503/504), then delete the task. A task whose callback could
// not be delivered stays RESOLVING; Recover() (at start-up) and task convergence hand it back.
// Submission never blocks. Thread-safe.
class TaskCallbacks {
 public:
  TaskCallbacks(Engine* engine, clients::Callbacks* callbacks, size_t workers, Logger logger);
  ~TaskCallbacks();

  // Queues `task` (the snapshot taken when it completed). Tasks without a URL are ignored.
  void Submit(TaskPtr task);
  // Queues every task whose callback was due when the previous process stopped: COMPLETED or
  // RESOLVING tasks that have a callback URL.
  void Recover();
  // Finishes queued deliveries, then stops.
  void Shutdown();

 private:
  void Deliver(const TaskPtr& task, bool recovering);

  Engine* engine_;
  clients::Callbacks* callbacks_;
  Logger logger_;
  WorkerPool pool_;
};

}  // namespace bbs::state
