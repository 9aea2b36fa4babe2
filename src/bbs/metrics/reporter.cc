#include "bbs/metrics/reporter.h"

#include <algorithm>
#include <utility>

#include "bbs/metrics/process_stats.h"

namespace bbs::metrics {

Reporter::Reporter(BbsMetrics* metrics, MetricSink* sink, ReporterOptions options, Logger logger)
    : metrics_(metrics), sink_(sink), options_(std::move(options)), logger_(std::move(logger)) {
  if (sink_ != nullptr) metrics_->SetOneShotSink(sink_);
}

Reporter::~Reporter() {
  Stop();
  if (sink_ != nullptr) metrics_->SetOneShotSink(nullptr);
}

void Reporter::Start() {
  thread_.Start([this] { Run(); });
}

void Reporter::Stop() { thread_.Stop(); }

void Reporter::Run() {
  using Clock = std::chrono::steady_clock;
  struct Schedule {
    Nanos interval;
    std::vector<Measurement> (Reporter::*report)();
    Clock::time_point next;
  };
  auto start = Clock::now();
  std::vector<Schedule> schedules = {
      {options_.report_interval, &Reporter::ReportRequests, {}},
      {options_.convergence_interval, &Reporter::ReportConvergence, {}},
      {options_.process_interval, &Reporter::ReportProcess, {}},
  };
  if (options_.report_store) {
    schedules.push_back({options_.store_interval, &Reporter::ReportStore, {}});
  }
  schedules.erase(std::remove_if(schedules.begin(), schedules.end(),
                                 [](const Schedule& s) { return s.interval.count() <= 0; }),
                  schedules.end());
  if (schedules.empty()) return;
  for (auto& s : schedules) s.next = start + s.interval;
  logger_.Info("started");
  while (true) {
    auto next =
        std::min_element(schedules.begin(), schedules.end(),
                         [](const Schedule& a, const Schedule& b) { return a.next < b.next; });
    if (thread_.WaitUntil(next->next)) break;
    (this->*(next->report))();
    next->next += next->interval;
    // After a long stall, skip the missed ticks instead of firing them back to back.
    if (auto now = Clock::now(); next->next < now) next->next = now + next->interval;
  }
  logger_.Info("finished");
}

std::vector<Measurement> Reporter::Deliver(std::vector<Measurement> measurements) {
  if (sink_ != nullptr) sink_->Emit(measurements);
  return measurements;
}

std::vector<Measurement> Reporter::ReportRequests() {
  RequestReport report = metrics_->TakeRequestReport();
  std::vector<Measurement> out;
  out.push_back(Measurement::Counter("RequestCount", report.count));
  out.push_back(Measurement::Duration("RequestLatency", report.max_latency.count()));
  if (options_.advanced_enabled) {
    auto find = [&report](const std::string& name) -> const RequestReport::Route* {
      for (const auto& r : report.routes) {
        if (r.name == name) return &r;
      }
      return nullptr;
    };
    for (const auto& name : options_.request_count_routes) {
      const auto* route = find(name);
      out.push_back(Measurement::Counter("RequestCount." + name, route ? route->count : 0));
    }
    for (const auto& name : options_.request_latency_routes) {
      const auto* route = find(name);
      out.push_back(
          Measurement::Duration("RequestLatency." + name, route ? route->max_latency.count() : 0));
    }
  }
  ProcessStats process = ReadProcessStats();
  if (process.open_fds >= 0) {
    out.push_back(Measurement::Gauge("OpenFileDescriptors", static_cast<double>(process.open_fds)));
  }
  out.push_back(Measurement::Gauge("LockHeld", metrics_->lock_held() ? 1 : 0));
  return Deliver(std::move(out));
}

std::vector<Measurement> Reporter::ReportConvergence() {
  if (options_.stats_only_when_lock_held && !metrics_->lock_held()) return {};
  std::vector<Measurement> out;
  auto gauge = [&out](const char* name, int64_t v) {
    out.push_back(Measurement::Gauge(name, static_cast<double>(v)));
  };

  LrpReport lrp = metrics_->TakeLrpReport();
  if (lrp.runs > 0) out.push_back(Measurement::Counter("ConvergenceLRPRuns", lrp.runs));
  out.push_back(Measurement::Duration("ConvergenceLRPDuration", lrp.last.duration.count()));
  for (const auto& domain : lrp.last.fresh_domains) {
    out.push_back(Measurement::Gauge("Domain." + domain, 1));
  }
  for (const auto& g : kLrpConvergenceGauges) gauge(g.name, lrp.last.*g.field);

  TaskReport task = metrics_->TakeTaskReport();
  for (const auto& cell : task.cells) {
    for (auto [name, value] :
         {std::pair{"TasksStarted", cell.started}, std::pair{"TasksFailed", cell.failed},
          std::pair{"TasksSucceeded", cell.succeeded}}) {
      Measurement m = Measurement::Gauge(name, static_cast<double>(value));
      m.tags.emplace_back("cell-id", cell.cell_id);
      out.push_back(std::move(m));
    }
  }
  gauge("TasksPending", task.last.pending);
  gauge("TasksRunning", task.last.running);
  gauge("TasksCompleted", task.last.completed);
  gauge("TasksResolving", task.last.resolving);
  // Upstream re-adds the last pass's figures every tick until the next pass (behavior.md
  // §12.1 quirk); kept for wire fidelity.
  out.push_back(Measurement::Counter("ConvergenceTasksPruned", task.last.pruned));
  out.push_back(Measurement::Counter("ConvergenceTasksKicked", task.last.kicked));
  if (task.runs > 0) out.push_back(Measurement::Counter("ConvergenceTaskRuns", task.runs));
  out.push_back(Measurement::Duration("ConvergenceTaskDuration", task.last.duration.count()));
  return Deliver(std::move(out));
}

std::vector<Measurement> Reporter::ReportStore() {
  if (options_.stats_only_when_lock_held && !metrics_->lock_held()) return {};
  StoreReport r = metrics_->TakeStoreReport();
  std::vector<Measurement> out;
  auto gauge = [&out](const char* name, double v) { out.push_back(Measurement::Gauge(name, v)); };
  gauge("DBOpenConnections", static_cast<double>(r.pool.open_connections));
  out.push_back(Measurement::Duration("DBWaitDuration", r.pool.wait_duration.count()));
  gauge("DBWaitCount", static_cast<double>(r.pool.wait_count));
  gauge("DBQueriesTotal", static_cast<double>(r.queries_total));
  gauge("DBQueriesSucceeded", static_cast<double>(r.queries_succeeded));
  gauge("DBQueriesFailed", static_cast<double>(r.queries_failed));
  gauge("DBQueriesInFlight", static_cast<double>(r.max_in_flight));
  out.push_back(Measurement::Duration("DBQueryDurationMax", r.max_query_duration.count()));
  return Deliver(std::move(out));
}

std::vector<Measurement> Reporter::ReportProcess() {
  ProcessStats p = ReadProcessStats();
  std::vector<Measurement> out;
  if (p.resident_bytes >= 0) {
    out.push_back(Measurement::Gauge("memoryStats.numBytesResident",
                                     static_cast<double>(p.resident_bytes), "Bytes"));
  }
  if (p.threads >= 0) {
    out.push_back(Measurement::Gauge("numThreads", static_cast<double>(p.threads), "Count"));
  }
  if (p.open_fds >= 0) {
    out.push_back(
        Measurement::Gauge("numFileDescriptors", static_cast<double>(p.open_fds), "Count"));
  }
  return Deliver(std::move(out));
}

}  // namespace bbs::metrics
