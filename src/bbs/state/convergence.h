#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bbs/domain/lrp_convergence.h"
#include "bbs/domain/task_lifecycle.h"
#include "bbs/state/actual_lrps.h"
#include "bbs/state/convergence_index.h"
#include "bbs/state/domains.h"
#include "bbs/state/write_context.h"

namespace bbs::state {

// The convergence passes (behavior.md §7): read the model, let the pure calculators
// (domain/lrp_convergence, domain/task_lifecycle) pick the actions, then apply them. Each action
// is decided again by domain/ against the rows as they are under its key lock, so convergence
// and API writes never race. Convergence starts no threads of its own; a pass ends with one
// auction request.
//
// LRP actions: the key locks of every process the pass writes are taken together; each action
// is decided on the rows the convergence index read for it, or read again when the process
// changed since (ConvergenceIndex::ChangedSincePass) or the pass already wrote that index; the
// changes go to the committer together once all are decided (earlier only when an index is
// written twice), and the pass waits for all of them before it releases the locks. Task actions are
// applied in windows of distinct keys (locks taken together, changes submitted together, then
// waited for).
//
// Thread-safe; LRP passes run one at a time (a second waits for the first).
class Convergence {
 public:
  // `index` (may be null: every pass runs the full calculator) decides the LRP actions.
  Convergence(WriteContext ctx, Domains* domains, ActualLrps* actual_lrps,
              ConvergenceIndex* index = nullptr)
      : ctx_(std::move(ctx)), domains_(domains), actual_lrps_(actual_lrps), index_(index) {}

  struct LrpReport {
    domain::LrpConvergenceMetrics metrics;
    int64_t duration_ns = 0;   // the whole pass, commits and outbound requests included
    int64_t submitted_ns = 0;  // from the start until every write was decided and submitted
  };
  // One LRP convergence pass against `present_cells`. Retires go through
  // ActualLrps::RetireActualLrp (rep stops). `present_cells` = nullopt when no cell registry
  // exists: every cell is then assumed present (nothing becomes suspect, no evacuating row is
  // pruned, no task fails for its cell).
  LrpReport ConvergeLrps(const std::optional<std::set<std::string>>& present_cells);

  struct TaskReport {
    domain::TaskConvergenceMetrics metrics;
    int64_t duration_ns = 0;
    std::vector<TaskPtr> to_kick;  // COMPLETED tasks to hand to the callback worker
  };
  TaskReport ConvergeTasks(const std::optional<std::set<std::string>>& present_cells,
                           const domain::TaskConvergenceDurations& durations);

 private:
  WriteContext ctx_;
  Domains* domains_;
  ActualLrps* actual_lrps_;
  ConvergenceIndex* index_;
  std::mutex lrp_pass_mu_;  // one LRP pass at a time: the index's rows are a pass's own
};

}  // namespace bbs::state
