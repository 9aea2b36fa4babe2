// Convergence passes of the state engine (behavior.md §7): snapshot, calculate with the pure
// calculators, then apply every action as an ordinary write under its own lock, so that
// convergence and API calls never race.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "bbs/clients/auctioneer.h"
#include "bbs/clients/reps.h"
#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/events.h"
#include "bbs/state/engine.h"
#include "bbs/state/start_requests.h"

namespace bbs::state {
namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Runs fn(i) for i in [0, n) on up to `workers` threads (upstream: convergence_workers = 20), so
// that the writes of one pass are group-committed together instead of one after another.
template <typename Fn>
void ParallelFor(size_t n, size_t workers, Fn fn) {
  if (n < 64 || workers <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (size_t w = 0; w < std::min(workers, n); ++w) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) fn(i);
    });
  }
  for (auto& t : threads) t.join();
}

constexpr size_t kConvergenceWorkers = 20;

bool RunningOrClaimed(const models::ActualLRP& lrp) {
  return lrp.state() == domain::kRunning || lrp.state() == domain::kClaimed;
}

}  // namespace

Engine::LrpConvergenceReport Engine::ConvergeLrps(
    const std::optional<std::set<std::string>>& present_cells) {
  int64_t started = SteadyNanos();
  int64_t now = clock_->NowNanos();

  // 1. Expired domains go first.
  std::vector<std::string> expired;
  {
    std::shared_lock lock(state_mu_);
    for (const auto& [name, expire] : domains_) {
      if (expire <= now) expired.push_back(name);
    }
  }
  if (!expired.empty()) {
    std::lock_guard write_lock(domain_write_mu_);
    Change change;
    for (const auto& d : expired) change.mutations.push_back(storage::DeleteDomain{d});
    Status s = Commit(std::move(change));
    if (!s.ok()) logger_.Error("prune-domains-failed", s.ToString());
  }

  // 2. The calculator reads memory in place, under the shared lock: no copies, no refcounts.
  domain::LrpConvergenceActions actions;
  {
    std::shared_lock lock(state_mu_);
    domain::LrpGroupedInput input;
    input.now = now;
    for (const auto& [name, expire] : domains_) {
      if (expire > now) input.fresh_domains.insert(name);
    }
    input.processes.reserve(processes_.size());
    input.slots.reserve(actual_count_);
    for (const auto& [guid, entry] : processes_) {
      domain::LrpProcessView view;
      view.desired = entry.desired.get();
      view.first_slot = input.slots.size();
      for (const auto& [index, slots] : entry.actuals) {
        domain::LrpSlotView slot;
        slot.index = index;
        for (int p = 0; p < 3; ++p) slot.rows[p] = slots.by_presence[p].get();
        input.slots.push_back(slot);
      }
      view.slot_count = input.slots.size() - view.first_slot;
      input.processes.push_back(view);
    }
    if (present_cells) {
      input.present_cells.insert(present_cells->begin(), present_cells->end());
    } else {
      for (const auto& [cell, refs] : by_cell_) input.present_cells.insert(cell);
    }
    actions = domain::CalculateLrpConvergence(input);
  }

  std::map<std::string, std::vector<int32_t>> auctions;
  std::mutex auctions_mu;
  auto auction = [&](const std::string& guid, int32_t index) {
    std::lock_guard lock(auctions_mu);
    auctions[guid].push_back(index);
  };
  auto apply = [&](const LrpSnapshot& snap, const domain::LrpDecision& d,
                   std::optional<domain::LrpEventMode> mode = std::nullopt) {
    Status s = ApplyLrpDecision(snap, d, "", mode);
    if (!s.ok()) logger_.Error("convergence-write-failed", s.ToString());
    return s.ok();
  };

  for (const auto& row : actions.prune_evacuating) {
    const auto& key = row.actual_lrp_key();
    auto lock = LockProcess(key.process_guid());
    LrpSnapshot snap = SnapshotLrp(key.process_guid(), key.index());
    if (!snap.evacuating || !domain::InstanceKeysEqual(snap.evacuating->actual_lrp_instance_key(),
                                                       row.actual_lrp_instance_key())) {
      continue;
    }
    domain::LrpDecision d;
    d.deletes.push_back(*snap.evacuating);
    d.event_changes.push_back({*snap.evacuating, std::nullopt});
    apply(snap, d);
  }

  ParallelFor(actions.create_missing.size(), kConvergenceWorkers, [&](size_t i) {
    const auto& key = actions.create_missing[i];
    auto lock = LockProcess(key.process_guid);
    LrpSnapshot snap = SnapshotLrp(key.process_guid, key.index);
    if (snap.ordinary || !snap.desired ||
        key.index >= snap.desired->scheduling_info().instances()) {
      return;
    }
    domain::LrpDecision d;
    auto lrp = domain::NewUnclaimedActualLrp(
        key.process_guid, key.index, snap.desired->scheduling_info().desired_lrp_key().domain(),
        clock_->NowNanos(), guids_->NewGuid());
    d.puts.push_back(lrp);
    d.event_changes.push_back({std::nullopt, lrp});
    if (apply(snap, d)) auction(key.process_guid, key.index);
  });

  ParallelFor(actions.unclaim_stale.size(), kConvergenceWorkers, [&](size_t i) {
    const auto& key = actions.unclaim_stale[i];
    auto lock = LockProcess(key.process_guid);
    LrpSnapshot snap = SnapshotLrp(key.process_guid, key.index);
    if (!snap.desired) return;
    auto d = domain::Unclaim(snap.rows(), /*is_stale=*/true, clock_->NowNanos());
    if (d.status.ok()) {
      if (!apply(snap, d)) return;
    } else if (d.status.code() != ErrorCode::kActualLrpCannotBeUnclaimed) {
      return;
    }
    auction(key.process_guid, key.index);
  });

  for (const auto& key : actions.missing_cell_replace) {
    auto lock = LockProcess(key.process_guid);
    LrpSnapshot snap = SnapshotLrp(key.process_guid, key.index);
    if (!snap.ordinary || !snap.desired || !RunningOrClaimed(*snap.ordinary) || snap.suspect) {
      continue;
    }
    domain::LrpDecision d;
    models::ActualLRP suspect = *snap.ordinary;
    suspect.set_presence(models::ActualLRP::SUSPECT);
    auto replacement = domain::NewUnclaimedActualLrp(key.process_guid, key.index,
                                                     snap.ordinary->actual_lrp_key().domain(),
                                                     clock_->NowNanos(), guids_->NewGuid());
    d.deletes.push_back(*snap.ordinary);
    d.puts.push_back(suspect);
    d.puts.push_back(replacement);
    d.event_changes.push_back({*snap.ordinary, suspect});
    d.event_changes.push_back({std::nullopt, replacement});
    if (apply(snap, d, domain::LrpEventMode::kInstanceOnly))
      auctions[key.process_guid].push_back(key.index);
  }

  for (const auto& key : actions.missing_cell_unclaim) {
    auto lock = LockProcess(key.process_guid);
    LrpSnapshot snap = SnapshotLrp(key.process_guid, key.index);
    auto d = domain::Unclaim(snap.rows(), /*is_stale=*/false, clock_->NowNanos());
    if (d.status.ok()) apply(snap, d);
  }

  for (const auto& key : actions.promote_suspect) {
    auto lock = LockProcess(key.process_guid);
    LrpSnapshot snap = SnapshotLrp(key.process_guid, key.index);
    if (!snap.suspect) continue;
    domain::LrpDecision d;
    if (snap.ordinary) {
      d.deletes.push_back(*snap.ordinary);
      d.event_changes.push_back({*snap.ordinary, std::nullopt});
    }
    models::ActualLRP promoted = *snap.suspect;
    promoted.set_presence(models::ActualLRP::ORDINARY);
    d.deletes.push_back(*snap.suspect);
    d.puts.push_back(promoted);
    d.event_changes.push_back({*snap.suspect, promoted});
    apply(snap, d, domain::LrpEventMode::kPerChange);
  }

  for (const auto& key : actions.remove_suspect) {
    auto lock = LockProcess(key.process_guid);
    LrpSnapshot snap = SnapshotLrp(key.process_guid, key.index);
    if (!snap.suspect) continue;
    domain::LrpDecision d;
    d.deletes.push_back(*snap.suspect);
    d.event_changes.push_back({*snap.suspect, std::nullopt});
    apply(snap, d, domain::LrpEventMode::kPerChange);
  }

  if (reps_ != nullptr && cells_ != nullptr) {
    for (const auto& u : actions.instance_updates) {
      auto presence = cells_->Lookup(u.lrp.actual_lrp_instance_key().cell_id());
      if (!presence.ok()) continue;
      clients::LrpInstanceUpdate update;
      update.process_guid = u.lrp.actual_lrp_key().process_guid();
      update.instance_guid = u.lrp.actual_lrp_instance_key().instance_guid();
      update.domain = u.lrp.actual_lrp_key().domain();
      update.index = u.lrp.actual_lrp_key().index();
      update.internal_routes = u.internal_routes;
      update.metric_tags = u.metric_tags;
      reps_->UpdateLrpInstanceAsync(presence->rep_url(), std::move(update), "");
    }
  }

  for (const auto& key : actions.retire) {
    models::ActualLRPKey k;
    k.set_process_guid(key.process_guid);
    k.set_index(key.index);
    Status s = RetireActualLrp(k, "");
    if (!s.ok()) logger_.Error("convergence-retire-failed", s.ToString());
  }

  // One auction request for the whole pass.
  if (auctioneer_ != nullptr && !auctions.empty()) {
    std::vector<clients::LrpStartRequest> requests;
    for (auto& [guid, indices] : auctions) {
      DesiredLrpPtr d = DesiredLrp(guid);
      if (!d) continue;
      for (int32_t index : indices) requests.push_back(LrpStartRequestOf(*d, {index}));
    }
    if (!requests.empty()) auctioneer_->RequestLrpAuctions(std::move(requests), "");
  }

  LrpConvergenceReport report;
  report.metrics = actions.metrics;
  report.duration_ns = SteadyNanos() - started;
  return report;
}

Engine::TaskConvergenceReport Engine::ConvergeTasks(
    const std::optional<std::set<std::string>>& present_cells,
    const domain::TaskConvergenceDurations& durations) {
  int64_t started = SteadyNanos();
  std::vector<TaskPtr> tasks;
  {
    std::shared_lock lock(state_mu_);
    tasks.reserve(tasks_.size());
    for (const auto& [guid, t] : tasks_) tasks.push_back(t);
  }
  std::vector<const models::Task*> raw;
  raw.reserve(tasks.size());
  for (const auto& t : tasks) raw.push_back(t.get());
  std::set<std::string> cells;
  if (present_cells) {
    cells = *present_cells;
  } else {
    for (const auto& t : tasks) cells.insert(t->cell_id());
  }
  domain::TaskConvergence c = domain::Converge(raw, cells, clock_->NowNanos(), durations);

  TaskConvergenceReport report;
  // Steps 1, 3, 4: rewrite, each only if the task is still the one the pass saw.
  auto rewrite = [&](const domain::TaskUpdate& u) {
    auto lock = LockTask(u.before->task_guid());
    TaskPtr current = Task(u.before->task_guid());
    if (!current || current->SerializeAsString() != u.before->SerializeAsString()) return;
    Change change;
    change.mutations.push_back(storage::PutTask{u.after});
    change.events.push_back(domain::TaskChangedEvent(*current, u.after));
    Status s = Commit(std::move(change));
    if (!s.ok()) logger_.Error("task-convergence-write-failed", s.ToString());
  };
  for (const auto& u : c.expired_pending) rewrite(u);
  for (const auto& u : c.cell_disappeared) rewrite(u);
  for (const auto& u : c.demoted_resolving) rewrite(u);
  // Step 5: delete expired completed tasks.
  for (const auto& t : c.to_delete) {
    auto lock = LockTask(t.task_guid());
    TaskPtr current = Task(t.task_guid());
    if (!current) continue;
    if (current->state() != models::Task::Completed &&
        current->state() != models::Task::Resolving) {
      continue;
    }
    Change change;
    change.mutations.push_back(storage::DeleteTask{t.task_guid()});
    change.events.push_back(domain::TaskRemovedEvent(*current));
    Status s = Commit(std::move(change));
    if (!s.ok()) logger_.Error("task-convergence-delete-failed", s.ToString());
  }
  // Step 2: one auction request with every pending task.
  if (auctioneer_ != nullptr && !c.to_auction.empty()) {
    std::vector<clients::TaskStartRequest> requests;
    for (const models::Task* t : c.to_auction) requests.push_back(TaskStartRequestOf(*t));
    auctioneer_->RequestTaskAuctions(std::move(requests));
  }
  // Step 6: completed tasks to kick (callbacks).
  for (const auto& t : c.to_kick) {
    TaskPtr current = Task(t.task_guid());
    if (current && current->state() == models::Task::Completed) report.to_kick.push_back(current);
  }
  report.metrics = c.metrics;
  report.duration_ns = SteadyNanos() - started;
  return report;
}

}  // namespace bbs::state
