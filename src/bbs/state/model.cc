#include "bbs/state/model.h"

#include <malloc.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string_view>

#include "bbs/domain/actual_lrp_factory.h"

namespace bbs::state {
namespace {

bool HasPrefix(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool MatchesDesiredFilter(const records::DesiredLRPRecord& r, const DesiredLrpFilter& f) {
  const auto& key = r.scheduling_info().desired_lrp_key();
  if (!f.domain.empty() && key.domain() != f.domain) return false;
  if (!f.process_guids.empty() && std::find(f.process_guids.begin(), f.process_guids.end(),
                                            key.process_guid()) == f.process_guids.end()) {
    return false;
  }
  if (!f.app_guids.empty() &&
      std::none_of(f.app_guids.begin(), f.app_guids.end(),
                   [&](const std::string& app) { return HasPrefix(key.process_guid(), app); })) {
    return false;
  }
  return true;
}

bool MatchesActualFilter(const models::ActualLRP& lrp, const ActualLrpFilter& f) {
  if (!f.domain.empty() && lrp.actual_lrp_key().domain() != f.domain) return false;
  if (!f.cell_id.empty() && lrp.actual_lrp_instance_key().cell_id() != f.cell_id) return false;
  if (!f.process_guid.empty() && lrp.actual_lrp_key().process_guid() != f.process_guid) {
    return false;
  }
  if (f.index && lrp.actual_lrp_key().index() != *f.index) return false;
  return true;
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// Concatenates `parts`, each framed as length-delimited field `field_number`, into one exactly
// sized string. The parts are views (pointer + size) taken while walking the model, so this
// pass reads the vector sequentially and touches each record's bytes once, prefetched a few
// records ahead (the records are scattered over the heap: cache misses dominate a full list).
std::string FrameFields(const std::vector<std::string_view>& parts, int field_number) {
  const uint64_t tag = (static_cast<uint64_t>(field_number) << 3) | 2u;
  const size_t tag_size = VarintSize(tag);
  size_t total = 0;
  for (std::string_view part : parts) total += tag_size + VarintSize(part.size()) + part.size();
  std::string out;
  out.resize(total);
  char* p = out.data();
  constexpr size_t kAhead = 8;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i + kAhead < parts.size()) __builtin_prefetch(parts[i + kAhead].data());
    std::string_view part = parts[i];
    p = PutVarint(p, tag);
    p = PutVarint(p, part.size());
    std::memcpy(p, part.data(), part.size());
    p += part.size();
  }
  return out;
}

}  // namespace

std::vector<models::ActualLRP> LrpSnapshot::RowValues() const {
  std::vector<models::ActualLRP> out;
  for (const auto& r : {ordinary, evacuating, suspect}) {
    if (r != nullptr) out.push_back(*r);
  }
  return out;
}

std::vector<const models::ActualLRP*> ProcessSnapshot::RawActuals() const {
  std::vector<const models::ActualLRP*> out;
  out.reserve(actuals.size());
  for (const auto& a : actuals) out.push_back(a.get());
  return out;
}

// --- writes ---

void Model::Load(storage::Snapshot snapshot) {
  std::unique_lock lock(mu_);
  processes_.reserve(snapshot.desired_lrps.size() + snapshot.actual_lrps.size() / 8);
  tasks_.reserve(snapshot.tasks.size());
  for (auto& d : snapshot.domains) {
    storage::Mutation m = std::move(d);
    ApplyLocked(m);
  }
  for (auto& r : snapshot.desired_lrps) {
    storage::Mutation m = storage::PutDesiredLrp{std::move(r)};
    ApplyLocked(m);
  }
  for (auto& a : snapshot.actual_lrps) {
    storage::Mutation m = storage::PutActualLrp{std::move(a)};
    ApplyLocked(m);
  }
  for (auto& t : snapshot.tasks) {
    storage::Mutation m = storage::PutTask{std::move(t)};
    ApplyLocked(m);
  }
  // The snapshot's (moved-from) records and the store's row buffers are garbage now: give the
  // freed heap back to the system so start-up does not leave the process at its load peak.
  snapshot = storage::Snapshot{};
  malloc_trim(0);
}

void Model::Apply(const std::vector<std::vector<storage::Mutation>*>& batches) {
  std::unique_lock lock(mu_);
  for (auto* batch : batches) {
    for (auto& m : *batch) ApplyLocked(m);
  }
}

void Model::IndexCellLocked(const std::string* guid, const models::ActualLRP& lrp, bool add) {
  const std::string& cell = lrp.actual_lrp_instance_key().cell_id();
  if (cell.empty()) return;
  ActualRef ref{guid, lrp.actual_lrp_key().index(), static_cast<int>(lrp.presence())};
  if (add) {
    by_cell_[cell].insert(ref);
  } else {
    auto it = by_cell_.find(cell);
    if (it == by_cell_.end()) return;
    it->second.erase(ref);
    if (it->second.empty()) by_cell_.erase(it);
  }
}

void Model::ApplyLocked(storage::Mutation& mutation) {
  std::visit(
      [this](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, storage::PutDomain>) {
          domains_[m.domain] = m.expire_time;
        } else if constexpr (std::is_same_v<T, storage::DeleteDomain>) {
          domains_.erase(m.domain);
        } else if constexpr (std::is_same_v<T, storage::PutDesiredLrp>) {
          auto& entry = processes_[m.record.scheduling_info().desired_lrp_key().process_guid()];
          if (!entry.desired) ++desired_count_;
          auto stored = std::make_shared<StoredDesired>();
          stored->record = std::move(m.record);
          stored->scheduling_wire = stored->record.scheduling_info().SerializeAsString();
          entry.desired = std::move(stored);
        } else if constexpr (std::is_same_v<T, storage::DeleteDesiredLrp>) {
          auto it = processes_.find(m.process_guid);
          if (it == processes_.end() || !it->second.desired) return;
          it->second.desired.reset();
          --desired_count_;
          if (it->second.actuals.empty()) processes_.erase(it);
        } else if constexpr (std::is_same_v<T, storage::PutActualLrp>) {
          models::ActualLRP lrp = std::move(m.lrp);
          domain::NormalizeActualLrp(&lrp);
          int presence = static_cast<int>(lrp.presence());
          if (presence < 0 || presence > 2) return;
          auto pit = processes_.try_emplace(lrp.actual_lrp_key().process_guid()).first;
          const std::string* guid = &pit->first;
          auto& slot = pit->second.actuals[lrp.actual_lrp_key().index()].by_presence[presence];
          if (slot) {
            IndexCellLocked(guid, slot->lrp, false);
          } else {
            ++actual_count_;
          }
          auto stored = std::make_shared<StoredActual>();
          stored->lrp = std::move(lrp);
          stored->wire = stored->lrp.SerializeAsString();
          slot = std::move(stored);
          IndexCellLocked(guid, slot->lrp, true);
        } else if constexpr (std::is_same_v<T, storage::DeleteActualLrp>) {
          auto pit = processes_.find(m.process_guid);
          if (pit == processes_.end()) return;
          auto ait = pit->second.actuals.find(m.index);
          if (ait == pit->second.actuals.end()) return;
          int presence = static_cast<int>(m.presence);
          if (presence < 0 || presence > 2) return;
          auto& slot = ait->second.by_presence[presence];
          if (!slot) return;
          IndexCellLocked(&pit->first, slot->lrp, false);
          slot.reset();
          --actual_count_;
          const auto& bp = ait->second.by_presence;
          if (!bp[0] && !bp[1] && !bp[2]) pit->second.actuals.erase(ait);
          if (pit->second.actuals.empty() && !pit->second.desired) processes_.erase(pit);
        } else if constexpr (std::is_same_v<T, storage::PutTask>) {
          std::string guid = m.task.task_guid();  // read before the move below
          tasks_[guid] = std::make_shared<const models::Task>(std::move(m.task));
        } else if constexpr (std::is_same_v<T, storage::DeleteTask>) {
          tasks_.erase(m.task_guid);
        }
      },
      mutation);
}

// --- reads ---

template <typename Fn>
void Model::ForEachDesiredLocked(const DesiredLrpFilter& filter, Fn&& fn) const {
  if (!filter.process_guids.empty() && filter.process_guids.size() < processes_.size() / 4) {
    std::set<std::string> seen;
    for (const auto& guid : filter.process_guids) {
      if (!seen.insert(guid).second) continue;
      auto it = processes_.find(guid);
      if (it != processes_.end() && it->second.desired &&
          MatchesDesiredFilter(it->second.desired->record, filter)) {
        fn(it->second.desired);
      }
    }
    return;
  }
  for (const auto& [guid, entry] : processes_) {
    if (entry.desired && MatchesDesiredFilter(entry.desired->record, filter)) fn(entry.desired);
  }
}

template <typename Fn>
void Model::ForEachActualOfProcessLocked(const ProcessEntry& entry, const ActualLrpFilter& filter,
                                         Fn&& fn) const {
  for (const auto& [index, slots] : entry.actuals) {
    if (filter.index && index != *filter.index) continue;
    for (const auto& p : slots.by_presence) {
      if (p && MatchesActualFilter(p->lrp, filter)) fn(p);
    }
  }
}

template <typename Fn>
void Model::ForEachActualLocked(const ActualLrpFilter& filter, Fn&& fn) const {
  if (!filter.process_guid.empty()) {
    auto it = processes_.find(filter.process_guid);
    if (it != processes_.end()) ForEachActualOfProcessLocked(it->second, filter, fn);
    return;
  }
  if (!filter.cell_id.empty()) {
    auto it = by_cell_.find(filter.cell_id);
    if (it == by_cell_.end()) return;
    for (const auto& [guid, index, presence] : it->second) {
      auto pit = processes_.find(*guid);
      if (pit == processes_.end()) continue;
      auto ait = pit->second.actuals.find(index);
      if (ait == pit->second.actuals.end()) continue;
      const auto& p = ait->second.by_presence[presence];
      if (p && MatchesActualFilter(p->lrp, filter)) fn(p);
    }
    return;
  }
  for (const auto& [guid, entry] : processes_) ForEachActualOfProcessLocked(entry, filter, fn);
}

template <typename Fn>
void Model::ForEachActualByGuidsLocked(const std::vector<std::string>& guids, Fn&& fn) const {
  std::set<std::string> seen;
  for (const auto& guid : guids) {
    if (!seen.insert(guid).second) continue;
    auto it = processes_.find(guid);
    if (it != processes_.end()) ForEachActualOfProcessLocked(it->second, ActualLrpFilter{}, fn);
  }
}

DesiredLrpPtr Model::DesiredLrp(const std::string& process_guid) const {
  std::shared_lock lock(mu_);
  auto it = processes_.find(process_guid);
  if (it == processes_.end()) return nullptr;
  return Public(it->second.desired);
}

std::vector<DesiredLrpPtr> Model::DesiredLrps(const DesiredLrpFilter& filter) const {
  std::vector<DesiredLrpPtr> out;
  std::shared_lock lock(mu_);
  if (filter.process_guids.empty()) out.reserve(desired_count_);
  ForEachDesiredLocked(filter, [&](const StoredDesiredPtr& d) { out.push_back(Public(d)); });
  return out;
}

std::vector<ActualLrpPtr> Model::ActualLrps(const ActualLrpFilter& filter) const {
  std::vector<ActualLrpPtr> out;
  std::shared_lock lock(mu_);
  if (filter.process_guid.empty() && filter.cell_id.empty()) out.reserve(actual_count_);
  ForEachActualLocked(filter, [&](const StoredActualPtr& p) { out.push_back(Public(p)); });
  return out;
}

std::vector<ActualLrpPtr> Model::ActualLrpsByProcessGuids(
    const std::vector<std::string>& guids) const {
  std::vector<ActualLrpPtr> out;
  std::shared_lock lock(mu_);
  ForEachActualByGuidsLocked(guids, [&](const StoredActualPtr& p) { out.push_back(Public(p)); });
  return out;
}

std::string Model::EncodedActualLrps(const ActualLrpFilter& filter, int field_number) const {
  std::vector<std::string_view> parts;
  std::shared_lock lock(mu_);
  if (filter.process_guid.empty() && filter.cell_id.empty()) parts.reserve(actual_count_);
  ForEachActualLocked(filter, [&](const StoredActualPtr& p) { parts.emplace_back(p->wire); });
  return FrameFields(parts, field_number);
}

std::string Model::EncodedActualLrpsByProcessGuids(const std::vector<std::string>& guids,
                                                   int field_number) const {
  std::vector<std::string_view> parts;
  std::shared_lock lock(mu_);
  ForEachActualByGuidsLocked(guids, [&](const StoredActualPtr& p) { parts.emplace_back(p->wire); });
  return FrameFields(parts, field_number);
}

std::string Model::EncodedSchedulingInfos(const DesiredLrpFilter& filter, int field_number) const {
  std::vector<std::string_view> parts;
  std::shared_lock lock(mu_);
  if (filter.process_guids.empty()) parts.reserve(desired_count_);
  ForEachDesiredLocked(filter,
                       [&](const StoredDesiredPtr& d) { parts.emplace_back(d->scheduling_wire); });
  return FrameFields(parts, field_number);
}

TaskPtr Model::Task(const std::string& task_guid) const {
  std::shared_lock lock(mu_);
  auto it = tasks_.find(task_guid);
  return it == tasks_.end() ? nullptr : it->second;
}

std::vector<TaskPtr> Model::Tasks(const std::string& domain, const std::string& cell_id) const {
  std::vector<TaskPtr> out;
  std::shared_lock lock(mu_);
  out.reserve(tasks_.size());
  for (const auto& [guid, task] : tasks_) {
    if (!domain.empty() && task->domain() != domain) continue;
    if (!cell_id.empty() && task->cell_id() != cell_id) continue;
    out.push_back(task);
  }
  return out;
}

std::vector<TaskPtr> Model::AllTasks() const { return Tasks("", ""); }

std::vector<std::string> Model::DomainsExpiringAfter(int64_t after) const {
  std::vector<std::string> out;
  std::shared_lock lock(mu_);
  for (const auto& [name, expire] : domains_) {
    if (expire > after) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Model::DomainsExpiredBy(int64_t now) const {
  std::vector<std::string> out;
  std::shared_lock lock(mu_);
  for (const auto& [name, expire] : domains_) {
    if (expire <= now) out.push_back(name);
  }
  return out;
}

size_t Model::DesiredLrpCount() const {
  std::shared_lock lock(mu_);
  return desired_count_;
}

size_t Model::ActualLrpCount() const {
  std::shared_lock lock(mu_);
  return actual_count_;
}

size_t Model::DomainCount() const {
  std::shared_lock lock(mu_);
  return domains_.size();
}

size_t Model::TaskCount() const {
  std::shared_lock lock(mu_);
  return tasks_.size();
}

LrpSnapshot Model::SnapshotLrp(const std::string& process_guid, int32_t index) const {
  LrpSnapshot snap;
  std::shared_lock lock(mu_);
  auto it = processes_.find(process_guid);
  if (it == processes_.end()) return snap;
  snap.desired = Public(it->second.desired);
  auto ait = it->second.actuals.find(index);
  if (ait != it->second.actuals.end()) {
    snap.ordinary = Public(ait->second.by_presence[models::ActualLRP::ORDINARY]);
    snap.evacuating = Public(ait->second.by_presence[models::ActualLRP::EVACUATING]);
    snap.suspect = Public(ait->second.by_presence[models::ActualLRP::SUSPECT]);
  }
  for (const auto& [i, slots] : it->second.actuals) {
    const auto& o = slots.by_presence[models::ActualLRP::ORDINARY];
    if (o && o->lrp.state() == domain::kRunning) ++snap.running_ordinary;
  }
  return snap;
}

ProcessSnapshot Model::SnapshotProcess(const std::string& process_guid) const {
  ProcessSnapshot snap;
  std::shared_lock lock(mu_);
  auto it = processes_.find(process_guid);
  if (it == processes_.end()) return snap;
  snap.desired = Public(it->second.desired);
  for (const auto& [index, slots] : it->second.actuals) {
    for (const auto& p : slots.by_presence) {
      if (p) snap.actuals.push_back(Public(p));
    }
  }
  return snap;
}

std::set<int32_t> Model::OrdinaryIndices(const std::string& process_guid) const {
  std::set<int32_t> out;
  std::shared_lock lock(mu_);
  auto it = processes_.find(process_guid);
  if (it == processes_.end()) return out;
  for (const auto& [index, slots] : it->second.actuals) {
    if (slots.by_presence[models::ActualLRP::ORDINARY]) out.insert(index);
  }
  return out;
}

domain::LrpConvergenceActions Model::CalculateLrpConvergence(
    int64_t now, const std::optional<std::set<std::string>>& present_cells) const {
  std::shared_lock lock(mu_);
  domain::LrpGroupedInput input;
  input.now = now;
  for (const auto& [name, expire] : domains_) {
    if (expire > now) input.fresh_domains.insert(name);
  }
  input.processes.reserve(processes_.size());
  input.slots.reserve(actual_count_);
  for (const auto& [guid, entry] : processes_) {
    domain::LrpProcessView view;
    view.desired = entry.desired ? &entry.desired->record : nullptr;
    view.first_slot = input.slots.size();
    for (const auto& [index, slots] : entry.actuals) {
      domain::LrpSlotView slot;
      slot.index = index;
      for (int p = 0; p < 3; ++p) {
        slot.rows[p] = slots.by_presence[p] ? &slots.by_presence[p]->lrp : nullptr;
      }
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
  return domain::CalculateLrpConvergence(input);
}

}  // namespace bbs::state
