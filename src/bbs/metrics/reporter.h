#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/base/stoppable_thread.h"
#include "bbs/metrics/bbs_metrics.h"
#include "bbs/metrics/measurement.h"

namespace bbs::metrics {

struct ReporterOptions {
  // RequestCount, RequestLatency (+ per-route), OpenFileDescriptors, LockHeld: config
  // `report_interval` (BOSH default 1m).
  Nanos report_interval = std::chrono::minutes(1);
  Nanos convergence_interval = std::chrono::seconds(15);  // LRP and task stats
  Nanos store_interval = std::chrono::seconds(60);        // DB stats
  Nanos process_interval = std::chrono::seconds(10);      // replaces the Go runtime metrics
  bool report_store = true;  // false when the backend has no SQL pool to describe
  // Upstream's lrp-stat, task-stat and db-stat notifiers run only on the active process (after
  // the lock): when set, the convergence and DB ticks emit nothing while LockHeld is 0.
  bool stats_only_when_lock_held = false;
  // `advanced_metrics`: per-route RequestCount.<Route> / RequestLatency.<Route>.
  bool advanced_enabled = false;
  std::vector<std::string> request_count_routes;
  std::vector<std::string> request_latency_routes;
};

// The periodic reporters of behavior.md §9.2 (lock-held, periodic, lrp-stat, task-stat,
// db-stat and file-descriptor notifiers): each tick takes a window from BbsMetrics and turns it
// into upstream's measurements for `sink`. The ticks run even without a sink, because they also
// close the windows behind the Prometheus gauges RequestLatency, DBQueriesInFlight and
// DBQueryDurationMax. Start() runs them on one thread; the Report* methods are one tick each
// (tests call them directly). Thread-safe.
class Reporter {
 public:
  // `sink` may be null (no push backend). Both must outlive the Reporter. While the Reporter
  // lives, one-shot metrics recorded on `metrics` go to `sink` too.
  Reporter(BbsMetrics* metrics, MetricSink* sink, ReporterOptions options, Logger logger);
  ~Reporter();  // Stop()s
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  void Start();
  void Stop();  // idempotent

  std::vector<Measurement> ReportRequests();
  std::vector<Measurement> ReportConvergence();
  std::vector<Measurement> ReportStore();
  std::vector<Measurement> ReportProcess();

 private:
  void Run();
  std::vector<Measurement> Deliver(std::vector<Measurement> measurements);

  BbsMetrics* metrics_;
  MetricSink* sink_;
  ReporterOptions options_;
  Logger logger_;
  StoppableThread thread_;  // last: stops before the rest goes
};

}  // namespace bbs::metrics
