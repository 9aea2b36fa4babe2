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

bool MatchesDesiredFilter(const std::string& guid, const std::string& domain,
                          const DesiredLrpFilter& f) {
  if (!f.domain.empty() && domain != f.domain) return false;
  if (!f.process_guids.empty() &&
      std::find(f.process_guids.begin(), f.process_guids.end(), guid) == f.process_guids.end()) {
    return false;
  }
  if (!f.app_guids.empty() &&
      std::none_of(f.app_guids.begin(), f.app_guids.end(),
                   [&](const std::string& app) { return HasPrefix(guid, app); })) {
    return false;
  }
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

// The encoding of `message` in one SharedBytes.
SharedBytes Serialized(const google::protobuf::MessageLite& message) {
  SharedBytes out(message.ByteSizeLong());
  if (!out.empty()) {
    message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out.mutable_data()));
  }
  return out;
}

}  // namespace

// --- SharedBytes, EncodedList ---

SharedBytes::SharedBytes(size_t size) {
  if (size == 0) return;
  block_ = static_cast<Block*>(::operator new(sizeof(Block) + size));
  new (&block_->refs) std::atomic<uint32_t>(1);
  block_->size = static_cast<uint32_t>(size);
}

SharedBytes::SharedBytes(std::string_view bytes) : SharedBytes(bytes.size()) {
  if (!bytes.empty()) std::memcpy(mutable_data(), bytes.data(), bytes.size());
}

void SharedBytes::Unref() {
  if (block_ && block_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    block_->refs.~atomic();
    ::operator delete(block_);
  }
  block_ = nullptr;
}

EncodedList::EncodedList(int field_number, std::vector<Part> parts) : parts_(std::move(parts)) {
  const uint64_t tag = (static_cast<uint64_t>(field_number) << 3) | 2u;
  tag_size_ = static_cast<uint8_t>(PutVarint(tag_.data(), tag) - tag_.data());
  for (const Part& part : parts_) size_ += tag_size_ + VarintSize(part.size) + part.size;
}

size_t EncodedList::Read(char* out, size_t capacity) {
  // The records are scattered over the heap (cache misses dominate a full list): each one's
  // bytes are prefetched a few records ahead.
  constexpr size_t kAhead = 8;
  char* p = out;
  char* const end = out + std::min(capacity, size_ - read_);
  while (p < end) {
    Part& part = parts_[next_];
    char head[20];
    std::memcpy(head, tag_.data(), tag_size_);
    const size_t head_size = static_cast<size_t>(PutVarint(head + tag_size_, part.size) - head);
    const size_t frame = head_size + part.size;
    if (in_part_ == 0 && static_cast<size_t>(end - p) >= frame) {
      // The common case: the whole frame fits.
      if (next_ + kAhead < parts_.size()) {
        const Part& ahead = parts_[next_ + kAhead];
        __builtin_prefetch(ahead.bytes.data() + ahead.offset);
      }
      std::memcpy(p, head, head_size);
      std::memcpy(p + head_size, part.bytes.data() + part.offset, part.size);
      p += frame;
    } else {
      // A frame split between two reads: copy what fits, remember where it stopped.
      size_t n = std::min(static_cast<size_t>(end - p), frame - in_part_);
      for (size_t i = 0; i < n; ++i) {
        const size_t at = in_part_ + i;
        p[i] = at < head_size ? head[at] : part.bytes.data()[part.offset + at - head_size];
      }
      p += n;
      in_part_ += n;
      if (in_part_ < frame) break;
      in_part_ = 0;
    }
    part.bytes = SharedBytes();  // copied: let a replaced record go
    ++next_;
  }
  const size_t n = static_cast<size_t>(p - out);
  read_ += n;
  return n;
}

std::string EncodedList::ReadAll() {
  std::string out;
  out.resize(size_ - read_);
  size_t n = Read(out.data(), out.size());
  out.resize(n);
  return out;
}

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

// --- storage ---

ActualLrpPtr Model::Decode(const StoredActual& row) {
  auto lrp = std::make_shared<models::ActualLRP>();
  // Cannot fail: the model serialised these bytes itself.
  lrp->ParseFromArray(row.wire.data(), static_cast<int>(row.wire.size()));
  return lrp;
}

DesiredLrpPtr Model::DecodeDesired(const ProcessEntry& entry) {
  if (!entry.has_desired()) return nullptr;
  auto record = std::make_shared<records::DesiredLRPRecord>();
  record->ParseFromArray(entry.desired_wire.data(), static_cast<int>(entry.desired_wire.size()));
  return record;
}

const Model::StoredActual* Model::FindRow(const ProcessEntry& entry, int32_t index, int presence) {
  auto it =
      std::lower_bound(entry.actuals.begin(), entry.actuals.end(), std::make_pair(index, presence),
                       [](const StoredActual& row, const std::pair<int32_t, int>& key) {
                         return std::make_pair(row.index, static_cast<int>(row.presence)) < key;
                       });
  if (it == entry.actuals.end() || it->index != index || it->presence != presence) return nullptr;
  return &*it;
}

const std::string* Model::InternNameLocked(const std::string& name) {
  auto it = names_.try_emplace(name, 0).first;
  ++it->second;
  return &it->first;
}

void Model::ReleaseNameLocked(const std::string* name) {
  if (name == nullptr) return;
  auto it = names_.find(*name);
  if (it != names_.end() && --it->second == 0) names_.erase(it);
}

const std::string* Model::IndexCellLocked(const std::string* guid, const std::string& cell,
                                          int32_t index, int presence) {
  if (cell.empty()) return nullptr;
  auto it = by_cell_.try_emplace(cell).first;
  ActualRef ref{guid, index, presence};
  auto& refs = it->second;
  refs.insert(std::upper_bound(refs.begin(), refs.end(), ref), ref);
  return &it->first;
}

void Model::UnindexCellLocked(const std::string* guid, const StoredActual& row) {
  if (row.cell == nullptr) return;
  auto it = by_cell_.find(*row.cell);
  if (it == by_cell_.end()) return;
  auto& refs = it->second;
  ActualRef ref{guid, row.index, row.presence};
  auto rit = std::lower_bound(refs.begin(), refs.end(), ref);
  if (rit != refs.end() && !(ref < *rit)) refs.erase(rit);
  if (refs.empty()) by_cell_.erase(it);
}

// --- writes ---

void Model::LoadPart(storage::Snapshot* part) {
  std::unique_lock lock(mu_);
  LoadLocked(part);
}

void Model::LoadLocked(storage::Snapshot* part) {
  // Grow geometrically: the parts come in batches, and reserving exactly each time would
  // rehash the whole table once per batch.
  auto reserve = [](auto& table, size_t want) {
    if (want > table.bucket_count() * table.max_load_factor()) {
      table.reserve(std::max(want, 2 * table.size()));
    }
  };
  reserve(processes_, processes_.size() + part->desired_lrps.size() + part->actual_lrps.size() / 8);
  reserve(tasks_, tasks_.size() + part->tasks.size());
  for (auto& d : part->domains) {
    storage::Mutation m = std::move(d);
    ApplyLocked(m);
  }
  // The records are encoded in place and all freed together afterwards (clear() below): freeing
  // each one's few dozen small allocations between the allocations of the encodings made glibc
  // consolidate and split chunks over and over (a third of the start-up's CPU).
  for (auto& r : part->desired_lrps) PutDesiredLocked(r);
  for (auto& a : part->actual_lrps) PutActualLocked(a);
  for (auto& t : part->tasks) {
    storage::Mutation m = storage::PutTask{std::move(t)};
    ApplyLocked(m);
  }
  part->domains.clear();
  if (!part->lrps_reused) {
    part->desired_lrps.clear();
    part->actual_lrps.clear();
  }
  part->tasks.clear();
}

void Model::Load(storage::Snapshot snapshot) {
  std::unique_lock lock(mu_);
  LoadLocked(&snapshot);
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

void Model::PutDesiredLocked(records::DesiredLRPRecord& record) {
  // The run info is not kept: it stays in the store, read on demand (DesiredLrps::Read*).
  record.clear_run_info();
  auto& entry = processes_[record.scheduling_info().desired_lrp_key().process_guid()];
  const std::string* domain = InternNameLocked(record.scheduling_info().desired_lrp_key().domain());
  if (entry.has_desired()) {
    ReleaseNameLocked(entry.desired_domain);
  } else {
    ++desired_count_;
  }
  entry.desired_domain = domain;
  // The record's encoding with its scheduling info's own encoding as a recognisable part:
  // field 1 first (as the serialiser writes it), then the other fields, serialised straight
  // into one exactly sized string. The scheduling info is detached meanwhile (not freed, so
  // nothing is freed per record here: see Load).
  models::DesiredLRPSchedulingInfo* scheduling =
      record.has_scheduling_info() ? record.release_scheduling_info() : nullptr;
  size_t scheduling_size = scheduling ? scheduling->ByteSizeLong() : 0;
  size_t rest_size = record.ByteSizeLong();
  char head[16];
  size_t offset = 0;
  if (scheduling) {
    head[0] = static_cast<char>((records::DesiredLRPRecord::kSchedulingInfoFieldNumber << 3) | 2);
    offset = static_cast<size_t>(PutVarint(head + 1, scheduling_size) - head);
  }
  SharedBytes wire(offset + scheduling_size + rest_size);
  char* out = wire.mutable_data();
  if (offset > 0) std::memcpy(out, head, offset);
  if (scheduling) {
    scheduling->SerializeToArray(out + offset, static_cast<int>(scheduling_size));
  }
  if (rest_size > 0) {
    record.SerializeToArray(out + offset + scheduling_size, static_cast<int>(rest_size));
  }
  if (scheduling) record.set_allocated_scheduling_info(scheduling);
  entry.desired_wire = std::move(wire);
  entry.scheduling_offset = static_cast<uint32_t>(offset);
  entry.scheduling_size = static_cast<uint32_t>(scheduling_size);
}

void Model::PutActualLocked(models::ActualLRP& lrp) {
  domain::NormalizeActualLrp(&lrp);
  int presence = static_cast<int>(lrp.presence());
  if (presence < 0 || presence > 2) return;
  int32_t index = lrp.actual_lrp_key().index();
  auto pit = processes_.try_emplace(lrp.actual_lrp_key().process_guid()).first;
  const std::string* guid = &pit->first;
  auto& rows = pit->second.actuals;
  auto it = std::lower_bound(rows.begin(), rows.end(), std::make_pair(index, presence),
                             [](const StoredActual& row, const std::pair<int32_t, int>& k) {
                               return std::make_pair(row.index, static_cast<int>(row.presence)) < k;
                             });
  if (it != rows.end() && it->index == index && it->presence == presence) {
    UnindexCellLocked(guid, *it);
    ReleaseNameLocked(it->domain);
  } else {
    it = rows.insert(it, StoredActual{});
    ++actual_count_;
  }
  StoredActual& row = *it;
  row.index = index;
  row.presence = static_cast<uint8_t>(presence);
  row.running = lrp.state() == domain::kRunning;
  row.domain = InternNameLocked(lrp.actual_lrp_key().domain());
  row.cell = IndexCellLocked(guid, lrp.actual_lrp_instance_key().cell_id(), index, presence);
  row.wire = Serialized(lrp);
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
          PutDesiredLocked(m.record);
        } else if constexpr (std::is_same_v<T, storage::DeleteDesiredLrp>) {
          auto it = processes_.find(m.process_guid);
          if (it == processes_.end() || !it->second.has_desired()) return;
          ProcessEntry& entry = it->second;
          ReleaseNameLocked(entry.desired_domain);
          entry.desired_domain = nullptr;
          entry.desired_wire = SharedBytes();
          entry.scheduling_offset = entry.scheduling_size = 0;
          --desired_count_;
          if (entry.actuals.empty()) processes_.erase(it);
        } else if constexpr (std::is_same_v<T, storage::PutActualLrp>) {
          PutActualLocked(m.lrp);
        } else if constexpr (std::is_same_v<T, storage::DeleteActualLrp>) {
          auto pit = processes_.find(m.process_guid);
          if (pit == processes_.end()) return;
          int presence = static_cast<int>(m.presence);
          if (presence < 0 || presence > 2) return;
          ProcessEntry& entry = pit->second;
          const StoredActual* row = FindRow(entry, m.index, presence);
          if (row == nullptr) return;
          UnindexCellLocked(&pit->first, *row);
          ReleaseNameLocked(row->domain);
          entry.actuals.erase(entry.actuals.begin() + (row - entry.actuals.data()));
          --actual_count_;
          if (entry.actuals.empty()) {
            std::vector<StoredActual>().swap(entry.actuals);
            if (!entry.has_desired()) processes_.erase(pit);
          }
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
      if (it != processes_.end() && it->second.has_desired() &&
          MatchesDesiredFilter(it->first, *it->second.desired_domain, filter)) {
        fn(it->second);
      }
    }
    return;
  }
  for (const auto& [guid, entry] : processes_) {
    if (entry.has_desired() && MatchesDesiredFilter(guid, *entry.desired_domain, filter)) {
      fn(entry);
    }
  }
}

template <typename Fn>
void Model::ForEachActualOfProcessLocked(const ProcessEntry& entry, const ActualLrpFilter& filter,
                                         Fn&& fn) const {
  for (const StoredActual& row : entry.actuals) {
    if (filter.index && row.index != *filter.index) continue;
    if (!filter.domain.empty() && *row.domain != filter.domain) continue;
    if (!filter.cell_id.empty() && (row.cell == nullptr || *row.cell != filter.cell_id)) continue;
    fn(row);
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
      const StoredActual* row = FindRow(pit->second, index, presence);
      if (row == nullptr) continue;
      if (filter.index && row->index != *filter.index) continue;
      if (!filter.domain.empty() && *row->domain != filter.domain) continue;
      fn(*row);
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
  return DecodeDesired(it->second);
}

std::vector<DesiredLrpPtr> Model::DesiredLrps(const DesiredLrpFilter& filter) const {
  std::vector<DesiredLrpPtr> out;
  std::shared_lock lock(mu_);
  if (filter.process_guids.empty()) out.reserve(desired_count_);
  ForEachDesiredLocked(filter, [&](const ProcessEntry& e) { out.push_back(DecodeDesired(e)); });
  return out;
}

std::vector<ActualLrpPtr> Model::ActualLrps(const ActualLrpFilter& filter) const {
  std::vector<ActualLrpPtr> out;
  std::shared_lock lock(mu_);
  if (filter.process_guid.empty() && filter.cell_id.empty()) out.reserve(actual_count_);
  ForEachActualLocked(filter, [&](const StoredActual& row) { out.push_back(Decode(row)); });
  return out;
}

std::vector<ActualLrpPtr> Model::ActualLrpsByProcessGuids(
    const std::vector<std::string>& guids) const {
  std::vector<ActualLrpPtr> out;
  std::shared_lock lock(mu_);
  ForEachActualByGuidsLocked(guids, [&](const StoredActual& row) { out.push_back(Decode(row)); });
  return out;
}

// Called under the shared lock after the walk that found the parts: taking a reference touches
// each encoding's header, scattered over the heap, so the headers are prefetched a few records
// ahead instead of missing the cache one by one during the walk.
EncodedList Model::MakeList(const std::vector<PartRef>& refs, int field_number) {
  constexpr size_t kAhead = 8;
  std::vector<EncodedList::Part> parts;
  parts.reserve(refs.size());
  for (size_t i = 0; i < refs.size(); ++i) {
    if (i + kAhead < refs.size()) __builtin_prefetch(refs[i + kAhead].bytes->data(), 1);
    parts.push_back({*refs[i].bytes, refs[i].offset, refs[i].size});
  }
  return EncodedList(field_number, std::move(parts));
}

EncodedList Model::ListActualLrps(const ActualLrpFilter& filter, int field_number) const {
  std::vector<PartRef> refs;
  std::shared_lock lock(mu_);
  if (filter.process_guid.empty() && filter.cell_id.empty()) refs.reserve(actual_count_);
  ForEachActualLocked(filter, [&](const StoredActual& row) {
    refs.push_back({&row.wire, 0, static_cast<uint32_t>(row.wire.size())});
  });
  return MakeList(refs, field_number);
}

EncodedList Model::ListActualLrpsByProcessGuids(const std::vector<std::string>& guids,
                                                int field_number) const {
  std::vector<PartRef> refs;
  std::shared_lock lock(mu_);
  ForEachActualByGuidsLocked(guids, [&](const StoredActual& row) {
    refs.push_back({&row.wire, 0, static_cast<uint32_t>(row.wire.size())});
  });
  return MakeList(refs, field_number);
}

EncodedList Model::ListSchedulingInfos(const DesiredLrpFilter& filter, int field_number) const {
  std::vector<PartRef> refs;
  std::shared_lock lock(mu_);
  if (filter.process_guids.empty()) refs.reserve(desired_count_);
  ForEachDesiredLocked(filter, [&](const ProcessEntry& e) {
    refs.push_back({&e.desired_wire, e.scheduling_offset, e.scheduling_size});
  });
  return MakeList(refs, field_number);
}

std::string Model::EncodedActualLrps(const ActualLrpFilter& filter, int field_number) const {
  return ListActualLrps(filter, field_number).ReadAll();
}

std::string Model::EncodedActualLrpsByProcessGuids(const std::vector<std::string>& guids,
                                                   int field_number) const {
  return ListActualLrpsByProcessGuids(guids, field_number).ReadAll();
}

std::string Model::EncodedSchedulingInfos(const DesiredLrpFilter& filter, int field_number) const {
  return ListSchedulingInfos(filter, field_number).ReadAll();
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
  const ProcessEntry& entry = it->second;
  snap.desired = DecodeDesired(entry);
  for (const StoredActual& row : entry.actuals) {
    if (row.presence == models::ActualLRP::ORDINARY && row.running) ++snap.running_ordinary;
    if (row.index != index) continue;
    switch (row.presence) {
      case models::ActualLRP::ORDINARY:
        snap.ordinary = Decode(row);
        break;
      case models::ActualLRP::EVACUATING:
        snap.evacuating = Decode(row);
        break;
      case models::ActualLRP::SUSPECT:
        snap.suspect = Decode(row);
        break;
      default:
        break;
    }
  }
  return snap;
}

ProcessSnapshot Model::SnapshotProcess(const std::string& process_guid) const {
  ProcessSnapshot snap;
  std::shared_lock lock(mu_);
  auto it = processes_.find(process_guid);
  if (it == processes_.end()) return snap;
  snap.desired = DecodeDesired(it->second);
  snap.actuals.reserve(it->second.actuals.size());
  for (const StoredActual& row : it->second.actuals) snap.actuals.push_back(Decode(row));
  return snap;
}

std::set<int32_t> Model::OrdinaryIndices(const std::string& process_guid) const {
  std::set<int32_t> out;
  std::shared_lock lock(mu_);
  auto it = processes_.find(process_guid);
  if (it == processes_.end()) return out;
  for (const StoredActual& row : it->second.actuals) {
    if (row.presence == models::ActualLRP::ORDINARY) out.insert(row.index);
  }
  return out;
}

std::vector<std::string> Model::ProcessGuids() const {
  std::vector<std::string> out;
  std::shared_lock lock(mu_);
  out.reserve(processes_.size());
  for (const auto& [guid, entry] : processes_) out.push_back(guid);
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
  if (present_cells) {
    input.present_cells.insert(present_cells->begin(), present_cells->end());
  } else {
    for (const auto& [cell, refs] : by_cell_) input.present_cells.insert(cell);
  }
  domain::LrpConvergenceActions out;
  std::set<std::string> missing_cells;
  // Scratch messages reused from process to process (the calculator copies what it keeps).
  std::vector<models::ActualLRP> rows;
  records::DesiredLRPRecord desired;
  for (const auto& [guid, entry] : processes_) {
    if (rows.size() < entry.actuals.size()) rows.resize(entry.actuals.size());
    input.slots.clear();
    for (size_t i = 0; i < entry.actuals.size(); ++i) {
      const StoredActual& stored = entry.actuals[i];
      rows[i].ParseFromArray(stored.wire.data(), static_cast<int>(stored.wire.size()));
      if (input.slots.empty() || input.slots.back().index != stored.index) {
        input.slots.emplace_back();
        input.slots.back().index = stored.index;
      }
      input.slots.back().rows[stored.presence] = &rows[i];
    }
    domain::LrpProcessView view;
    if (entry.has_desired()) {
      desired.ParseFromArray(entry.desired_wire.data(),
                             static_cast<int>(entry.desired_wire.size()));
      view.desired = &desired;
    }
    view.first_slot = 0;
    view.slot_count = input.slots.size();
    domain::CalculateProcessConvergence(input, view, &out, &missing_cells);
  }
  out.metrics.present_cells = static_cast<int32_t>(input.present_cells.size());
  out.metrics.suspect_cells = static_cast<int32_t>(missing_cells.size());
  return out;
}

ProcessSnapshot Model::SnapshotProcessOnArena(const std::string& process_guid,
                                              google::protobuf::Arena* arena) const {
  ProcessSnapshot snap;
  std::shared_lock lock(mu_);
  auto it = processes_.find(process_guid);
  if (it == processes_.end()) return snap;
  const ProcessEntry& entry = it->second;
  if (entry.has_desired()) {
    auto* desired = google::protobuf::Arena::CreateMessage<records::DesiredLRPRecord>(arena);
    desired->ParseFromArray(entry.desired_wire.data(), static_cast<int>(entry.desired_wire.size()));
    snap.desired = DesiredLrpPtr(std::shared_ptr<void>(), desired);
  }
  snap.actuals.reserve(entry.actuals.size());
  for (const StoredActual& row : entry.actuals) {
    auto* lrp = google::protobuf::Arena::CreateMessage<models::ActualLRP>(arena);
    lrp->ParseFromArray(row.wire.data(), static_cast<int>(row.wire.size()));
    snap.actuals.push_back(ActualLrpPtr(std::shared_ptr<void>(), lrp));
  }
  return snap;
}

}  // namespace bbs::state
