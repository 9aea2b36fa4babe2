#include "bbs/converger/converger.h"

namespace bbs::converger {

Converger::Converger(state::Engine* engine, cells::CellDirectory* cells,
                     state::TaskCallbacks* callbacks, Options options, Logger logger)
    : engine_(engine),
      cells_(cells),
      callbacks_(callbacks),
      options_(options),
      logger_(std::move(logger)) {}

Converger::~Converger() { Stop(); }

void Converger::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Converger::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Converger::Loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, options_.interval, [this] { return stopping_; })) return;
    }
    (void)ConvergeTasks();
    (void)ConvergeLrps();
  }
}

Result<std::optional<std::set<std::string>>> Converger::PresentCells() {
  if (cells_ == nullptr || !cells_->knows_presence()) {
    return std::optional<std::set<std::string>>();
  }
  auto all = cells_->All();
  if (!all.ok()) return all.status();
  std::set<std::string> ids;
  for (const auto& c : *all) ids.insert(c.cell_id());
  return std::optional<std::set<std::string>>(std::move(ids));
}

Status Converger::ConvergeLrps() {
  std::lock_guard pass(pass_mu_);
  auto cells = PresentCells();
  if (!cells.ok()) {
    logger_.Error("converge-lrps-failed-to-fetch-cells", cells.status().ToString());
    return cells.status();
  }
  auto report = engine_->convergence().ConvergeLrps(*cells);
  const auto& m = report.metrics;
  logger_.Info("converge-lrps-done", {{"duration_ns", report.duration_ns},
                                      {"LRPsUnclaimed", m.unclaimed},
                                      {"LRPsClaimed", m.claimed},
                                      {"LRPsRunning", m.running},
                                      {"CrashedActualLRPs", m.crashed},
                                      {"CrashingDesiredLRPs", m.crashing_desired},
                                      {"LRPsDesired", m.desired_instances},
                                      {"LRPsMissing", m.missing},
                                      {"LRPsExtra", m.extra},
                                      {"SuspectRunningActualLRPs", m.suspect_running},
                                      {"SuspectClaimedActualLRPs", m.suspect_claimed},
                                      {"PresentCells", m.present_cells},
                                      {"SuspectCells", m.suspect_cells}});
  if (options_.metrics != nullptr) {
    options_.metrics->RecordLrpConvergence({.duration = metrics::Nanos(report.duration_ns),
                                            .unclaimed = m.unclaimed,
                                            .claimed = m.claimed,
                                            .running = m.running,
                                            .crashed = m.crashed,
                                            .crashing_desired = m.crashing_desired,
                                            .desired = m.desired_instances,
                                            .missing = m.missing,
                                            .extra = m.extra,
                                            .suspect_running = m.suspect_running,
                                            .suspect_claimed = m.suspect_claimed,
                                            .present_cells = m.present_cells,
                                            .suspect_cells = m.suspect_cells,
                                            .fresh_domains = engine_->domains().FreshDomains()});
  }
  std::lock_guard lock(mu_);
  lrp_report_ = report;
  return Status::Ok();
}

Status Converger::ConvergeTasks() {
  std::lock_guard pass(pass_mu_);
  auto cells = PresentCells();
  if (!cells.ok()) {
    logger_.Error("converge-tasks-failed-to-fetch-cells", cells.status().ToString());
    return cells.status();
  }
  auto report = engine_->convergence().ConvergeTasks(*cells, options_.task_durations);
  if (callbacks_ != nullptr) {
    for (const auto& t : report.to_kick) callbacks_->Submit(t);
  }
  const auto& m = report.metrics;
  logger_.Info("converge-tasks-done", {{"duration_ns", report.duration_ns},
                                       {"TasksPending", m.pending},
                                       {"TasksRunning", m.running},
                                       {"TasksCompleted", m.completed},
                                       {"TasksResolving", m.resolving},
                                       {"ConvergenceTasksKicked", m.kicked},
                                       {"ConvergenceTasksPruned", m.pruned}});
  if (options_.metrics != nullptr) {
    options_.metrics->RecordTaskConvergence({.duration = metrics::Nanos(report.duration_ns),
                                             .pending = m.pending,
                                             .running = m.running,
                                             .completed = m.completed,
                                             .resolving = m.resolving,
                                             .pruned = static_cast<uint64_t>(m.pruned),
                                             .kicked = static_cast<uint64_t>(m.kicked)});
  }
  std::lock_guard lock(mu_);
  task_report_ = std::move(report);
  return Status::Ok();
}

state::Convergence::LrpReport Converger::last_lrp_report() const {
  std::lock_guard lock(mu_);
  return lrp_report_;
}

state::Convergence::TaskReport Converger::last_task_report() const {
  std::lock_guard lock(mu_);
  return task_report_;
}

}  // namespace bbs::converger
