#pragma once

#include <chrono>
#include <mutex>

#include "bbs/base/logger.h"
#include "bbs/base/stoppable_thread.h"
#include "bbs/cells/cell_directory.h"
#include "bbs/metrics/bbs_metrics.h"
#include "bbs/state/engine.h"
#include "bbs/state/task_callbacks.h"

namespace bbs::converger {

// The periodic convergence loop (behavior.md §7.0): every `interval` it runs the task and the
// LRP pass, then waits again; passes never overlap. Passes can also be run on demand (the
// seed's /v1/lrps/converge and /v1/tasks/converge routes). Thread-safe.
class Converger {
 public:
  struct Options {
    std::chrono::nanoseconds interval = std::chrono::seconds(30);
    domain::TaskConvergenceDurations task_durations{30'000'000'000LL, 1'800'000'000'000LL,
                                                    120'000'000'000LL};
    // Where each pass's report is recorded; null = nowhere.
    metrics::BbsMetrics* metrics = nullptr;
  };
  // `callbacks` may be null (no completion callbacks are kicked then).
  Converger(state::Engine* engine, cells::CellDirectory* cells, state::TaskCallbacks* callbacks,
            Options options, Logger logger);
  ~Converger();

  // Starts the loop; once stopped, it does not start again.
  void Start();
  void Stop();  // idempotent

  // One pass now, on the caller's thread (serialised with the loop's passes).
  Status ConvergeLrps();
  Status ConvergeTasks();

  // The reports of the last passes (zero before the first).
  state::Convergence::LrpReport last_lrp_report() const;
  state::Convergence::TaskReport last_task_report() const;

 private:
  void Loop();
  // The present cells, nullopt when the directory is no registry; an error aborts the pass
  // (logged as `failure_event`).
  Result<std::optional<std::set<std::string>>> PresentCells(const char* failure_event);

  state::Engine* engine_;
  cells::CellDirectory* cells_;
  state::TaskCallbacks* callbacks_;
  Options options_;
  Logger logger_;

  std::mutex pass_mu_;  // one pass at a time
  mutable std::mutex mu_;
  state::Convergence::LrpReport lrp_report_;    // guarded by mu_
  state::Convergence::TaskReport task_report_;  // guarded by mu_
  StoppableThread loop_;                        // last: stops before the rest goes
};

}  // namespace bbs::converger
