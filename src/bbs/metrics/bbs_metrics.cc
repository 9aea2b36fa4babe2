#include "bbs/metrics/bbs_metrics.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <prometheus/text_serializer.h>

#include "bbs/metrics/process_stats.h"

namespace bbs::metrics {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// Histogram bounds in raw units (nanoseconds for durations, a count for batch sizes).
const std::vector<int64_t> kLatencyBoundsNs = {
    100'000,       250'000,       500'000,       1'000'000,     2'500'000,   5'000'000,
    10'000'000,    25'000'000,    50'000'000,    100'000'000,   250'000'000, 500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
const std::vector<int64_t> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
constexpr double kNanosToSeconds = 1e-9;

void AtomicMax(std::atomic<int64_t>& target, int64_t value) {
  int64_t current = target.load(kRelaxed);
  while (value > current && !target.compare_exchange_weak(current, value, kRelaxed)) {
  }
}

// A fixed-bucket histogram of integer observations: one relaxed increment per observation and
// no lock, unlike prometheus-cpp's (which takes a mutex per Observe).
class AtomicHistogram {
 public:
  explicit AtomicHistogram(const std::vector<int64_t>& bounds)
      : bounds_(&bounds), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
    for (size_t i = 0; i <= bounds.size(); ++i) counts_[i].store(0, kRelaxed);
  }

  void Observe(int64_t value) {
    size_t i = 0;
    const auto& bounds = *bounds_;
    while (i < bounds.size() && value > bounds[i]) ++i;
    counts_[i].fetch_add(1, kRelaxed);
    sum_.fetch_add(value < 0 ? 0 : static_cast<uint64_t>(value), kRelaxed);
  }

  // Prometheus buckets are cumulative; the count is derived from the buckets so that the two
  // agree even while observations race with the read.
  prometheus::ClientMetric::Histogram Snapshot(double scale) const {
    prometheus::ClientMetric::Histogram h;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds_->size(); ++i) {
      cumulative += counts_[i].load(kRelaxed);
      h.bucket.push_back({cumulative, static_cast<double>((*bounds_)[i]) * scale});
    }
    cumulative += counts_[bounds_->size()].load(kRelaxed);
    h.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    h.sample_count = cumulative;
    h.sample_sum = static_cast<double>(sum_.load(kRelaxed)) * scale;
    return h;
  }

 private:
  const std::vector<int64_t>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> sum_{0};
};

size_t StatusClass(int status) {
  if (status < 100 || status > 599) return 5;  // "other"
  return static_cast<size_t>(status / 100 - 1);
}
constexpr std::array<const char*, 6> kStatusClassNames = {"1xx", "2xx", "3xx",
                                                          "4xx", "5xx", "other"};

constexpr std::array<const char*, 4> kPeerNames = {"auctioneer", "rep", "task_callback", "locket"};

struct PeerState {
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
  AtomicHistogram latency{kLatencyBoundsNs};
};

struct CellTasks {
  int64_t started = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
};

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric Sample(MetricType type, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}

MetricFamily Single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily f = Family(std::move(name), std::move(help), type);
  f.metric.push_back(Sample(type, value));
  return f;
}

MetricFamily Gauge(std::string name, std::string help, double value) {
  return Single(std::move(name), std::move(help), MetricType::Gauge, value);
}

MetricFamily Counter(std::string name, std::string help, double value) {
  return Single(std::move(name), std::move(help), MetricType::Counter, value);
}

double D(int64_t v) { return static_cast<double>(v); }
double D(uint64_t v) { return static_cast<double>(v); }

}  // namespace

// The largest value seen in the current report window, and the largest of the last closed one
// (what /metrics shows between reports).
struct WindowMax {
  std::atomic<int64_t> current{0};
  std::atomic<int64_t> last{0};

  void Observe(int64_t value) { AtomicMax(current, value); }
  // Ends the window and returns its maximum; the next window starts at `start`.
  int64_t Close(int64_t start = 0) {
    int64_t max = current.exchange(start);
    last.store(max);
    return max;
  }
};

class RouteMetrics {
 public:
  explicit RouteMetrics(std::string route_name) : name(std::move(route_name)) {}

  const std::string name;
  std::atomic<uint64_t> count{0};  // cumulative: unary requests and streams
  std::array<std::atomic<uint64_t>, 6> by_class{};
  std::atomic<uint64_t> reported{0};  // `count` at the previous TakeRequestReport
  std::atomic<int64_t> window_max_ns{0};
  AtomicHistogram latency{kLatencyBoundsNs};
};

namespace internal {

struct State {
  // Requests.
  mutable std::mutex routes_mu;
  std::deque<RouteMetrics> routes;  // stable addresses
  std::map<std::string, RouteMetrics*, std::less<>> routes_by_name;
  std::atomic<uint64_t> request_count{0};
  std::atomic<uint64_t> request_count_reported{0};
  WindowMax request_latency_ns;

  // Commits.
  std::atomic<uint64_t> commits_ok{0};
  std::atomic<uint64_t> commits_failed{0};
  AtomicHistogram commit_batch{kBatchBounds};
  AtomicHistogram commit_latency{kLatencyBoundsNs};

  // Events.
  std::atomic<int64_t> subscribers{0};
  std::atomic<uint64_t> subscribers_dropped{0};

  // Outbound.
  std::array<PeerState, 4> peers;

  // Store.
  std::atomic<uint64_t> queries_succeeded{0};
  std::atomic<uint64_t> queries_failed{0};
  std::atomic<int64_t> queries_in_flight{0};
  WindowMax queries_in_flight_max;
  WindowMax query_ns_max;
  AtomicHistogram query_latency{kLatencyBoundsNs};
  std::atomic<int64_t> pool_open_connections{0};
  std::atomic<int64_t> pool_wait_count{0};
  std::atomic<int64_t> pool_wait_ns{0};

  // Lifecycle.
  std::atomic<bool> lock_held{false};
  std::atomic<bool> master_elected{false};
  std::atomic<int64_t> migration_ns{0};
  std::atomic<int64_t> encryption_ns{0};

  // Convergence and tasks (cold: once per pass, once per task transition).
  mutable std::mutex convergence_mu;
  LrpConvergenceStats lrp_last;
  uint64_t lrp_runs_total = 0;
  uint64_t lrp_runs_unreported = 0;
  TaskConvergenceStats task_last;
  uint64_t task_runs_total = 0;
  uint64_t task_runs_unreported = 0;
  uint64_t tasks_kicked_total = 0;
  uint64_t tasks_pruned_total = 0;
  std::map<std::string, CellTasks, std::less<>> cells;

  // Loggregator.
  std::atomic<uint64_t> envelopes_sent{0};
  std::atomic<uint64_t> envelopes_dropped{0};

  std::atomic<MetricSink*> one_shot_sink{nullptr};

  void EmitOneShot(Measurement m) {
    if (MetricSink* sink = one_shot_sink.load()) {
      std::vector<Measurement> v;
      v.push_back(std::move(m));
      sink->Emit(std::move(v));
    }
  }

  std::vector<MetricFamily> Collect() const;
};

std::vector<MetricFamily> State::Collect() const {
  std::vector<MetricFamily> out;
  const auto G = MetricType::Gauge;
  const auto C = MetricType::Counter;

  // --- behavior.md §12.1, upstream's names (durations in nanoseconds, as upstream) ---
  out.push_back(Gauge("BBSMasterElected", "1 once this bbs has acquired the lock",
                      master_elected.load() ? 1 : 0));
  out.push_back(Gauge("LockHeld", "1 while this bbs holds the lock", lock_held.load() ? 1 : 0));
  out.push_back(Gauge("MigrationDuration", "Duration of the start-up migrations (ns)",
                      D(migration_ns.load())));
  out.push_back(Gauge("EncryptionDuration", "Duration of the last re-encryption (ns)",
                      D(encryption_ns.load())));
  out.push_back(Counter("RequestCount", "API requests handled (event streams included)",
                        D(request_count.load())));
  out.push_back(Gauge("RequestLatency",
                      "Maximum handler latency in the last report interval (ns, streams excluded)",
                      D(request_latency_ns.last.load())));
  ProcessStats process = ReadProcessStats();
  out.push_back(Gauge("OpenFileDescriptors", "Entries in /proc/self/fd", D(process.open_fds)));

  {
    std::lock_guard lock(convergence_mu);
    const auto& l = lrp_last;
    out.push_back(Counter("ConvergenceLRPRuns", "LRP convergence passes", D(lrp_runs_total)));
    out.push_back(Gauge("ConvergenceLRPDuration", "Duration of the last LRP convergence pass (ns)",
                        D(static_cast<int64_t>(l.duration.count()))));
    for (const auto& gauge : kLrpConvergenceGauges) {
      out.push_back(Gauge(gauge.name, gauge.help, D(l.*gauge.field)));
    }
    MetricFamily domains = Family("Domain", "1 per fresh domain (upstream: Domain.<domain>)", G);
    for (const auto& d : l.fresh_domains) domains.metric.push_back(Sample(G, 1, {{"domain", d}}));
    out.push_back(std::move(domains));

    const auto& t = task_last;
    out.push_back(Counter("ConvergenceTaskRuns", "Task convergence passes", D(task_runs_total)));
    out.push_back(Gauge("ConvergenceTaskDuration",
                        "Duration of the last task convergence pass (ns)",
                        D(static_cast<int64_t>(t.duration.count()))));
    out.push_back(Gauge("TasksPending", "PENDING tasks at the last pass", D(t.pending)));
    out.push_back(Gauge("TasksRunning", "RUNNING tasks at the last pass", D(t.running)));
    out.push_back(Gauge("TasksCompleted", "COMPLETED tasks at the last pass", D(t.completed)));
    out.push_back(Gauge("TasksResolving", "RESOLVING tasks at the last pass", D(t.resolving)));
    out.push_back(Counter("ConvergenceTasksKicked", "Tasks touched by task convergence passes",
                          D(tasks_kicked_total)));
    out.push_back(Counter("ConvergenceTasksPruned", "Tasks deleted by task convergence passes",
                          D(tasks_pruned_total)));
    MetricFamily started = Family("TasksStarted", "Tasks started per cell since start-up", C);
    MetricFamily succeeded = Family("TasksSucceeded", "Tasks succeeded per cell since start-up", C);
    MetricFamily failed = Family("TasksFailed", "Tasks failed per cell since start-up", C);
    for (const auto& [cell, counts] : cells) {
      started.metric.push_back(Sample(C, D(counts.started), {{"cell_id", cell}}));
      succeeded.metric.push_back(Sample(C, D(counts.succeeded), {{"cell_id", cell}}));
      failed.metric.push_back(Sample(C, D(counts.failed), {{"cell_id", cell}}));
    }
    out.push_back(std::move(started));
    out.push_back(std::move(succeeded));
    out.push_back(std::move(failed));
  }

  uint64_t succeeded_queries = queries_succeeded.load();
  uint64_t failed_queries = queries_failed.load();
  out.push_back(
      Gauge("DBOpenConnections", "Open SQL connections", D(pool_open_connections.load())));
  out.push_back(
      Gauge("DBWaitCount", "Waits for a SQL connection since start-up", D(pool_wait_count.load())));
  out.push_back(
      Gauge("DBWaitDuration", "Cumulative wait for a SQL connection (ns)", D(pool_wait_ns.load())));
  out.push_back(Counter("DBQueriesTotal", "Store statements executed",
                        D(succeeded_queries + failed_queries)));
  out.push_back(
      Counter("DBQueriesSucceeded", "Store statements that succeeded", D(succeeded_queries)));
  out.push_back(Counter("DBQueriesFailed", "Store statements that failed", D(failed_queries)));
  out.push_back(Gauge("DBQueriesInFlight",
                      "Maximum concurrent store statements in the last 60 s report window",
                      D(queries_in_flight_max.last.load())));
  out.push_back(Gauge("DBQueryDurationMax",
                      "Longest store statement in the last 60 s report window (ns)",
                      D(query_ns_max.last.load())));

  // --- bbs additions (Prometheus conventions: seconds, _total) ---
  {
    MetricFamily count = Family("bbs_http_requests_total", "API requests by route and status", C);
    MetricFamily latency =
        Family("bbs_http_request_duration_seconds",
               "API handler latency by route (event streams excluded)", MetricType::Histogram);
    std::vector<const RouteMetrics*> snapshot;
    {
      std::lock_guard lock(routes_mu);
      for (const auto& r : routes) snapshot.push_back(&r);
    }
    for (const RouteMetrics* r : snapshot) {
      for (size_t c = 0; c < r->by_class.size(); ++c) {
        uint64_t n = r->by_class[c].load(kRelaxed);
        if (n == 0) continue;
        count.metric.push_back(
            Sample(C, D(n), {{"code", kStatusClassNames[c]}, {"route", r->name}}));
      }
      ClientMetric m;
      m.label = {{"route", r->name}};
      m.histogram = r->latency.Snapshot(kNanosToSeconds);
      latency.metric.push_back(std::move(m));
    }
    out.push_back(std::move(count));
    out.push_back(std::move(latency));
  }
  {
    MetricFamily commits = Family("bbs_commits_total", "Store transactions by the committer", C);
    commits.metric.push_back(Sample(C, D(commits_ok.load()), {{"result", "success"}}));
    commits.metric.push_back(Sample(C, D(commits_failed.load()), {{"result", "failure"}}));
    out.push_back(std::move(commits));
    MetricFamily batch =
        Family("bbs_commit_batch_size", "Changes per committed transaction", MetricType::Histogram);
    ClientMetric b;
    b.histogram = commit_batch.Snapshot(1.0);
    batch.metric.push_back(std::move(b));
    out.push_back(std::move(batch));
    MetricFamily latency =
        Family("bbs_commit_duration_seconds", "Store transaction latency", MetricType::Histogram);
    ClientMetric l;
    l.histogram = commit_latency.Snapshot(kNanosToSeconds);
    latency.metric.push_back(std::move(l));
    out.push_back(std::move(latency));
  }
  out.push_back(Gauge("bbs_event_subscribers", "Open event streams", D(subscribers.load())));
  out.push_back(Counter("bbs_event_subscribers_dropped_total",
                        "Event subscribers dropped for falling behind",
                        D(subscribers_dropped.load())));
  {
    MetricFamily calls = Family("bbs_outbound_requests_total",
                                "Calls to the auctioneer, reps, task callbacks and Locket", C);
    MetricFamily latency = Family("bbs_outbound_request_duration_seconds",
                                  "Latency of outbound calls", MetricType::Histogram);
    for (size_t p = 0; p < peers.size(); ++p) {
      calls.metric.push_back(
          Sample(C, D(peers[p].ok.load()), {{"peer", kPeerNames[p]}, {"result", "success"}}));
      calls.metric.push_back(
          Sample(C, D(peers[p].failed.load()), {{"peer", kPeerNames[p]}, {"result", "failure"}}));
      ClientMetric m;
      m.label = {{"peer", kPeerNames[p]}};
      m.histogram = peers[p].latency.Snapshot(kNanosToSeconds);
      latency.metric.push_back(std::move(m));
    }
    out.push_back(std::move(calls));
    out.push_back(std::move(latency));
  }
  out.push_back(Gauge("bbs_store_queries_in_flight", "Store statements executing now",
                      D(queries_in_flight.load())));
  {
    MetricFamily latency = Family("bbs_store_query_duration_seconds", "Store statement latency",
                                  MetricType::Histogram);
    ClientMetric m;
    m.histogram = query_latency.Snapshot(kNanosToSeconds);
    latency.metric.push_back(std::move(m));
    out.push_back(std::move(latency));
  }
  out.push_back(Counter("bbs_loggregator_envelopes_sent_total",
                        "Envelopes delivered to the Loggregator agent", D(envelopes_sent.load())));
  out.push_back(Counter("bbs_loggregator_envelopes_dropped_total",
                        "Envelopes dropped (agent unreachable or queue full)",
                        D(envelopes_dropped.load())));
  out.push_back(
      Gauge("process_resident_memory_bytes", "Resident set size", D(process.resident_bytes)));
  out.push_back(Gauge("process_threads", "Threads of the bbs process", D(process.threads)));
  out.push_back(Gauge("process_open_fds", "Open file descriptors", D(process.open_fds)));
  return out;
}

}  // namespace internal

BbsMetrics::BbsMetrics() : state_(std::make_unique<internal::State>()) {}
BbsMetrics::~BbsMetrics() = default;

RouteMetrics* BbsMetrics::RouteFor(std::string_view name) {
  std::lock_guard lock(state_->routes_mu);
  auto it = state_->routes_by_name.find(name);
  if (it != state_->routes_by_name.end()) return it->second;
  RouteMetrics* route = &state_->routes.emplace_back(std::string(name));
  state_->routes_by_name.emplace(std::string(name), route);
  return route;
}

void BbsMetrics::ObserveRequest(RouteMetrics* route, int status, Nanos latency) {
  int64_t ns = latency.count();
  state_->request_count.fetch_add(1, kRelaxed);
  state_->request_latency_ns.Observe(ns);
  route->count.fetch_add(1, kRelaxed);
  route->by_class[StatusClass(status)].fetch_add(1, kRelaxed);
  AtomicMax(route->window_max_ns, ns);
  route->latency.Observe(ns);
}

void BbsMetrics::ObserveStreamRequest(RouteMetrics* route, int status) {
  state_->request_count.fetch_add(1, kRelaxed);
  route->count.fetch_add(1, kRelaxed);
  route->by_class[StatusClass(status)].fetch_add(1, kRelaxed);
}

void BbsMetrics::ObserveRequest(std::string_view route_name, int status, Nanos latency) {
  ObserveRequest(RouteFor(route_name), status, latency);
}

void BbsMetrics::ObserveCommit(std::size_t batch_size, Nanos duration, bool ok) {
  (ok ? state_->commits_ok : state_->commits_failed).fetch_add(1, kRelaxed);
  state_->commit_batch.Observe(static_cast<int64_t>(batch_size));
  state_->commit_latency.Observe(duration.count());
}

void BbsMetrics::EventSubscriberAdded() { state_->subscribers.fetch_add(1, kRelaxed); }
void BbsMetrics::EventSubscriberRemoved() { state_->subscribers.fetch_sub(1, kRelaxed); }
void BbsMetrics::EventSubscriberDropped() { state_->subscribers_dropped.fetch_add(1, kRelaxed); }

void BbsMetrics::ObserveOutbound(OutboundPeer peer, bool ok, Nanos duration) {
  auto& p = state_->peers[static_cast<size_t>(peer)];
  (ok ? p.ok : p.failed).fetch_add(1, kRelaxed);
  p.latency.Observe(duration.count());
}

void BbsMetrics::StoreQueryStarted() {
  int64_t now = state_->queries_in_flight.fetch_add(1, kRelaxed) + 1;
  state_->queries_in_flight_max.Observe(now);
}

void BbsMetrics::StoreQueryFinished(bool ok, Nanos duration) {
  state_->queries_in_flight.fetch_sub(1, kRelaxed);
  (ok ? state_->queries_succeeded : state_->queries_failed).fetch_add(1, kRelaxed);
  state_->query_ns_max.Observe(duration.count());
  state_->query_latency.Observe(duration.count());
}

void BbsMetrics::SetStorePoolStats(const StorePoolStats& stats) {
  state_->pool_open_connections.store(stats.open_connections, kRelaxed);
  state_->pool_wait_count.store(stats.wait_count, kRelaxed);
  state_->pool_wait_ns.store(stats.wait_duration.count(), kRelaxed);
}

void BbsMetrics::SetLockHeld(bool held) { state_->lock_held.store(held); }

void BbsMetrics::MasterElected() {
  state_->master_elected.store(true);
  state_->EmitOneShot(Measurement::Gauge("BBSMasterElected", 1));
}

void BbsMetrics::MigrationFinished(Nanos duration) {
  state_->migration_ns.store(duration.count());
  state_->EmitOneShot(Measurement::Duration("MigrationDuration", duration.count()));
}

void BbsMetrics::EncryptionFinished(Nanos duration) {
  state_->encryption_ns.store(duration.count());
  state_->EmitOneShot(Measurement::Duration("EncryptionDuration", duration.count()));
}

void BbsMetrics::RecordLrpConvergence(const LrpConvergenceStats& stats) {
  std::lock_guard lock(state_->convergence_mu);
  state_->lrp_last = stats;
  ++state_->lrp_runs_total;
  ++state_->lrp_runs_unreported;
}

void BbsMetrics::RecordTaskConvergence(const TaskConvergenceStats& stats) {
  std::lock_guard lock(state_->convergence_mu);
  state_->task_last = stats;
  ++state_->task_runs_total;
  ++state_->task_runs_unreported;
  state_->tasks_kicked_total += stats.kicked;
  state_->tasks_pruned_total += stats.pruned;
}

namespace {
CellTasks& CellEntry(std::map<std::string, CellTasks, std::less<>>& cells, std::string_view id) {
  auto it = cells.find(id);
  if (it == cells.end()) it = cells.emplace(std::string(id), CellTasks{}).first;
  return it->second;
}
}  // namespace

void BbsMetrics::TaskStarted(std::string_view cell_id) {
  std::lock_guard lock(state_->convergence_mu);
  ++CellEntry(state_->cells, cell_id).started;
}

void BbsMetrics::TaskSucceeded(std::string_view cell_id) {
  std::lock_guard lock(state_->convergence_mu);
  ++CellEntry(state_->cells, cell_id).succeeded;
}

void BbsMetrics::TaskFailed(std::string_view cell_id) {
  std::lock_guard lock(state_->convergence_mu);
  ++CellEntry(state_->cells, cell_id).failed;
}

void BbsMetrics::EnvelopesSent(uint64_t n) { state_->envelopes_sent.fetch_add(n, kRelaxed); }
void BbsMetrics::EnvelopesDropped(uint64_t n) { state_->envelopes_dropped.fetch_add(n, kRelaxed); }

void BbsMetrics::SetOneShotSink(MetricSink* sink) { state_->one_shot_sink.store(sink); }

RequestReport BbsMetrics::TakeRequestReport() {
  RequestReport report;
  uint64_t total = state_->request_count.load();
  report.count = total - state_->request_count_reported.exchange(total);
  report.max_latency = Nanos(state_->request_latency_ns.Close());
  std::lock_guard lock(state_->routes_mu);
  for (auto& r : state_->routes) {
    uint64_t count = r.count.load();
    report.routes.push_back(
        {r.name, count - r.reported.exchange(count), Nanos(r.window_max_ns.exchange(0))});
  }
  return report;
}

StoreReport BbsMetrics::TakeStoreReport() {
  StoreReport report;
  report.pool.open_connections = state_->pool_open_connections.load();
  report.pool.wait_count = state_->pool_wait_count.load();
  report.pool.wait_duration = Nanos(state_->pool_wait_ns.load());
  report.queries_succeeded = state_->queries_succeeded.load();
  report.queries_failed = state_->queries_failed.load();
  report.queries_total = report.queries_succeeded + report.queries_failed;
  // A window starts with what is still running, as upstream's monitor does.
  report.max_in_flight = state_->queries_in_flight_max.Close(state_->queries_in_flight.load());
  report.max_query_duration = Nanos(state_->query_ns_max.Close());
  return report;
}

LrpReport BbsMetrics::TakeLrpReport() {
  std::lock_guard lock(state_->convergence_mu);
  LrpReport report{state_->lrp_last, state_->lrp_runs_unreported};
  state_->lrp_runs_unreported = 0;
  return report;
}

TaskReport BbsMetrics::TakeTaskReport() {
  std::lock_guard lock(state_->convergence_mu);
  TaskReport report;
  report.last = state_->task_last;
  report.runs = state_->task_runs_unreported;
  state_->task_runs_unreported = 0;
  for (const auto& [cell, counts] : state_->cells) {
    report.cells.push_back({cell, counts.started, counts.succeeded, counts.failed});
  }
  return report;
}

bool BbsMetrics::lock_held() const { return state_->lock_held.load(); }

std::string BbsMetrics::PrometheusText() const {
  return prometheus::TextSerializer{}.Serialize(state_->Collect());
}

std::vector<std::string> BbsMetrics::MetricNames() const {
  std::vector<std::string> names;
  for (const auto& family : state_->Collect()) {
    if (family.type == MetricType::Histogram) {
      names.push_back(family.name + "_bucket");
      names.push_back(family.name + "_sum");
      names.push_back(family.name + "_count");
    }
    names.push_back(family.name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace bbs::metrics
