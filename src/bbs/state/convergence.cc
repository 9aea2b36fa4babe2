#include "bbs/state/convergence.h"

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <unordered_set>

#include "bbs/domain/events.h"
#include "bbs/state/start_requests.h"

namespace bbs::state {
namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Most actions one window locks and submits before it waits for their commits.
constexpr size_t kWindow = 512;

// One decided action: its change, what to do once it committed, and (once the window submitted
// it) its commit.
struct Submitted {
  Change change;
  std::function<void()> on_committed;
  std::future<Status> done;
};

// Applies `items` in windows of distinct keys (see Convergence). `lock_key(item)` names the key
// lock, `slot_key(item)` the record the action rewrites (a window never holds two actions on the
// same record, so each decides on the rows the previous one left); `submit(item)` decides under
// the locks and returns the submitted change, or nullopt when there is nothing to write.
template <typename Item, typename LockKey, typename SlotKey, typename Submit>
void ApplyInWindows(Committer* committer, KeyLocks* locks, Logger& logger, const char* failure,
                    const std::vector<Item>& items, LockKey lock_key, SlotKey slot_key,
                    Submit submit) {
  size_t next = 0;
  while (next < items.size()) {
    std::vector<std::string> keys;
    std::unordered_set<std::string> slots;
    size_t end = next;
    while (end < items.size() && end - next < kWindow &&
           slots.insert(slot_key(items[end])).second) {
      keys.push_back(lock_key(items[end]));
      ++end;
    }
    std::vector<Submitted> submitted;
    {
      auto held = locks->LockMany(keys);
      for (size_t i = next; i < end; ++i) {
        std::optional<Submitted> s = submit(items[i]);
        if (s) submitted.push_back(std::move(*s));
      }
      // The window's changes go to the committer together (one wake-up, shared group commits).
      std::vector<Change> changes;
      changes.reserve(submitted.size());
      for (auto& s : submitted) changes.push_back(std::move(s.change));
      std::vector<std::future<Status>> done = committer->SubmitAll(std::move(changes));
      for (size_t i = 0; i < submitted.size(); ++i) submitted[i].done = std::move(done[i]);
      // The locks stay held until memory reflects every change of the window.
      for (auto& s : submitted) {
        Status status = s.done.get();
        if (!status.ok()) {
          logger.Error(failure, status.ToString());
          s.on_committed = nullptr;
        }
      }
    }
    for (auto& s : submitted) {
      if (s.on_committed) s.on_committed();
    }
    next = end;
  }
}

std::string SlotKeyOf(const std::string& process_guid, int32_t index) {
  return process_guid + "\n" + std::to_string(index);
}

}  // namespace

Convergence::LrpReport Convergence::ConvergeLrps(
    const std::optional<std::set<std::string>>& present_cells) {
  int64_t started = SteadyNanos();
  int64_t now = ctx_.clock->NowNanos();

  // 1. Expired domains go first.
  domains_->PruneExpired(now);

  // 2. The actions: from the convergence index (only the processes that may have changed), or
  // the full calculator over memory in place, under the model's shared lock.
  domain::LrpConvergenceActions actions =
      index_ != nullptr ? index_->Calculate(now, present_cells)
                        : ctx_.model->CalculateLrpConvergence(now, present_cells);

  // 3. The per-index actions, each decided again by domain/ under its process lock.
  std::map<std::string, std::vector<int32_t>> auctions;
  auto lock_key = [](const domain::LrpKey& k) { return k.process_guid; };
  auto slot_key = [](const domain::LrpKey& k) { return SlotKeyOf(k.process_guid, k.index); };
  // Submits `decide(snapshot)` for `key`; `auction`: add the index to the pass's auction.
  auto apply = [&](const domain::LrpKey& key, bool auction,
                   std::optional<domain::LrpEventMode> mode,
                   const std::function<domain::LrpDecision(const LrpSnapshot&)>& decide)
      -> std::optional<Submitted> {
    LrpSnapshot snap = ctx_.model->SnapshotLrp(key.process_guid, key.index);
    domain::LrpDecision d = decide(snap);
    if (!d.status.ok() || (d.puts.empty() && d.deletes.empty())) return std::nullopt;
    Submitted s{LrpChangeOf(snap, d, "", mode), nullptr, {}};
    if (auction)
      s.on_committed = [&auctions, key] { auctions[key.process_guid].push_back(key.index); };
    return s;
  };

  ApplyInWindows(
      ctx_.committer, ctx_.locks, ctx_.logger, "convergence-write-failed", actions.prune_evacuating,
      [](const models::ActualLRP& row) { return row.actual_lrp_key().process_guid(); },
      [](const models::ActualLRP& row) {
        return SlotKeyOf(row.actual_lrp_key().process_guid(), row.actual_lrp_key().index());
      },
      [&](const models::ActualLRP& row) {
        domain::LrpKey key{row.actual_lrp_key().process_guid(), row.actual_lrp_key().index()};
        return apply(key, false, std::nullopt, [&](const LrpSnapshot& snap) {
          return domain::PruneEvacuating(snap.rows(), row.actual_lrp_instance_key());
        });
      });

  ApplyInWindows(ctx_.committer, ctx_.locks, ctx_.logger, "convergence-write-failed",
                 actions.create_missing, lock_key, slot_key, [&](const domain::LrpKey& key) {
                   return apply(key, true, std::nullopt, [&](const LrpSnapshot& snap) {
                     return domain::CreateMissing(snap.rows(), snap.desired.get(), key,
                                                  ctx_.clock->NowNanos(),
                                                  [this] { return ctx_.guids->NewGuid(); });
                   });
                 });

  ApplyInWindows(
      ctx_.committer, ctx_.locks, ctx_.logger, "convergence-write-failed", actions.unclaim_stale,
      lock_key, slot_key, [&](const domain::LrpKey& key) -> std::optional<Submitted> {
        LrpSnapshot snap = ctx_.model->SnapshotLrp(key.process_guid, key.index);
        if (!snap.desired) return std::nullopt;
        auto d = domain::Unclaim(snap.rows(), /*is_stale=*/true, ctx_.clock->NowNanos());
        auto auction = [&auctions, key] { auctions[key.process_guid].push_back(key.index); };
        if (d.status.ok()) {
          return Submitted{LrpChangeOf(snap, d, ""), auction, {}};
        }
        // Already UNCLAIMED: it only needs placing.
        if (d.status.code() == ErrorCode::kActualLrpCannotBeUnclaimed) auction();
        return std::nullopt;
      });

  ApplyInWindows(
      ctx_.committer, ctx_.locks, ctx_.logger, "convergence-write-failed",
      actions.missing_cell_replace, lock_key, slot_key, [&](const domain::LrpKey& key) {
        return apply(key, true, domain::LrpEventMode::kInstanceOnly, [&](const LrpSnapshot& snap) {
          return domain::ReplaceWithSuspect(snap.rows(), snap.desired != nullptr,
                                            ctx_.clock->NowNanos(),
                                            [this] { return ctx_.guids->NewGuid(); });
        });
      });

  ApplyInWindows(ctx_.committer, ctx_.locks, ctx_.logger, "convergence-write-failed",
                 actions.missing_cell_unclaim, lock_key, slot_key, [&](const domain::LrpKey& key) {
                   return apply(key, false, std::nullopt, [&](const LrpSnapshot& snap) {
                     return domain::Unclaim(snap.rows(), /*is_stale=*/false,
                                            ctx_.clock->NowNanos());
                   });
                 });

  ApplyInWindows(ctx_.committer, ctx_.locks, ctx_.logger, "convergence-write-failed",
                 actions.promote_suspect, lock_key, slot_key, [&](const domain::LrpKey& key) {
                   return apply(
                       key, false, domain::LrpEventMode::kPerChange,
                       [](const LrpSnapshot& snap) { return domain::PromoteSuspect(snap.rows()); });
                 });

  ApplyInWindows(ctx_.committer, ctx_.locks, ctx_.logger, "convergence-write-failed",
                 actions.remove_suspect, lock_key, slot_key, [&](const domain::LrpKey& key) {
                   return apply(
                       key, false, domain::LrpEventMode::kPerChange,
                       [](const LrpSnapshot& snap) { return domain::RemoveSuspect(snap.rows()); });
                 });

  ctx_.outbound->SendInstanceUpdates(actions.instance_updates);

  for (const auto& key : actions.retire) {
    models::ActualLRPKey k;
    k.set_process_guid(key.process_guid);
    k.set_index(key.index);
    Status s = actual_lrps_->RetireActualLrp(k, "");
    if (!s.ok()) ctx_.logger.Error("convergence-retire-failed", s.ToString());
  }

  // One auction request for the whole pass.
  std::vector<clients::LrpStartRequest> requests;
  for (auto& [guid, indices] : auctions) {
    DesiredLrpPtr d = ctx_.model->DesiredLrp(guid);
    if (!d) continue;
    for (int32_t index : indices) requests.push_back(LrpStartRequestOf(*d, {index}));
  }
  ctx_.outbound->RequestLrpAuctions(std::move(requests));

  LrpReport report;
  report.metrics = actions.metrics;
  report.duration_ns = SteadyNanos() - started;
  return report;
}

Convergence::TaskReport Convergence::ConvergeTasks(
    const std::optional<std::set<std::string>>& present_cells,
    const domain::TaskConvergenceDurations& durations) {
  int64_t started = SteadyNanos();
  std::vector<TaskPtr> tasks = ctx_.model->AllTasks();
  std::vector<const models::Task*> raw;
  raw.reserve(tasks.size());
  for (const auto& t : tasks) raw.push_back(t.get());
  std::set<std::string> cells;
  if (present_cells) {
    cells = *present_cells;
  } else {
    for (const auto& t : tasks) cells.insert(t->cell_id());
  }
  domain::TaskConvergence c = domain::Converge(raw, cells, ctx_.clock->NowNanos(), durations);

  auto guid_of_update = [](const domain::TaskUpdate& u) { return u.before->task_guid(); };
  auto lock_of_update = [](const domain::TaskUpdate& u) {
    return KeyLocks::TaskKey(u.before->task_guid());
  };
  // Steps 1, 3, 4: rewrite, each only if the task is still the one the pass saw.
  auto rewrite = [&](const domain::TaskUpdate& u) -> std::optional<Submitted> {
    TaskPtr current = ctx_.model->Task(u.before->task_guid());
    if (!current || current->SerializeAsString() != u.before->SerializeAsString()) {
      return std::nullopt;
    }
    Change change;
    change.mutations.push_back(storage::PutTask{u.after});
    change.events.push_back(domain::TaskChangedEvent(*current, u.after));
    return Submitted{std::move(change), nullptr, {}};
  };
  for (const auto* list : {&c.expired_pending, &c.cell_disappeared, &c.demoted_resolving}) {
    ApplyInWindows(ctx_.committer, ctx_.locks, ctx_.logger, "task-convergence-write-failed", *list,
                   lock_of_update, guid_of_update, rewrite);
  }
  // Step 5: delete expired completed tasks.
  ApplyInWindows(
      ctx_.committer, ctx_.locks, ctx_.logger, "task-convergence-delete-failed", c.to_delete,
      [](const models::Task& t) { return KeyLocks::TaskKey(t.task_guid()); },
      [](const models::Task& t) { return t.task_guid(); },
      [&](const models::Task& t) -> std::optional<Submitted> {
        TaskPtr current = ctx_.model->Task(t.task_guid());
        if (!current || (current->state() != models::Task::Completed &&
                         current->state() != models::Task::Resolving)) {
          return std::nullopt;
        }
        Change change;
        change.mutations.push_back(storage::DeleteTask{t.task_guid()});
        change.events.push_back(domain::TaskRemovedEvent(*current));
        return Submitted{std::move(change), nullptr, {}};
      });
  // Step 2: one auction request with every pending task.
  ctx_.outbound->RequestTaskAuctions(c.to_auction);

  TaskReport report;
  // Step 6: completed tasks to kick (callbacks).
  for (const auto& t : c.to_kick) {
    TaskPtr current = ctx_.model->Task(t.task_guid());
    if (current && current->state() == models::Task::Completed) report.to_kick.push_back(current);
  }
  report.metrics = c.metrics;
  report.duration_ns = SteadyNanos() - started;
  return report;
}

}  // namespace bbs::state
