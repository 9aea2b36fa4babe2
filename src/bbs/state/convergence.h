#pragma once

#include <cstdint>
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
// and API writes never race. Actions are applied in windows: the key locks of a window are taken
// together, every action's change is submitted to the committer without waiting, and the window
// waits for all of them at once, so a pass's writes share group commits and convergence starts no
// threads of its own. A pass ends with one auction request.
//
// Thread-safe; passes are meant to run one at a time (the converger loop).
class Convergence {
 public:
  // `index` (may be null: every pass runs the full calculator) decides the LRP actions.
  Convergence(WriteContext ctx, Domains* domains, ActualLrps* actual_lrps,
              ConvergenceIndex* index = nullptr)
      : ctx_(std::move(ctx)), domains_(domains), actual_lrps_(actual_lrps), index_(index) {}

  struct LrpReport {
    domain::LrpConvergenceMetrics metrics;
    int64_t duration_ns = 0;
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
};

}  // namespace bbs::state
