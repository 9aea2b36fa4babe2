#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bbs/domain/actual_lrp_lifecycle.h"
#include "bbs/domain/lrp_convergence.h"
#include "bbs/storage/store.h"
#include "models/actual_lrp.pb.h"
#include "models/task.pb.h"
#include "records/records.pb.h"

namespace bbs::state {

// Immutable bytes shared by reference count: one allocation holding the count, the size and
// the bytes (8 bytes of header; a std::string costs 32 plus its own heap block). How the model
// keeps each record's encoding, so a list can hold a record's bytes after the lock is gone
// while a write replaces them. Copying shares; the count is atomic, so copies may be made and
// dropped on any thread. The bytes are written only through mutable_data() right after
// construction, before the value is shared.
class SharedBytes {
 public:
  SharedBytes() = default;
  // `size` uninitialised bytes (none allocated for 0).
  explicit SharedBytes(size_t size);
  explicit SharedBytes(std::string_view bytes);
  SharedBytes(const SharedBytes& other) noexcept : block_(other.block_) { Ref(); }
  SharedBytes(SharedBytes&& other) noexcept : block_(other.block_) { other.block_ = nullptr; }
  SharedBytes& operator=(SharedBytes other) noexcept {
    std::swap(block_, other.block_);
    return *this;
  }
  ~SharedBytes() { Unref(); }

  const char* data() const { return block_ ? reinterpret_cast<const char*>(block_ + 1) : ""; }
  char* mutable_data() { return block_ ? reinterpret_cast<char*>(block_ + 1) : nullptr; }
  size_t size() const { return block_ ? block_->size : 0; }
  bool empty() const { return size() == 0; }
  std::string_view view() const { return {data(), size()}; }

 private:
  struct Block {
    std::atomic<uint32_t> refs;
    uint32_t size;
  };
  void Ref() const {
    if (block_) block_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void Unref();

  Block* block_ = nullptr;
};

// The body of a list response taken at one moment: every matching record as one
// length-delimited field (tag + length + the record's encoding), byte-identical to serialising
// the response message. It holds references to the records' encodings (taken under the
// model's shared lock), not a copy, and frames them as its bytes are read: a reader copies the
// body chunk by chunk after the lock is gone, while writes go on replacing records (a replaced
// encoding lives until the list has copied or dropped it). Read by one thread at a time.
class EncodedList {
 public:
  EncodedList() = default;
  EncodedList(EncodedList&&) = default;
  EncodedList& operator=(EncodedList&&) = default;

  // The body's exact size in bytes, and how many records it holds.
  size_t size() const { return size_; }
  size_t count() const { return parts_.size(); }
  // Copies the next min(capacity, bytes left) bytes to `out` and returns how many. Each
  // record's reference is dropped once its bytes are copied.
  size_t Read(char* out, size_t capacity);
  // The bytes not read yet, as one string.
  std::string ReadAll();

 private:
  friend class Model;
  struct Part {
    SharedBytes bytes;  // the record's encoding, or a larger encoding it is part of
    uint32_t offset;
    uint32_t size;
  };
  EncodedList(int field_number, std::vector<Part> parts);

  std::vector<Part> parts_;
  std::array<char, 10> tag_{};
  uint8_t tag_size_ = 0;
  size_t size_ = 0;
  size_t read_ = 0;     // bytes read so far
  size_t next_ = 0;     // the part being copied
  size_t in_part_ = 0;  // bytes of its frame (tag + length + bytes) copied so far
};

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
// cell), tasks. Only the committer changes it (Apply); everything else reads. LRP records are
// kept encoded; the ones handed out are decoded on demand (each read returns its own copy,
// shared_ptr to const), so a reader keeps what it read after the lock is gone. Tasks are kept
// decoded. The only owner of the state lock.
//
// Thread-safe.
class Model {
 public:
  // Adds the records of one part of the start-up snapshot (storage::Snapshot::on_batch) and
  // clears its vectors. REQUIRES: only before Load, on a model nothing else changed.
  void LoadPart(storage::Snapshot* part);
  // Adds every record of `snapshot` (the rest after the parts). REQUIRES: called once.
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
  // Returns fn(rows) for the rows of (process_guid, index): no desired LRP decoded, no
  // shared_ptr made. For short pure reads (the idempotent heartbeat); the rows live in
  // per-thread scratch, so `fn` must not keep the pointers nor call WithLrpRows again.
  template <typename Fn>
  auto WithLrpRows(const std::string& process_guid, int32_t index, Fn&& fn) const {
    // The rows are decoded into per-thread scratch messages reused from call to call (a warm
    // heartbeat allocates almost nothing); `fn` runs after the lock is released.
    thread_local std::array<models::ActualLRP, 3> scratch;
    std::array<const models::ActualLRP*, 3> found{};
    {
      std::shared_lock lock(mu_);
      if (auto it = processes_.find(process_guid); it != processes_.end()) {
        for (int presence = 0; presence < 3; ++presence) {
          if (const StoredActual* row = FindRow(it->second, index, presence)) {
            // The model's own bytes.
            scratch[presence].ParseFromArray(row->wire.data(), static_cast<int>(row->wire.size()));
            found[presence] = &scratch[presence];
          }
        }
      }
    }
    return fn(domain::LrpRows{found[models::ActualLRP::ORDINARY],
                              found[models::ActualLRP::EVACUATING],
                              found[models::ActualLRP::SUSPECT]});
  }
  ProcessSnapshot SnapshotProcess(const std::string& process_guid) const;
  // Indices of the process's ORDINARY rows.
  std::set<int32_t> OrdinaryIndices(const std::string& process_guid) const;
  // Every process guid with a desired LRP or an actual row (unordered). Decodes nothing.
  std::vector<std::string> ProcessGuids() const;

  // --- encoded reads (the full lists) ---
  // The body of a list response: every matching record as one length-delimited field
  // `field_number`, in the order ActualLrps(filter) / ActualLrpsByProcessGuids(guids) /
  // DesiredLrps(filter) return them, made of the encoding each record keeps since it was
  // written (byte-identical to serialising the records one by one). Under the shared lock
  // these only take a reference to each matching encoding; no record is serialised or copied.
  EncodedList ListActualLrps(const ActualLrpFilter& filter, int field_number) const;
  EncodedList ListActualLrpsByProcessGuids(const std::vector<std::string>& guids,
                                           int field_number) const;
  // The scheduling infos (DesiredLRPSchedulingInfo) of the matching desired LRPs.
  EncodedList ListSchedulingInfos(const DesiredLrpFilter& filter, int field_number) const;
  // The same bodies as one string (List...().ReadAll()).
  std::string EncodedActualLrps(const ActualLrpFilter& filter, int field_number) const;
  std::string EncodedActualLrpsByProcessGuids(const std::vector<std::string>& guids,
                                              int field_number) const;
  std::string EncodedSchedulingInfos(const DesiredLrpFilter& filter, int field_number) const;

  // Runs the pure LRP convergence calculator over the whole model under the shared lock,
  // process by process: each process's records are decoded into scratch messages, evaluated
  // and dropped, so a pass holds one process decoded at a time. `present_cells` = nullopt:
  // every cell that holds a row counts as present.
  domain::LrpConvergenceActions CalculateLrpConvergence(
      int64_t now, const std::optional<std::set<std::string>>& present_cells) const;

  // SnapshotProcess decoded onto `arena` (convergence's pass, many processes dropped at once):
  // the pointers own nothing (no control block) and stay valid as long as the arena does.
  ProcessSnapshot SnapshotProcessOnArena(const std::string& process_guid,
                                         google::protobuf::Arena* arena) const;

 private:
  // How the model keeps a record (docs/architecture.md "How the model stores a record"): only
  // its wire encoding, made once when the committer applies the write (a write replaces the
  // whole record, so the encoding can never be stale), plus the few fields the indexes and
  // filters read. Readers get a record decoded from those bytes on demand (a fresh, immutable
  // copy); the full lists copy the bytes.
  //
  // One actual LRP row. The process guid is its ProcessEntry's key; the cell id and the domain
  // point at interned strings (the key of its by_cell_ entry / of names_).
  struct StoredActual {
    int32_t index = 0;
    uint8_t presence = 0;               // models::ActualLRP::Presence
    bool running = false;               // state == RUNNING
    const std::string* cell = nullptr;  // null: no cell id
    const std::string* domain = nullptr;
    SharedBytes wire;  // the normalised models::ActualLRP, serialised
  };
  // A process guid's desired LRP (if any) and its actual rows, sorted by (index, presence).
  struct ProcessEntry {
    // The records::DesiredLRPRecord, serialised; its scheduling info's own encoding is the
    // bytes [scheduling_offset, scheduling_offset + scheduling_size) of it (field 1 comes
    // first). Empty when there is no desired LRP.
    SharedBytes desired_wire;
    uint32_t scheduling_offset = 0;
    uint32_t scheduling_size = 0;
    const std::string* desired_domain = nullptr;  // null: no desired LRP
    std::vector<StoredActual> actuals;
    bool has_desired() const { return desired_domain != nullptr; }
    std::string_view scheduling_wire() const {
      return desired_wire.view().substr(scheduling_offset, scheduling_size);
    }
  };
  // A row in the cell index: (process guid, index, presence). The guid points at the key of
  // its processes_ entry (unordered_map keys do not move, and an entry outlives its rows), so
  // the index holds no copy of it; refs compare by the guid's value.
  struct ActualRef {
    const std::string* guid;
    int32_t index;
    int32_t presence;
    bool operator<(const ActualRef& o) const {
      if (int c = guid->compare(*o.guid); c != 0) return c < 0;
      return std::tie(index, presence) < std::tie(o.index, o.presence);
    }
  };

  // A part of a list being collected: the encoding (a whole record, or the range
  // [offset, offset + size) of one).
  struct PartRef {
    const SharedBytes* bytes;
    uint32_t offset;
    uint32_t size;
  };
  // The list of the encodings `refs` points at, each shared. REQUIRES: the lock held.
  static EncodedList MakeList(const std::vector<PartRef>& refs, int field_number);

  static ActualLrpPtr Decode(const StoredActual& row);
  static DesiredLrpPtr DecodeDesired(const ProcessEntry& entry);
  // The row (index, presence) of `entry`, or null.
  static const StoredActual* FindRow(const ProcessEntry& entry, int32_t index, int presence);

  void LoadLocked(storage::Snapshot* part);
  void ApplyLocked(storage::Mutation& mutation);
  // The puts: encode the record (which they may change meanwhile) into the model.
  void PutDesiredLocked(records::DesiredLRPRecord& record);
  void PutActualLocked(models::ActualLRP& lrp);
  // Adds the row to the cell index; returns the interned cell id (null for an empty one).
  const std::string* IndexCellLocked(const std::string* guid, const std::string& cell,
                                     int32_t index, int presence);
  void UnindexCellLocked(const std::string* guid, const StoredActual& row);
  const std::string* InternNameLocked(const std::string& name);
  void ReleaseNameLocked(const std::string* name);
  // Calls fn(const StoredActual&) for every actual row matching `filter`, in list order.
  template <typename Fn>
  void ForEachActualLocked(const ActualLrpFilter& filter, Fn&& fn) const;
  template <typename Fn>
  void ForEachActualOfProcessLocked(const ProcessEntry& entry, const ActualLrpFilter& filter,
                                    Fn&& fn) const;
  template <typename Fn>
  void ForEachActualByGuidsLocked(const std::vector<std::string>& guids, Fn&& fn) const;
  // Calls fn(const ProcessEntry&) for every process whose desired LRP matches `filter`.
  template <typename Fn>
  void ForEachDesiredLocked(const DesiredLrpFilter& filter, Fn&& fn) const;

  mutable std::shared_mutex mu_;  // guards everything below
  std::unordered_map<std::string, ProcessEntry> processes_;
  // Cell id -> its rows, sorted. The keys are the interned cell ids the rows point at.
  std::unordered_map<std::string, std::vector<ActualRef>> by_cell_;
  // Interned domain names of the stored records, with the number of records naming each.
  std::unordered_map<std::string, size_t> names_;
  std::unordered_map<std::string, int64_t> domains_;
  std::unordered_map<std::string, TaskPtr> tasks_;
  size_t actual_count_ = 0;
  size_t desired_count_ = 0;
};

}  // namespace bbs::state
