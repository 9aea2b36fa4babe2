#include "bbs/state/convergence_index.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/restart_policy.h"
#include "bbs/state/model.h"

namespace bbs::state {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > kNever - b) return kNever;
  return a + b;
}

bool RunningOrClaimed(const models::ActualLRP& lrp) {
  return lrp.state() == domain::kRunning || lrp.state() == domain::kClaimed;
}

size_t ActionCount(const domain::LrpConvergenceActions& a) {
  return a.prune_evacuating.size() + a.retire.size() + a.create_missing.size() +
         a.unclaim_stale.size() + a.missing_cell_replace.size() + a.missing_cell_unclaim.size() +
         a.promote_suspect.size() + a.remove_suspect.size() + a.instance_updates.size();
}

// The first moment after `now` at which the calculator's time-dependent tests on `ordinary`
// (stale UNCLAIMED, crash back-off over) can turn true; kNever if none can.
int64_t DeadlineOf(const models::ActualLRP& ordinary, int64_t now) {
  int64_t t = kNever;
  if (ordinary.state() == domain::kUnclaimed) {
    // Stale once since < now - 30 s.
    t = SaturatingAdd(ordinary.since(), domain::kStaleUnclaimedNanos + 1);
  } else if (ordinary.state() == domain::kCrashed &&
             ordinary.crash_count() >= domain::kImmediateRestarts &&
             ordinary.crash_count() < domain::kMaxRestartAttempts) {
    t = SaturatingAdd(ordinary.since(), domain::RestartBackoffNanos(ordinary.crash_count()));
  }
  return t > now ? t : kNever;
}

// The sizes of the per-index action lists, in PassRows::List order.
std::array<size_t, 7> ListSizes(const domain::LrpConvergenceActions& a) {
  return {a.prune_evacuating.size(),     a.create_missing.size(),       a.unclaim_stale.size(),
          a.missing_cell_replace.size(), a.missing_cell_unclaim.size(), a.promote_suspect.size(),
          a.remove_suspect.size()};
}

// A decoding chunk: once this much is allocated on it, it is kept or reused.
constexpr size_t kChunkBytes = size_t{4} << 20;

std::unique_ptr<google::protobuf::Arena> NewArena() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = size_t{64} << 10;
  options.max_block_size = size_t{1} << 20;
  return std::make_unique<google::protobuf::Arena>(options);
}

// `from` copied onto `arena`, as a pointer that owns nothing.
template <typename T>
std::shared_ptr<const T> CopyOnto(const T& from, google::protobuf::Arena* arena) {
  T* copy = google::protobuf::Arena::CreateMessage<T>(arena);
  copy->CopyFrom(from);
  return std::shared_ptr<const T>(std::shared_ptr<void>(), copy);
}

bool TimerLater(const std::pair<int64_t, uint32_t>& a, const std::pair<int64_t, uint32_t>& b) {
  return a.first > b.first;  // min-heap on the deadline
}

}  // namespace

ConvergenceIndex::PassRows::PassRows() : current_(NewArena()) {}
ConvergenceIndex::PassRows::~PassRows() = default;

const ProcessSnapshot* ConvergenceIndex::PassRows::find(const std::string& guid) const {
  if (by_guid_.size() != kept_rows_.size()) {
    by_guid_.clear();
    by_guid_.reserve(kept_rows_.size());
    for (const ProcessSnapshot& snap : kept_rows_) {
      // A kept process has a desired LRP or rows (else the index forgot it).
      const std::string& g = snap.desired != nullptr
                                 ? snap.desired->scheduling_info().desired_lrp_key().process_guid()
                                 : snap.actuals.front()->actual_lrp_key().process_guid();
      by_guid_.emplace(g, &snap);
    }
  }
  auto it = by_guid_.find(guid);
  return it == by_guid_.end() ? nullptr : it->second;
}

const ProcessSnapshot& ConvergenceIndex::PassRows::at(const std::string& guid) const {
  const ProcessSnapshot* snap = find(guid);
  if (snap == nullptr) throw std::out_of_range("no pass rows for " + guid);
  return *snap;
}

void ConvergenceIndex::PassRows::Clear() {
  kept_rows_.clear();
  for (auto& rows : by_action_) rows.clear();
  by_guid_.clear();
  in_current_.clear();
  current_kept_bytes_ = 0;
  current_->Reset();
  kept_.clear();
  copies_.reset();
}

void ConvergenceIndex::PassRows::Keep(ProcessSnapshot snap, size_t bytes,
                                      const std::array<size_t, kLists>& actions) {
  ProcessSnapshot* kept = &kept_rows_.emplace_back(std::move(snap));
  for (size_t l = 0; l < kLists; ++l) by_action_[l].insert(by_action_[l].end(), actions[l], kept);
  in_current_.push_back(kept);
  current_kept_bytes_ += bytes;
}

void ConvergenceIndex::PassRows::Recycle() {
  if (current_->SpaceAllocated() < kChunkBytes) return;
  if (current_kept_bytes_ * 2 >= current_->SpaceUsed()) {
    // Mostly kept: keep the chunk whole.
    kept_.push_back(std::move(current_));
    current_ = NewArena();
  } else {
    // Mostly processes without actions: copy out the few kept, reuse the chunk.
    if (!in_current_.empty() && copies_ == nullptr) copies_ = NewArena();
    for (ProcessSnapshot* snap : in_current_) {
      if (snap->desired) snap->desired = CopyOnto(*snap->desired, copies_.get());
      for (ActualLrpPtr& row : snap->actuals) row = CopyOnto(*row, copies_.get());
    }
    current_->Reset();
  }
  in_current_.clear();
  current_kept_bytes_ = 0;
}

std::vector<std::string> ConvergenceIndex::ProcessGuidsOf(
    const std::vector<std::vector<storage::Mutation>*>& batches) {
  std::vector<std::string> out;
  for (const auto* batch : batches) {
    for (const auto& mutation : *batch) {
      std::visit(
          [&out](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, storage::PutDesiredLrp>) {
              out.push_back(m.record.scheduling_info().desired_lrp_key().process_guid());
            } else if constexpr (std::is_same_v<T, storage::DeleteDesiredLrp> ||
                                 std::is_same_v<T, storage::DeleteActualLrp>) {
              out.push_back(m.process_guid);
            } else if constexpr (std::is_same_v<T, storage::PutActualLrp>) {
              out.push_back(m.lrp.actual_lrp_key().process_guid());
            }
          },
          mutation);
    }
  }
  return out;
}

void ConvergenceIndex::MarkDirty(std::vector<std::string> guids) {
  if (guids.empty()) return;
  std::lock_guard lock(dirty_mu_);
  for (auto& g : guids) dirty_.insert(std::move(g));
}

bool ConvergenceIndex::ChangedSincePass(const std::string& guid) {
  std::lock_guard lock(dirty_mu_);
  return dirty_.count(guid) > 0;
}

void ConvergenceIndex::RequestFull() {
  std::lock_guard lock(dirty_mu_);
  full_requested_ = true;
}

uint32_t ConvergenceIndex::Intern(const std::string& name) {
  auto [it, added] = names_.try_emplace(name, static_cast<uint32_t>(name_of_.size()));
  if (added) {
    name_of_.push_back(name);
    cell_counts_.emplace_back();
  }
  return it->second;
}

uint32_t ConvergenceIndex::IdOf(const std::string& guid) {
  auto [it, added] = ids_.try_emplace(guid, 0);
  if (added) {
    uint32_t id;
    if (!free_ids_.empty()) {
      id = free_ids_.back();
      free_ids_.pop_back();
    } else {
      id = static_cast<uint32_t>(records_.size());
      records_.emplace_back();
    }
    it->second = id;
    Record& r = records_[id];
    r = Record{};
    r.guid = &it->first;
    r.live = true;
  }
  return it->second;
}

void ConvergenceIndex::Queue(uint32_t id, std::vector<uint32_t>* todo) {
  Record& r = records_[id];
  if (!r.live || r.mark == pass_) return;
  r.mark = pass_;
  todo->push_back(id);
}

void ConvergenceIndex::QueueGuid(const std::string& guid, std::vector<uint32_t>* todo) {
  Queue(IdOf(guid), todo);
}

void ConvergenceIndex::AddCounts(const Counts& c, int sign) {
  totals_.unclaimed += sign * c.unclaimed;
  totals_.claimed += sign * c.claimed;
  totals_.running += sign * c.running;
  totals_.crashed += sign * c.crashed;
  totals_.crashing_desired += sign * c.crashing_desired;
  totals_.desired_instances += sign * c.desired_instances;
  totals_.missing += sign * c.missing;
  totals_.extra += sign * c.extra;
  totals_.suspect_running += sign * c.suspect_running;
  totals_.suspect_claimed += sign * c.suspect_claimed;
}

void ConvergenceIndex::Forget(Record& r) {
  uint32_t id = static_cast<uint32_t>(&r - records_.data());
  ids_.erase(ids_.find(*r.guid));
  r = Record{};
  free_ids_.push_back(id);
}

void ConvergenceIndex::Evaluate(uint32_t id, domain::LrpGroupedInput* in, bool own_cells,
                                domain::LrpConvergenceActions* out, PassRows* pass_rows,
                                bool keep) {
  Record& r = records_[id];
  google::protobuf::Arena* arena = pass_rows->arena();
  const size_t used_before = arena->SpaceUsed();
  ProcessSnapshot snap = model_->SnapshotProcessOnArena(*r.guid, arena);

  // Withdraw what the previous evaluation contributed.
  AddCounts(r.counts, -1);
  for (uint32_t c : r.cells) {
    --cell_counts_[c >> 1].rows;
    if (c & 1) --cell_counts_[c >> 1].running_or_claimed;
  }
  r.cells.clear();
  r.domains.clear();
  r.counts = Counts{};
  r.deadline = kNever;
  if (!snap.desired && snap.actuals.empty()) {
    r.active = false;
    Forget(r);
    return;
  }

  // The process grouped as the calculator reads it: slots by ascending index, rows by presence.
  if (snap.actuals.size() > 1) {
    std::stable_sort(snap.actuals.begin(), snap.actuals.end(),
                     [](const ActualLrpPtr& a, const ActualLrpPtr& b) {
                       return a->actual_lrp_key().index() < b->actual_lrp_key().index();
                     });
  }
  std::vector<const models::ActualLRP*>& rows = rows_scratch_;
  rows.clear();
  for (const auto& a : snap.actuals) rows.push_back(a.get());
  in->slots.clear();
  if (own_cells) in->present_cells.clear();
  auto add_domain = [&](const std::string& name) {
    uint32_t d = Intern(name);
    if (std::find(r.domains.begin(), r.domains.end(), d) == r.domains.end()) {
      r.domains.push_back(d);
    }
  };
  if (snap.desired) add_domain(snap.desired->scheduling_info().desired_lrp_key().domain());
  for (const models::ActualLRP* row : rows) {
    int p = static_cast<int>(row->presence());
    if (p < 0 || p > 2) continue;
    int32_t index = row->actual_lrp_key().index();
    if (in->slots.empty() || in->slots.back().index != index) {
      in->slots.emplace_back();
      in->slots.back().index = index;
    }
    in->slots.back().rows[p] = row;
    add_domain(row->actual_lrp_key().domain());
    const std::string& cell = row->actual_lrp_instance_key().cell_id();
    if (!cell.empty()) {
      uint32_t c = Intern(cell);
      bool rc = RunningOrClaimed(*row);
      r.cells.push_back(c << 1 | (rc ? 1u : 0u));
      ++cell_counts_[c].rows;
      if (rc) ++cell_counts_[c].running_or_claimed;
      if (own_cells) in->present_cells.insert(cell);
    }
    if (p == models::ActualLRP::ORDINARY)
      r.deadline = std::min(r.deadline, DeadlineOf(*row, in->now));
  }

  domain::LrpProcessView view;
  view.desired = snap.desired.get();
  view.first_slot = 0;
  view.slot_count = in->slots.size();
  domain::LrpConvergenceMetrics before = out->metrics;
  size_t actions_before = ActionCount(*out);
  const std::array<size_t, PassRows::kLists> lists_before = ListSizes(*out);
  missing_scratch_.clear();  // the cells come from cell_counts_ instead
  domain::CalculateProcessConvergence(*in, view, out, &missing_scratch_);
  const domain::LrpConvergenceMetrics& after = out->metrics;
  r.counts.unclaimed = after.unclaimed - before.unclaimed;
  r.counts.claimed = after.claimed - before.claimed;
  r.counts.running = after.running - before.running;
  r.counts.crashed = after.crashed - before.crashed;
  r.counts.crashing_desired = after.crashing_desired - before.crashing_desired;
  r.counts.desired_instances = after.desired_instances - before.desired_instances;
  r.counts.missing = after.missing - before.missing;
  r.counts.extra = after.extra - before.extra;
  r.counts.suspect_running = after.suspect_running - before.suspect_running;
  r.counts.suspect_claimed = after.suspect_claimed - before.suspect_claimed;
  AddCounts(r.counts, +1);

  r.active = ActionCount(*out) > actions_before;
  if (r.active) {
    active_.push_back(id);
    if (keep) {
      std::array<size_t, PassRows::kLists> added = ListSizes(*out);
      for (size_t l = 0; l < added.size(); ++l) added[l] -= lists_before[l];
      pass_rows->Keep(std::move(snap), arena->SpaceUsed() - used_before, added);
    }
  }
  if (r.deadline != kNever) {
    timers_.emplace_back(r.deadline, id);
    std::push_heap(timers_.begin(), timers_.end(), TimerLater);
  }
}

domain::LrpConvergenceActions ConvergenceIndex::Calculate(
    int64_t now, const std::optional<std::set<std::string>>& present_cells, PassStats* stats,
    PassRows* rows) {
  std::lock_guard pass_lock(pass_mu_);
  ++pass_;
  // Without `rows` the pass still decodes onto arenas; it keeps nothing.
  PassRows own_rows;
  const bool keep = rows != nullptr;
  if (rows != nullptr) {
    rows->Clear();
  } else {
    rows = &own_rows;
  }
  std::unordered_set<std::string> dirty;
  bool full;
  {
    std::lock_guard lock(dirty_mu_);
    dirty.swap(dirty_);
    full = full_requested_;
    full_requested_ = false;
  }
  ++passes_since_full_;
  if (options_.full_every_passes > 0 && passes_since_full_ >= options_.full_every_passes) {
    full = true;
  }
  const bool own_cells = !present_cells.has_value();
  if (first_ || own_cells != own_cells_mode_) full = true;
  if (full) passes_since_full_ = 0;
  std::vector<std::string> fresh = model_->DomainsExpiringAfter(now);

  std::vector<uint32_t> todo;
  if (full) {
    for (const auto& g : model_->ProcessGuids()) QueueGuid(g, &todo);
    for (uint32_t id = 0; id < records_.size(); ++id) Queue(id, &todo);
    for (const auto& g : dirty) QueueGuid(g, &todo);
  } else {
    for (const auto& g : dirty) QueueGuid(g, &todo);
    // Cells that appeared or vanished: their rows' processes.
    if (!own_cells && *present_cells != last_present_) {
      std::vector<std::string> changed;
      std::set_symmetric_difference(present_cells->begin(), present_cells->end(),
                                    last_present_.begin(), last_present_.end(),
                                    std::back_inserter(changed));
      for (const auto& cell : changed) {
        ActualLrpFilter f;
        f.cell_id = cell;
        for (const auto& a : model_->ActualLrps(f)) {
          QueueGuid(a->actual_lrp_key().process_guid(), &todo);
        }
      }
    }
    // Domains that became fresh or stale: the processes naming them.
    if (fresh != last_fresh_) {
      std::vector<std::string> changed;
      std::set_symmetric_difference(fresh.begin(), fresh.end(), last_fresh_.begin(),
                                    last_fresh_.end(), std::back_inserter(changed));
      std::vector<uint32_t> ids;
      for (const auto& name : changed) {
        auto it = names_.find(name);
        if (it != names_.end()) ids.push_back(it->second);
      }
      if (!ids.empty()) {
        for (uint32_t id = 0; id < records_.size(); ++id) {
          const Record& r = records_[id];
          if (!r.live) continue;
          for (uint32_t d : r.domains) {
            if (std::find(ids.begin(), ids.end(), d) != ids.end()) {
              Queue(id, &todo);
              break;
            }
          }
        }
      }
    }
    // Deadlines that came.
    while (!timers_.empty() && timers_.front().first <= now) {
      auto [when, id] = timers_.front();
      std::pop_heap(timers_.begin(), timers_.end(), TimerLater);
      timers_.pop_back();
      if (records_[id].live && records_[id].deadline == when) Queue(id, &todo);
    }
    // Processes whose actions are still due.
    for (uint32_t id : active_) Queue(id, &todo);
  }
  // Every active record is queued: their evaluations make the list again.
  active_.clear();

  domain::LrpGroupedInput in;
  in.now = now;
  in.fresh_domains.insert(fresh.begin(), fresh.end());
  if (!own_cells) in.present_cells.insert(present_cells->begin(), present_cells->end());
  domain::LrpConvergenceActions out;
  for (uint32_t id : todo) {
    Evaluate(id, &in, own_cells, &out, rows, keep);
    rows->Recycle();
  }

  // Timers of records re-evaluated since they were queued are stale: keep the heap bounded.
  if (timers_.size() > 2 * (ids_.size() + 1024)) {
    timers_.clear();
    for (uint32_t id = 0; id < records_.size(); ++id) {
      if (records_[id].live && records_[id].deadline != kNever) {
        timers_.emplace_back(records_[id].deadline, id);
      }
    }
    std::make_heap(timers_.begin(), timers_.end(), TimerLater);
  }

  auto& m = out.metrics;
  m.unclaimed = totals_.unclaimed;
  m.claimed = totals_.claimed;
  m.running = totals_.running;
  m.crashed = totals_.crashed;
  m.crashing_desired = totals_.crashing_desired;
  m.desired_instances = totals_.desired_instances;
  m.missing = totals_.missing;
  m.extra = totals_.extra;
  m.suspect_running = totals_.suspect_running;
  m.suspect_claimed = totals_.suspect_claimed;
  m.present_cells = 0;
  m.suspect_cells = 0;
  if (own_cells) {
    // Every cell naming a row is present; none is missing.
    for (const CellCount& c : cell_counts_) m.present_cells += c.rows > 0 ? 1 : 0;
  } else {
    m.present_cells = static_cast<int32_t>(in.present_cells.size());
    for (uint32_t c = 0; c < cell_counts_.size(); ++c) {
      if (cell_counts_[c].running_or_claimed > 0 && present_cells->count(name_of_[c]) == 0) {
        ++m.suspect_cells;
      }
    }
  }

  own_cells_mode_ = own_cells;
  if (!own_cells) last_present_ = *present_cells;
  last_fresh_ = std::move(fresh);
  first_ = false;
  if (stats != nullptr) {
    stats->full = full;
    stats->evaluated = todo.size();
  }
  return out;
}

}  // namespace bbs::state
