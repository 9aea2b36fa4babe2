#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "bbs/base/clock.h"
#include "bbs/base/guid.h"
#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/cells/cell_directory.h"
#include "bbs/domain/actual_lrp_lifecycle.h"
#include "bbs/domain/lrp_convergence.h"
#include "bbs/domain/lrp_event_calc.h"
#include "bbs/domain/task_lifecycle.h"
#include "bbs/events/event.h"
#include "bbs/storage/store.h"
#include "models/actual_lrp.pb.h"
#include "models/desired_lrp.pb.h"
#include "models/task.pb.h"
#include "records/records.pb.h"

namespace bbs::clients {
class Auctioneer;
class Reps;
}  // namespace bbs::clients

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

// One operation's worth of writes: the mutations to commit atomically and the events they cause.
struct Change {
  std::vector<storage::Mutation> mutations;
  std::vector<events::Event> events;
};

// Engine is the in-memory authoritative model of the BBS and its write path (design.md §3).
//
// Reads are served from memory. A write takes the lock of its key (the process guid for desired
// and actual LRPs, the task guid for tasks, the domain name for domains), reads the current
// records, computes the change, hands it to the committer and waits. The committer thread
// group-commits every pending change in one store transaction, then applies the changes to
// memory and publishes their events, in commit order. Memory never changes before the store
// has durably accepted the change; a failed commit leaves memory untouched.
//
// Thread-safe. Records handed out are immutable snapshots (shared_ptr to const).
class Engine {
 public:
  struct Options {
    // Upper bound of mutations in one group commit.
    size_t max_batch_mutations = 20000;
  };

  Engine(storage::Store* store, const Clock* clock, GuidGenerator* guids,
         events::Publisher* publisher, Logger logger, Options options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads every record from the store into memory. REQUIRES: called once, before Start().
  Status Load();
  // Starts the committer thread.
  void Start();
  // Finishes the pending commits, then refuses further writes.
  void Stop();

  // --- Domains (behavior.md §6) ---
  Status UpsertDomain(const std::string& domain, uint32_t ttl_seconds);
  std::vector<std::string> FreshDomains() const;

  // --- Desired LRPs (behavior.md §4) ---
  // REQUIRES: `lrp` passed validation.
  Status DesireLrp(const models::DesiredLRP& lrp, const std::string& trace_id);
  // REQUIRES: `update` passed validation.
  Status UpdateDesiredLrp(const std::string& process_guid, const models::DesiredLRPUpdate& update,
                          const std::string& trace_id);
  Status RemoveDesiredLrp(const std::string& process_guid, const std::string& trace_id);
  DesiredLrpPtr DesiredLrp(const std::string& process_guid) const;
  std::vector<DesiredLrpPtr> DesiredLrps(const DesiredLrpFilter& filter) const;

  // --- Actual LRPs: reads ---
  std::vector<ActualLrpPtr> ActualLrps(const ActualLrpFilter& filter) const;
  std::vector<ActualLrpPtr> ActualLrpsByProcessGuids(const std::vector<std::string>& guids) const;

  // --- Actual LRPs: lifecycle (behavior.md §1, §3) ---
  // The outbound peers; without them auctions and rep calls are skipped (and logged).
  // REQUIRES: called before Start(); the objects outlive the engine.
  void SetPeers(clients::Auctioneer* auctioneer, clients::Reps* reps, cells::CellDirectory* cells);

  struct EvacuationResult {
    Status status;
    bool keep_container = false;
  };
  Status ClaimActualLrp(const std::string& process_guid, int32_t index,
                        const models::ActualLRPInstanceKey& instance_key);
  Status StartActualLrp(const domain::StartParams& params);
  Status CrashActualLrp(const models::ActualLRPKey& key,
                        const models::ActualLRPInstanceKey& instance_key,
                        const std::string& error_message);
  Status FailActualLrp(const models::ActualLRPKey& key, const std::string& error_message);
  Status RemoveActualLrp(const std::string& process_guid, int32_t index,
                         const models::ActualLRPInstanceKey* instance_key);
  Status RetireActualLrp(const models::ActualLRPKey& key, const std::string& trace_id);
  EvacuationResult EvacuateClaimedActualLrp(const models::ActualLRPKey& key,
                                            const models::ActualLRPInstanceKey& instance_key);
  EvacuationResult EvacuateCrashedActualLrp(const models::ActualLRPKey& key,
                                            const models::ActualLRPInstanceKey& instance_key,
                                            const std::string& error_message);
  EvacuationResult EvacuateStoppedActualLrp(const models::ActualLRPKey& key,
                                            const models::ActualLRPInstanceKey& instance_key);
  EvacuationResult EvacuateRunningActualLrp(const domain::StartParams& params);
  Status RemoveEvacuatingActualLrp(const models::ActualLRPKey& key,
                                   const models::ActualLRPInstanceKey& instance_key);

  // --- Tasks (behavior.md §5) ---
  struct TaskOptions {
    int32_t max_task_retries = 3;
  };
  void SetTaskOptions(TaskOptions options) { task_options_ = options; }
  // Receives every task that became COMPLETED with a completion_callback_url, after commit.
  void SetCallbackSink(std::function<void(TaskPtr)> sink) { callback_sink_ = std::move(sink); }

  // REQUIRES: the request passed validation.
  Status DesireTask(const std::string& task_guid, const std::string& domain,
                    const models::TaskDefinition& definition);
  // should_start, or the error.
  Result<bool> StartTask(const std::string& task_guid, const std::string& cell_id);
  Status CancelTask(const std::string& task_guid, const std::string& trace_id);
  Status FailTask(const std::string& task_guid, const std::string& reason);
  Status RejectTask(const std::string& task_guid, const std::string& reason);
  Status CompleteTask(const std::string& task_guid, const std::string& cell_id, bool failed,
                      const std::string& failure_reason, const std::string& result);
  Status ResolvingTask(const std::string& task_guid);
  Status DeleteTask(const std::string& task_guid);
  TaskPtr Task(const std::string& task_guid) const;
  // Filters ANDed; empty = no filter.
  std::vector<TaskPtr> Tasks(const std::string& domain, const std::string& cell_id) const;

  // --- Convergence (behavior.md §7) ---
  struct LrpConvergenceReport {
    domain::LrpConvergenceMetrics metrics;
    int64_t duration_ns = 0;
  };
  // One LRP convergence pass against `present_cells`: computes the actions with the pure
  // calculator, applies each as an ordinary write (rechecked under its process lock), then
  // sends one auction request. Retires go through RetireActualLrp (rep stops).
  // `present_cells` = nullopt when no cell registry exists: every cell is then assumed present
  // (nothing becomes suspect, no evacuating row is pruned, no task fails for its cell).
  LrpConvergenceReport ConvergeLrps(const std::optional<std::set<std::string>>& present_cells);
  struct TaskConvergenceReport {
    domain::TaskConvergenceMetrics metrics;
    int64_t duration_ns = 0;
    std::vector<TaskPtr> to_kick;  // COMPLETED tasks to hand to the callback worker
  };
  TaskConvergenceReport ConvergeTasks(const std::optional<std::set<std::string>>& present_cells,
                                      const domain::TaskConvergenceDurations& durations);

  // Counts, for tests and metrics.
  size_t DesiredLrpCount() const;
  size_t ActualLrpCount() const;

  // Commits `change` durably, applies it to memory and publishes its events. Blocks until done.
  // REQUIRES: the caller holds the key locks of everything the change touches.
  Status Commit(Change change);

  // The lock that serialises writes to one process guid (its desired LRP and all its actuals).
  std::unique_lock<std::mutex> LockProcess(const std::string& process_guid);

  const Clock& clock() const { return *clock_; }
  GuidGenerator& guids() { return *guids_; }

 private:
  struct Slots {
    std::array<ActualLrpPtr, 3> by_presence;  // indexed by models::ActualLRP::Presence
  };
  struct ProcessEntry {
    DesiredLrpPtr desired;
    std::map<int32_t, Slots> actuals;
  };
  using ActualRef = std::tuple<std::string, int32_t, int>;  // guid, index, presence
  struct Pending {
    Change change;
    Status status;
    bool done = false;
  };

  // Snapshot of the rows of one (process_guid, index) and of its desired LRP.
  struct LrpSnapshot {
    ActualLrpPtr ordinary, evacuating, suspect;
    DesiredLrpPtr desired;
    int32_t running_ordinary = 0;  // RUNNING ORDINARY rows of the whole process
    domain::LrpRows rows() const { return {ordinary.get(), evacuating.get(), suspect.get()}; }
  };
  LrpSnapshot SnapshotLrp(const std::string& process_guid, int32_t index) const;
  // Commits what `decision` says, then asks for an auction if it wants one. REQUIRES: the
  // process lock is held.
  Status ApplyLrpDecision(const LrpSnapshot& snap, const domain::LrpDecision& decision,
                          const std::string& trace_id,
                          std::optional<domain::LrpEventMode> mode = std::nullopt);
  void RequestAuction(const DesiredLrpPtr& desired, std::vector<int32_t> indices,
                      const std::string& trace_id);
  // Tells the reps of the CLAIMED/RUNNING instances about changed internal routes or metric
  // tags (behavior.md §4.3 step 4), asynchronously.
  void UpdateInstancesAsync(const records::DesiredLRPRecord& before,
                            const models::DesiredLRPUpdate& update,
                            const std::vector<ActualLrpPtr>& actuals, const std::string& trace_id);
  // Asks the reps of `lrps` to stop them, asynchronously (scale down, removal).
  void StopInstancesAsync(const std::vector<models::ActualLRP>& lrps, const std::string& trace_id);

  // Commits a task decision (write + event), then does its outbound work. REQUIRES: the task
  // lock is held by the caller through `lock`, which this releases before any network call.
  Status ApplyTaskDecision(std::unique_lock<std::mutex>& lock, const TaskPtr& before,
                           const domain::TaskDecision& decision, const std::string& trace_id);
  std::unique_lock<std::mutex> LockTask(const std::string& task_guid);

  void CommitLoop();
  // Applies a committed mutation to memory, moving its records out of `mutation`.
  void ApplyLocked(storage::Mutation& mutation);
  void IndexCellLocked(const models::ActualLRP& lrp, bool add);
  void CollectActualsLocked(const ProcessEntry& entry, const ActualLrpFilter& filter,
                            std::vector<ActualLrpPtr>* out) const;
  std::vector<const models::ActualLRP*> ActualsOfLocked(const std::string& process_guid) const;

  storage::Store* store_;
  const Clock* clock_;
  GuidGenerator* guids_;
  events::Publisher* publisher_;
  clients::Auctioneer* auctioneer_ = nullptr;
  clients::Reps* reps_ = nullptr;
  cells::CellDirectory* cells_ = nullptr;
  TaskOptions task_options_;
  std::function<void(TaskPtr)> callback_sink_;
  Logger logger_;
  Options options_;

  mutable std::shared_mutex state_mu_;  // guards the maps below
  std::unordered_map<std::string, ProcessEntry> processes_;
  std::unordered_map<std::string, std::set<ActualRef>> by_cell_;
  std::unordered_map<std::string, int64_t> domains_;
  std::unordered_map<std::string, TaskPtr> tasks_;
  size_t actual_count_ = 0;
  size_t desired_count_ = 0;

  std::array<std::mutex, 1024> stripes_;
  std::mutex domain_write_mu_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable done_cv_;
  std::deque<Pending*> queue_;
  bool stopping_ = false;
  bool running_ = false;
  std::thread committer_;
};

}  // namespace bbs::state
