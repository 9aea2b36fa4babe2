#include "bbs/converger/converger.h"

#include <nlohmann/json.hpp>

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
  loop_.Start([this] { Loop(); });
}

void Converger::Stop() { loop_.Stop(); }

void Converger::Loop() {
  while (!loop_.WaitFor(options_.interval)) {
    (void)ConvergeTasks();
    (void)ConvergeLrps();
  }
}

Result<std::optional<std::set<std::string>>> Converger::PresentCells(const char* failure_event) {
  if (cells_ == nullptr || !cells_->knows_presence()) {
    return std::optional<std::set<std::string>>();
  }
  auto all = cells_->All();
  if (!all.ok()) {
    logger_.Error(failure_event, all.status().ToString());
    return all.status();
  }
  std::set<std::string> ids;
  for (const auto& c : *all) ids.insert(c.cell_id());
  return std::optional<std::set<std::string>>(std::move(ids));
}

Status Converger::ConvergeLrps() {
  std::lock_guard pass(pass_mu_);
  auto cells = PresentCells("converge-lrps-failed-to-fetch-cells");
  if (!cells.ok()) return cells.status();
  auto report = engine_->convergence().ConvergeLrps(*cells);
  const auto& m = report.metrics;
  metrics::LrpConvergenceStats stats{.duration = metrics::Nanos(report.duration_ns),
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
                                     .suspect_cells = m.suspect_cells};
  nlohmann::json figures = {{"duration_ns", report.duration_ns}};
  for (const auto& gauge : metrics::kLrpConvergenceGauges) figures[gauge.name] = stats.*gauge.field;
  logger_.Info("converge-lrps-done", std::move(figures));
  if (options_.metrics != nullptr) {
    stats.fresh_domains = engine_->domains().FreshDomains();
    options_.metrics->RecordLrpConvergence(stats);
  }
  std::lock_guard lock(mu_);
  lrp_report_ = report;
  return Status::Ok();
}

Status Converger::ConvergeTasks() {
  std::lock_guard pass(pass_mu_);
  auto cells = PresentCells("converge-tasks-failed-to-fetch-cells");
  if (!cells.ok()) return cells.status();
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
