#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "bbs/domain/actual_lrp_lifecycle.h"
#include "bbs/domain/lrp_convergence.h"
#include "bbs/storage/store.h"
#include "models/actual_lrp.pb.h"
#include "models/task.pb.h"
#include "records/records.pb.h"

namespace bbs::state {

using ActualLrpPtr = std::shared_ptr<const models::ActualLRP>;
using DesiredLrpPtr = std::shared_ptr<const records::DesiredLRPRecord>;
using TaskPtr = std::shared_ptr<const models::Task>;

// Filters of /v1/actual_lrps/list (all ANDed; empty = no filter).
struct ActualLrpFilter {
  std::string domain;
  std::string cell_id;
  std::string process_guid;
  std::optional<int32_t> index;
};

// Filters of the desired LRP reads (all ANDed; empty = no filter). app_guids is a prefix match
// on the process guid, ORed among its entries.
struct DesiredLrpFilter {
  std::string domain;
  std::vector<std::string> process_guids;
  std::vector<std::string> app_guids;
};

// The rows of one (process_guid, index) and the desired LRP of its process, as read at one
// moment.
struct LrpSnapshot {
  ActualLrpPtr ordinary, evacuating, suspect;
  DesiredLrpPtr desired;
  int32_t running_ordinary = 0;  // RUNNING ORDINARY rows of the whole process
  domain::LrpRows rows() const { return {ordinary.get(), evacuating.get(), suspect.get()}; }
  // The rows present, as values (ordinary, evacuating, suspect).
  std::vector<models::ActualLRP> RowValues() const;
};

// A process's desired LRP and every one of its actual rows.
struct ProcessSnapshot {
  DesiredLrpPtr desired;
  std::vector<ActualLrpPtr> actuals;
  std::vector<const models::ActualLRP*> RawActuals() const;
};

// The in-memory authoritative model: domains, desired LRPs, actual LRPs (by process and by
// cell), tasks. Only the committer changes it (Apply); everything else reads. Records handed
// out are immutable (shared_ptr to const), so a reader keeps what it read after the lock is
// gone. The only owner of the state lock.
//
// Thread-safe.
class Model {
 public:
  // Replaces nothing: adds every record of `snapshot`. REQUIRES: called once, on an empty model.
  void Load(storage::Snapshot snapshot);
  // Applies committed mutations, batch by batch, under one exclusive lock.
  void Apply(const std::vector<std::vector<storage::Mutation>*>& batches);

  // --- reads ---
  DesiredLrpPtr DesiredLrp(const std::string& process_guid) const;
  std::vector<DesiredLrpPtr> DesiredLrps(const DesiredLrpFilter& filter) const;
  std::vector<ActualLrpPtr> ActualLrps(const ActualLrpFilter& filter) const;
  std::vector<ActualLrpPtr> ActualLrpsByProcessGuids(const std::vector<std::string>& guids) const;
  TaskPtr Task(const std::string& task_guid) const;
  // Filters ANDed; empty = no filter.
  std::vector<TaskPtr> Tasks(const std::string& domain, const std::string& cell_id) const;
  std::vector<TaskPtr> AllTasks() const;
  // Names of the domains whose expiry is after `after` (sorted) / at or before it.
  std::vector<std::string> DomainsExpiringAfter(int64_t after) const;
  std::vector<std::string> DomainsExpiredBy(int64_t now) const;
  size_t DesiredLrpCount() const;
  size_t ActualLrpCount() const;
  size_t DomainCount() const;
  size_t TaskCount() const;

  LrpSnapshot SnapshotLrp(const std::string& process_guid, int32_t index) const;
  // Returns fn(rows) for the rows of (process_guid, index), called under the shared lock: no
  // desired LRP, no shared_ptr copied. For short pure reads (the idempotent heartbeat); `fn`
  // must not call back into the model nor keep the pointers.
  template <typename Fn>
  auto WithLrpRows(const std::string& process_guid, int32_t index, Fn&& fn) const {
    std::shared_lock lock(mu_);
    domain::LrpRows rows;
    if (auto it = processes_.find(process_guid); it != processes_.end()) {
      if (auto ait = it->second.actuals.find(index); ait != it->second.actuals.end()) {
        const auto& slots = ait->second.by_presence;
        auto raw = [](const StoredActualPtr& p) { return p ? &p->lrp : nullptr; };
        rows = {raw(slots[models::ActualLRP::ORDINARY]), raw(slots[models::ActualLRP::EVACUATING]),
                raw(slots[models::ActualLRP::SUSPECT])};
      }
    }
    return fn(rows);
  }
  ProcessSnapshot SnapshotProcess(const std::string& process_guid) const;
  // Indices of the process's ORDINARY rows.
  std::set<int32_t> OrdinaryIndices(const std::string& process_guid) const;

  // --- encoded reads (the full lists) ---
  // The body of a list response: every matching record as one length-delimited field
  // `field_number`, in the order ActualLrps(filter) / ActualLrpsByProcessGuids(guids) /
  // DesiredLrps(filter) return them, copied from the encoding each record keeps since it was
  // written (byte-identical to serialising the records one by one). Built under the shared lock
  // in one exactly sized allocation; no record is serialised and no shared_ptr copied.
  std::string EncodedActualLrps(const ActualLrpFilter& filter, int field_number) const;
  std::string EncodedActualLrpsByProcessGuids(const std::vector<std::string>& guids,
                                              int field_number) const;
  // The scheduling infos (DesiredLRPSchedulingInfo) of the matching desired LRPs.
  std::string EncodedSchedulingInfos(const DesiredLrpFilter& filter, int field_number) const;

  // Runs the pure LRP convergence calculator over memory in place, under the shared lock (no
  // copies). `present_cells` = nullopt: every cell that holds a row counts as present.
  domain::LrpConvergenceActions CalculateLrpConvergence(
      int64_t now, const std::optional<std::set<std::string>>& present_cells) const;

 private:
  // A record as the model keeps it: the decoded message and its wire encoding, made once
  // when the committer applies the write (a write replaces the whole record, so the
  // encoding can never be stale). Handed out as aliasing shared_ptrs to `lrp` / `record`.
  struct StoredActual {
    models::ActualLRP lrp;
    std::string wire;  // lrp.SerializeAsString()
  };
  struct StoredDesired {
    records::DesiredLRPRecord record;
    std::string scheduling_wire;  // record.scheduling_info().SerializeAsString()
  };
  using StoredActualPtr = std::shared_ptr<const StoredActual>;
  using StoredDesiredPtr = std::shared_ptr<const StoredDesired>;
  struct Slots {
    std::array<StoredActualPtr, 3> by_presence;  // indexed by models::ActualLRP::Presence
  };
  struct ProcessEntry {
    StoredDesiredPtr desired;
    std::map<int32_t, Slots> actuals;
  };
  // A row in the cell index: (process guid, index, presence). The guid points at the key of
  // its processes_ entry (unordered_map keys do not move, and an entry outlives its rows), so
  // the index holds no copy of it; refs compare by the guid's value.
  struct ActualRef {
    const std::string* guid;
    int32_t index;
    int presence;
    bool operator<(const ActualRef& o) const {
      if (int c = guid->compare(*o.guid); c != 0) return c < 0;
      return std::tie(index, presence) < std::tie(o.index, o.presence);
    }
  };

  static ActualLrpPtr Public(const StoredActualPtr& p) {
    return p ? ActualLrpPtr(p, &p->lrp) : nullptr;
  }
  static DesiredLrpPtr Public(const StoredDesiredPtr& p) {
    return p ? DesiredLrpPtr(p, &p->record) : nullptr;
  }

  void ApplyLocked(storage::Mutation& mutation);
  void IndexCellLocked(const std::string* guid, const models::ActualLRP& lrp, bool add);
  // Calls fn(const StoredActual&) for every actual row matching `filter`, in list order.
  template <typename Fn>
  void ForEachActualLocked(const ActualLrpFilter& filter, Fn&& fn) const;
  template <typename Fn>
  void ForEachActualOfProcessLocked(const ProcessEntry& entry, const ActualLrpFilter& filter,
                                    Fn&& fn) const;
  template <typename Fn>
  void ForEachActualByGuidsLocked(const std::vector<std::string>& guids, Fn&& fn) const;
  template <typename Fn>
  void ForEachDesiredLocked(const DesiredLrpFilter& filter, Fn&& fn) const;

  mutable std::shared_mutex mu_;  // guards everything below
  std::unordered_map<std::string, ProcessEntry> processes_;
  std::unordered_map<std::string, std::set<ActualRef>> by_cell_;
  std::unordered_map<std::string, int64_t> domains_;
  std::unordered_map<std::string, TaskPtr> tasks_;
  size_t actual_count_ = 0;
  size_t desired_count_ = 0;
};

}  // namespace bbs::state
