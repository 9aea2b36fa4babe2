#include "bbs/state/convergence.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <string_view>
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

// One per-index LRP action of a pass (domain::LrpConvergenceActions' lists, in their order).
struct LrpItem {
  enum Kind { kPrune, kCreate, kUnclaimStale, kReplace, kUnclaimMissing, kPromote, kRemoveSuspect };
  Kind kind;
  const std::string* guid;
  int32_t index;
  const models::ActualLRP* seen = nullptr;  // kPrune: the EVACUATING row the pass saw
  const ProcessSnapshot* rows = nullptr;    // its process as the index read it, if kept
};

// The items of `a`, each with its process's rows from `rows` (may be null).
std::vector<LrpItem> LrpItemsOf(const domain::LrpConvergenceActions& a,
                                const ConvergenceIndex::PassRows* rows) {
  using List = ConvergenceIndex::PassRows::List;
  std::vector<LrpItem> items;
  items.reserve(a.prune_evacuating.size() + a.create_missing.size() + a.unclaim_stale.size() +
                a.missing_cell_replace.size() + a.missing_cell_unclaim.size() +
                a.promote_suspect.size() + a.remove_suspect.size());
  auto rows_of = [rows](List list, size_t i) {
    return rows == nullptr ? nullptr : rows->RowsOf(list, i);
  };
  for (size_t i = 0; i < a.prune_evacuating.size(); ++i) {
    const auto& row = a.prune_evacuating[i];
    items.push_back({LrpItem::kPrune, &row.actual_lrp_key().process_guid(),
                     row.actual_lrp_key().index(), &row, rows_of(List::kPruneEvacuating, i)});
  }
  auto add = [&](LrpItem::Kind kind, List list, const std::vector<domain::LrpKey>& keys) {
    for (size_t i = 0; i < keys.size(); ++i) {
      items.push_back({kind, &keys[i].process_guid, keys[i].index, nullptr, rows_of(list, i)});
    }
  };
  add(LrpItem::kCreate, List::kCreateMissing, a.create_missing);
  add(LrpItem::kUnclaimStale, List::kUnclaimStale, a.unclaim_stale);
  add(LrpItem::kReplace, List::kMissingCellReplace, a.missing_cell_replace);
  add(LrpItem::kUnclaimMissing, List::kMissingCellUnclaim, a.missing_cell_unclaim);
  add(LrpItem::kPromote, List::kPromoteSuspect, a.promote_suspect);
  add(LrpItem::kRemoveSuspect, List::kRemoveSuspect, a.remove_suspect);
  return items;
}

// The rows of `index` in `process` (its actuals sorted by index, as ConvergenceIndex::PassRows
// keeps them) and its desired LRP.
LrpSnapshot SlotOf(const ProcessSnapshot& process, int32_t index) {
  LrpSnapshot snap;
  snap.desired = process.desired;
  auto first = std::lower_bound(
      process.actuals.begin(), process.actuals.end(), index,
      [](const ActualLrpPtr& a, int32_t i) { return a->actual_lrp_key().index() < i; });
  for (auto it = first; it != process.actuals.end() && (*it)->actual_lrp_key().index() == index;
       ++it) {
    switch ((*it)->presence()) {
      case models::ActualLRP::ORDINARY:
        snap.ordinary = *it;
        break;
      case models::ActualLRP::EVACUATING:
        snap.evacuating = *it;
        break;
      case models::ActualLRP::SUSPECT:
        snap.suspect = *it;
        break;
      default:
        break;
    }
  }
  return snap;
}

// The slots (process guid, index) a pass wrote, kept as 64-bit hashes in one open-addressing
// table sized for `capacity` slots (no allocation per slot). A collision only makes a slot look
// written: its action then waits for the pass's commits and reads the slot again, which is
// always correct.
class WrittenSlots {
 public:
  explicit WrittenSlots(size_t capacity) {
    size_t n = 16;
    while (n < 2 * capacity) n <<= 1;
    table_.assign(n, 0);
    mask_ = n - 1;
  }
  static uint64_t HashOf(std::string_view guid, int32_t index) {
    uint64_t h = std::hash<std::string_view>{}(guid) ^
                 (static_cast<uint64_t>(static_cast<uint32_t>(index)) + 1) * 0x9E3779B97F4A7C15ULL;
    return h == 0 ? 1 : h;  // 0 marks a free entry
  }
  bool Contains(uint64_t h) const {
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      if (table_[i] == h) return true;
      if (table_[i] == 0) return false;
    }
  }
  // REQUIRES: fewer than `capacity` distinct slots inserted.
  void Insert(uint64_t h) {
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      if (table_[i] == h) return;
      if (table_[i] == 0) {
        table_[i] = h;
        return;
      }
    }
  }

 private:
  std::vector<uint64_t> table_;
  size_t mask_ = 0;
};

// Whether `snap` holds no row of its index (no ORDINARY, EVACUATING or SUSPECT).
bool NoRows(const LrpSnapshot& snap) {
  return snap.ordinary == nullptr && snap.evacuating == nullptr && snap.suspect == nullptr;
}

}  // namespace

Convergence::LrpReport Convergence::ConvergeLrps(
    const std::optional<std::set<std::string>>& present_cells) {
  std::lock_guard pass_lock(lrp_pass_mu_);
  int64_t started = SteadyNanos();
  int64_t now = ctx_.clock->NowNanos();

  // 1. Expired domains go first.
  domains_->PruneExpired(now);

  // 2. The actions: from the convergence index (only the processes that may have changed; it
  // also hands back the rows it decided them on), or the full calculator over memory in place,
  // under the model's shared lock.
  ConvergenceIndex::PassRows pass_rows;
  domain::LrpConvergenceActions actions =
      index_ != nullptr ? index_->Calculate(now, present_cells, nullptr, &pass_rows)
                        : ctx_.model->CalculateLrpConvergence(now, present_cells);

  // 3. The per-index actions, each decided again by domain/ under the key locks of every
  // process the pass writes, taken together.
  struct Written {
    size_t item;
    DesiredLrpPtr desired;  // as the decision saw it: the auction request is built from it
    bool auction = false;   // once committed
    std::future<Status> done;
  };
  struct Auction {
    std::string_view guid;  // items[item]'s
    size_t item;
    DesiredLrpPtr desired;
  };
  const std::vector<LrpItem> items = LrpItemsOf(actions, index_ != nullptr ? &pass_rows : nullptr);
  std::vector<Written> written;
  written.reserve(items.size());
  std::vector<Auction> auctions;
  auctions.reserve(items.size());
  int64_t submitted_ns = 0;
  {
    std::vector<std::string> keys;
    keys.reserve(items.size());
    for (const auto& item : items) keys.push_back(*item.guid);
    auto held = ctx_.locks->LockMany(keys);

    std::vector<Change> decided;  // not submitted yet
    decided.reserve(items.size());
    size_t submitted = 0;  // written[0, submitted) have their futures
    auto submit_decided = [&] {
      if (decided.empty()) return;
      std::vector<std::future<Status>> done = ctx_.committer->SubmitAll(std::move(decided));
      decided.clear();
      for (auto& d : done) written[submitted++].done = std::move(d);
    };
    size_t waited = 0;  // written[0, waited) are committed (or failed) and accounted for
    auto wait_all = [&] {
      submit_decided();
      for (; waited < written.size(); ++waited) {
        Written& w = written[waited];
        Status status = w.done.get();
        if (!status.ok()) {
          ctx_.logger.Error("convergence-write-failed", status.ToString());
        } else if (w.auction) {
          auctions.push_back({*items[w.item].guid, w.item, std::move(w.desired)});
        }
      }
    };
    // Slots this pass wrote: a second action on one waits for the first's commit and reads
    // the slot again.
    WrittenSlots slots_written(items.size());
    auto epoch = [this] { return ctx_.guids->NewGuid(); };

    for (size_t i = 0; i < items.size(); ++i) {
      const LrpItem& item = items[i];
      const uint64_t slot = WrittenSlots::HashOf(*item.guid, item.index);
      const bool rewritten = slots_written.Contains(slot);
      // The rows the index read, unless the process changed since (then, or without an index,
      // the model's current rows).
      LrpSnapshot snap;
      const ProcessSnapshot* seen = rewritten ? nullptr : item.rows;
      if (seen != nullptr && !index_->ChangedSincePass(*item.guid)) {
        snap = SlotOf(*seen, item.index);
      } else {
        if (rewritten) wait_all();
        snap = ctx_.model->SnapshotLrp(*item.guid, item.index);
      }

      domain::LrpKey key{*item.guid, item.index};
      std::optional<domain::LrpEventMode> mode;
      bool auction = false;
      domain::LrpDecision d;
      std::optional<Change> change;  // set when decided without a domain::LrpDecision
      const int64_t at = ctx_.clock->NowNanos();
      switch (item.kind) {
        case LrpItem::kPrune:
          d = domain::PruneEvacuating(snap.rows(), item.seen->actual_lrp_instance_key());
          break;
        case LrpItem::kCreate:
          auction = true;
          if (NoRows(snap)) {
            // The index had no row: the new row and its two events directly, without the
            // decision's copies (CreateMissing + LrpChangeOf give the same change).
            std::optional<models::ActualLRP> row =
                domain::MissingRow(snap.rows(), snap.desired.get(), key, at, epoch);
            if (!row) continue;
            change.emplace();
            change->events = domain::CreatedLrpEvents(*row, "");
            change->mutations.push_back(storage::PutActualLrp{std::move(*row)});
            break;
          }
          d = domain::CreateMissing(snap.rows(), snap.desired.get(), key, at, epoch);
          break;
        case LrpItem::kUnclaimStale:
          if (!snap.desired) continue;
          d = domain::Unclaim(snap.rows(), /*is_stale=*/true, at);
          auction = true;
          // Already UNCLAIMED: it only needs placing.
          if (d.status.code() == ErrorCode::kActualLrpCannotBeUnclaimed) {
            auctions.push_back({*item.guid, i, snap.desired});
            continue;
          }
          break;
        case LrpItem::kReplace:
          d = domain::ReplaceWithSuspect(snap.rows(), snap.desired != nullptr, at, epoch);
          mode = domain::LrpEventMode::kInstanceOnly;
          auction = true;
          break;
        case LrpItem::kUnclaimMissing:
          d = domain::Unclaim(snap.rows(), /*is_stale=*/false, at);
          break;
        case LrpItem::kPromote:
          d = domain::PromoteSuspect(snap.rows());
          mode = domain::LrpEventMode::kPerChange;
          break;
        case LrpItem::kRemoveSuspect:
          d = domain::RemoveSuspect(snap.rows());
          mode = domain::LrpEventMode::kPerChange;
          break;
      }
      if (change) {
        decided.push_back(std::move(*change));
      } else {
        if (!d.status.ok() || (d.puts.empty() && d.deletes.empty())) continue;
        decided.push_back(LrpChangeOf(snap, std::move(d), "", mode));
      }
      written.push_back({i, std::move(snap.desired), auction, {}});
      slots_written.Insert(slot);
    }
    submit_decided();
    submitted_ns = SteadyNanos() - started;
    // The locks stay held until memory reflects every change of the pass.
    wait_all();
  }

  ctx_.outbound->SendInstanceUpdates(actions.instance_updates);

  for (const auto& key : actions.retire) {
    models::ActualLRPKey k;
    k.set_process_guid(key.process_guid);
    k.set_index(key.index);
    Status s = actual_lrps_->RetireActualLrp(k, "");
    if (!s.ok()) ctx_.logger.Error("convergence-retire-failed", s.ToString());
  }

  // One auction request for the whole pass: by process guid, each process's indices in the
  // order their actions were decided.
  std::sort(auctions.begin(), auctions.end(), [](const Auction& a, const Auction& b) {
    int c = a.guid.compare(b.guid);
    return c < 0 || (c == 0 && a.item < b.item);
  });
  std::vector<clients::LrpStartRequest> requests;
  requests.reserve(auctions.size());
  for (const auto& a : auctions) {
    requests.push_back(LrpStartRequestOf(*a.desired, {items[a.item].index}));
  }
  ctx_.outbound->RequestLrpAuctions(std::move(requests));

  LrpReport report;
  report.metrics = actions.metrics;
  report.duration_ns = SteadyNanos() - started;
  report.submitted_ns = submitted_ns;
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
