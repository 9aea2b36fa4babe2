#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bbs/metrics/measurement.h"

namespace bbs::metrics {

namespace internal {
struct State;
struct RouteState;
}  // namespace internal

using Nanos = std::chrono::nanoseconds;

// The outbound peers whose calls are counted (a bounded label set: never an address).
enum class OutboundPeer { kAuctioneer, kRep, kTaskCallback, kLocket };

// What one LRP convergence pass found (behavior.md §12.1, "LRPs*" and cells).
struct LrpConvergenceStats {
  Nanos duration{0};
  int64_t unclaimed = 0;
  int64_t claimed = 0;
  int64_t running = 0;
  int64_t crashed = 0;           // CrashedActualLRPs
  int64_t crashing_desired = 0;  // CrashingDesiredLRPs
  int64_t desired = 0;           // SUM(instances)
  int64_t missing = 0;
  int64_t extra = 0;
  int64_t suspect_running = 0;
  int64_t suspect_claimed = 0;
  int64_t present_cells = 0;
  int64_t suspect_cells = 0;
  std::vector<std::string> fresh_domains{};
};

// The gauges of an LRP convergence pass, for every reader of LrpConvergenceStats (Prometheus,
// the Loggregator reporter, the converger's log line): upstream's name, what it counts, the
// field.
struct LrpConvergenceGauge {
  const char* name;
  const char* help;
  int64_t LrpConvergenceStats::*field;
};
inline constexpr LrpConvergenceGauge kLrpConvergenceGauges[] = {
    {"LRPsUnclaimed", "UNCLAIMED ordinary actual LRPs", &LrpConvergenceStats::unclaimed},
    {"LRPsClaimed", "CLAIMED ordinary actual LRPs", &LrpConvergenceStats::claimed},
    {"LRPsRunning", "RUNNING ordinary actual LRPs", &LrpConvergenceStats::running},
    {"CrashedActualLRPs", "CRASHED ordinary actual LRPs", &LrpConvergenceStats::crashed},
    {"CrashingDesiredLRPs", "Desired LRPs with at least one CRASHED ordinary instance",
     &LrpConvergenceStats::crashing_desired},
    {"LRPsDesired", "Sum of desired instances", &LrpConvergenceStats::desired},
    {"LRPsMissing", "Missing instances found by the last pass", &LrpConvergenceStats::missing},
    {"LRPsExtra", "Extra instances found by the last pass", &LrpConvergenceStats::extra},
    {"SuspectRunningActualLRPs", "RUNNING actual LRPs on suspect cells",
     &LrpConvergenceStats::suspect_running},
    {"SuspectClaimedActualLRPs", "CLAIMED actual LRPs on suspect cells",
     &LrpConvergenceStats::suspect_claimed},
    {"PresentCells", "Cells present in the cell registry", &LrpConvergenceStats::present_cells},
    {"SuspectCells", "Cells owning RUNNING/CLAIMED LRPs but not present",
     &LrpConvergenceStats::suspect_cells},
};

// What one task convergence pass found.
struct TaskConvergenceStats {
  Nanos duration{0};
  int64_t pending = 0;
  int64_t running = 0;
  int64_t completed = 0;
  int64_t resolving = 0;
  uint64_t pruned = 0;  // undecodable + expired completed tasks deleted
  uint64_t kicked = 0;  // tasks touched by the pass
};

// The SQL connection pool's cumulative figures (Go's sql.DBStats).
struct StorePoolStats {
  int64_t open_connections = 0;
  int64_t wait_count = 0;
  Nanos wait_duration{0};
};

// A registered route. Obtained once per route (RouteFor) and kept by the caller, so the
// per-request path is a few relaxed atomic operations with no lookup and no lock.
class RouteMetrics;

// Values accumulated since the previous report (RequestCount, RequestLatency and their
// per-route variants): TakeRequestReport() returns them and starts a new window.
struct RequestReport {
  struct Route {
    std::string name;
    uint64_t count = 0;
    Nanos max_latency{0};
  };
  uint64_t count = 0;
  Nanos max_latency{0};
  std::vector<Route> routes;  // every route known so far, in registration order
};

// Values of the 60 s DB report: cumulative totals and the windowed maxima (reset on take).
struct StoreReport {
  StorePoolStats pool;
  uint64_t queries_total = 0;
  uint64_t queries_succeeded = 0;
  uint64_t queries_failed = 0;
  int64_t max_in_flight = 0;
  Nanos max_query_duration{0};
};

// Last LRP pass plus the number of passes since the previous take (ConvergenceLRPRuns).
struct LrpReport {
  LrpConvergenceStats last;
  uint64_t runs = 0;
};

// Last task pass, passes since the previous take, and per-cell cumulative task counts.
struct TaskReport {
  struct Cell {
    std::string cell_id;
    int64_t started = 0;
    int64_t succeeded = 0;
    int64_t failed = 0;
  };
  TaskConvergenceStats last;
  uint64_t runs = 0;
  std::vector<Cell> cells;  // sorted by cell id
};

// Every metric bbs keeps, for two readers: the Prometheus text of the debug server's /metrics
// (pull, cumulative counters and histograms) and the periodic reporters that feed Loggregator
// (push, upstream's delta counters and per-interval maxima, behavior.md §12.1).
//
// The recording methods are called by the layers that do the work (http, state committer,
// events hub, clients, converger, storage, daemon); they are thread-safe, never block on I/O,
// and the per-request and per-commit ones are lock-free (relaxed atomics). The Take* methods
// start a new window and are meant for one periodic reporter; Prometheus reads never reset
// anything, so any number of scrapers see consistent cumulative values.
class BbsMetrics {
 public:
  BbsMetrics();
  ~BbsMetrics();
  BbsMetrics(const BbsMetrics&) = delete;
  BbsMetrics& operator=(const BbsMetrics&) = delete;

  // --- API requests ---
  // The handle of route `name` (e.g. "ClaimActualLRP"), created on first use. The pointer
  // stays valid for the lifetime of this object.
  RouteMetrics* RouteFor(std::string_view name);
  // A unary request finished with HTTP `status` after `latency` (from the request being read to
  // the handler's answer). Counts toward RequestCount and RequestLatency.
  void ObserveRequest(RouteMetrics* route, int status, Nanos latency);
  // An event stream ended (counted when its handler returns, as upstream does); counts toward
  // RequestCount but never RequestLatency.
  void ObserveStreamRequest(RouteMetrics* route, int status);
  // Convenience for cold paths: looks the route up by name.
  void ObserveRequest(std::string_view route_name, int status, Nanos latency);

  // --- state committer: one store transaction of `batch_size` changes ---
  void ObserveCommit(std::size_t batch_size, Nanos duration, bool ok);

  // --- event hub ---
  void EventSubscriberAdded();
  void EventSubscriberRemoved();
  // A subscriber fell behind and was dropped (its removal is reported separately).
  void EventSubscriberDropped();

  // --- outbound calls (auctioneer, reps, task callbacks, Locket) ---
  void ObserveOutbound(OutboundPeer peer, bool ok, Nanos duration);

  // --- storage: every statement, BEGIN/COMMIT/ROLLBACK included ("no rows" is a success) ---
  void StoreQueryStarted();
  void StoreQueryFinished(bool ok, Nanos duration);
  void SetStorePoolStats(const StorePoolStats& stats);

  // --- lifecycle (behavior.md §9.2) ---
  void SetLockHeld(bool held);
  // BBSMasterElected = 1, emitted once through the one-shot sink.
  void MasterElected();
  void MigrationFinished(Nanos duration);
  void EncryptionFinished(Nanos duration);

  // --- convergence and tasks ---
  void RecordLrpConvergence(const LrpConvergenceStats& stats);
  void RecordTaskConvergence(const TaskConvergenceStats& stats);
  void TaskStarted(std::string_view cell_id);
  void TaskSucceeded(std::string_view cell_id);
  void TaskFailed(std::string_view cell_id);

  // --- the Loggregator emitter's own health ---
  void EnvelopesSent(uint64_t n);
  void EnvelopesDropped(uint64_t n);

  // --- readers ---
  // Where one-shot metrics (BBSMasterElected, MigrationDuration, EncryptionDuration) go the
  // moment they are recorded; null = nowhere. The sink must outlive this object or be reset.
  void SetOneShotSink(MetricSink* sink);

  RequestReport TakeRequestReport();
  StoreReport TakeStoreReport();
  LrpReport TakeLrpReport();
  TaskReport TakeTaskReport();
  bool lock_held() const;

  // The Prometheus text exposition format (version 0.0.4) of every metric. Reads /proc for the
  // process gauges.
  std::string PrometheusText() const;
  // Every sample name PrometheusText() can contain (histograms with their _bucket, _sum and
  // _count series), sorted.
  std::vector<std::string> MetricNames() const;

 private:
  std::unique_ptr<internal::State> state_;
};

}  // namespace bbs::metrics
