#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <google/protobuf/arena.h>

#include "bbs/domain/lrp_convergence.h"
#include "bbs/state/model.h"
#include "bbs/storage/store.h"

namespace bbs::state {

// What LRP convergence needs to remember between passes so that a pass only looks at the
// processes whose result may have changed (docs/architecture.md "Convergence index").
//
// A process's convergence result (domain::CalculateProcessConvergence) depends only on its own
// desired LRP and rows, on `now`, and on whether the cells and domains those rows name are
// present / fresh. So the index keeps, per process guid: its counts (the pass's metrics are their
// sums), the cells and domains it names, the earliest time its result can change by time alone
// (a stale-UNCLAIMED or crash back-off deadline), and whether it had actions at its last
// evaluation. A pass re-evaluates exactly:
//   - the processes the committer changed since (MarkDirty, fed with every applied batch),
//   - the processes with rows on a cell that appeared or vanished since the last pass,
//   - the processes naming a domain that became fresh or stale since the last pass,
//   - the processes whose deadline has come,
//   - the processes that had actions at their last evaluation (convergence repeats an action
//     until the rows change: e.g. an UNCLAIMED row is re-auctioned every pass),
// and returns their actions, which are what the full calculator would return over the whole
// model. Everything is evaluated on the first pass and on every `full_every_passes`-th one (a
// safety net; 0 = only the first).
//
// MarkDirty is thread-safe; Calculate calls are serialised internally.
class ConvergenceIndex {
 public:
  struct Options {
    // Every how many passes everything is evaluated again (0: only the first pass).
    int full_every_passes = 0;
  };
  ConvergenceIndex(const Model* model, Options options) : model_(model), options_(options) {}
  ConvergenceIndex(const ConvergenceIndex&) = delete;
  ConvergenceIndex& operator=(const ConvergenceIndex&) = delete;

  // The process guids `batches` change (to read before Model::Apply, which moves from them).
  static std::vector<std::string> ProcessGuidsOf(
      const std::vector<std::vector<storage::Mutation>*>& batches);
  // The committer's hook: `guids` changed in the model. REQUIRES: called after the change is
  // visible in the model.
  void MarkDirty(std::vector<std::string> guids);
  // Makes the next pass evaluate every process.
  void RequestFull();

  struct PassStats {
    bool full = false;
    size_t evaluated = 0;  // processes looked at
  };
  // What a pass read of each process that has actions, by process guid: the snapshot its
  // actions were calculated from, its actuals sorted by index (ascending). Lets the caller
  // decide each action on these rows instead of reading them again, as long as the process has
  // not changed since (ChangedSincePass).
  //
  // The pass decodes every process it evaluates onto protobuf arenas (no malloc per message, no
  // free per message: the arenas go at once): into a chunk that is reset once full when few of
  // its processes had actions (those few are copied to a kept arena first), or kept whole when
  // most of it is kept anyway. So it holds about the rows of the processes with actions, not of
  // every process evaluated. The snapshots' pointers own nothing: they are valid while this
  // object lives and until it is passed to the next Calculate.
  class PassRows {
   public:
    PassRows();
    ~PassRows();
    PassRows(const PassRows&) = delete;
    PassRows& operator=(const PassRows&) = delete;

    // The rows of `guid`, or null when the pass found no action for it. (The first call after a
    // pass builds a guid index.)
    const ProcessSnapshot* find(const std::string& guid) const;
    const ProcessSnapshot& at(const std::string& guid) const;
    size_t size() const { return kept_rows_.size(); }

    // The per-index action lists of domain::LrpConvergenceActions.
    enum class List {
      kPruneEvacuating,
      kCreateMissing,
      kUnclaimStale,
      kMissingCellReplace,
      kMissingCellUnclaim,
      kPromoteSuspect,
      kRemoveSuspect,
    };
    // The rows of the process behind entry `position` of the pass's list `list` (no lookup by
    // guid), or null.
    const ProcessSnapshot* RowsOf(List list, size_t position) const {
      const auto& rows = by_action_[static_cast<size_t>(list)];
      return position < rows.size() ? rows[position] : nullptr;
    }

   private:
    friend class ConvergenceIndex;
    static constexpr size_t kLists = 7;
    void Clear();
    // The arena the next process is decoded onto.
    google::protobuf::Arena* arena() { return current_.get(); }
    // Keeps `snap` (decoded onto arena(), `bytes` of it); `actions[l]` entries were appended to
    // list l for it.
    void Keep(ProcessSnapshot snap, size_t bytes, const std::array<size_t, kLists>& actions);
    // After a process: once the chunk is full, either keeps it whole or copies out what is kept
    // and reuses it.
    void Recycle();

    std::deque<ProcessSnapshot> kept_rows_;  // stable addresses
    std::array<std::vector<const ProcessSnapshot*>, kLists> by_action_;
    mutable std::unordered_map<std::string_view, const ProcessSnapshot*> by_guid_;  // by find
    std::unique_ptr<google::protobuf::Arena> current_;  // the chunk decoding goes to
    std::vector<ProcessSnapshot*> in_current_;          // kept snapshots living in current_
    size_t current_kept_bytes_ = 0;
    std::vector<std::unique_ptr<google::protobuf::Arena>> kept_;  // chunks kept whole
    std::unique_ptr<google::protobuf::Arena> copies_;             // snapshots copied out of a chunk
  };
  // The actions and metrics of one pass at `now`: equal (as sets) to
  // Model::CalculateLrpConvergence(now, present_cells) over the same model. `rows` (optional)
  // receives the rows of every process with actions.
  domain::LrpConvergenceActions Calculate(int64_t now,
                                          const std::optional<std::set<std::string>>& present_cells,
                                          PassStats* stats = nullptr, PassRows* rows = nullptr);

  // Whether the committer applied a change to `guid` (MarkDirty) since the last Calculate
  // began. False means the process's desired LRP and rows are still those that pass read, and
  // stay so while the caller holds the process's key lock and writes nothing to it (writers
  // hold the key lock until their change is applied and marked).
  bool ChangedSincePass(const std::string& guid);

 private:
  // The counts one process adds to the pass's metrics.
  struct Counts {
    int32_t unclaimed = 0, claimed = 0, running = 0, crashed = 0, crashing_desired = 0;
    int64_t desired_instances = 0;
    int32_t missing = 0, extra = 0, suspect_running = 0, suspect_claimed = 0;
  };
  struct Record {
    const std::string* guid = nullptr;  // the key in ids_
    Counts counts;
    // Interned cells (id << 1 | 1 when the row is RUNNING or CLAIMED), one per row with a cell.
    std::vector<uint32_t> cells;
    std::vector<uint32_t> domains;  // interned, distinct
    int64_t deadline = INT64_MAX;   // the result may change by time alone at this moment
    bool active = false;            // had actions at its last evaluation
    bool live = false;              // slot in use
    uint32_t mark = 0;              // == pass_: queued for this pass
  };
  struct CellCount {
    int32_t rows = 0;                // rows naming the cell
    int32_t running_or_claimed = 0;  // RUNNING / CLAIMED rows naming the cell
  };

  uint32_t Intern(const std::string& name);
  uint32_t IdOf(const std::string& guid);  // creates the record
  void Queue(uint32_t id, std::vector<uint32_t>* todo);
  void QueueGuid(const std::string& guid, std::vector<uint32_t>* todo);
  // Re-reads the process (onto `rows`' arena) and appends its actions to `out`; when it has
  // actions and `keep`, keeps what it read in `rows`.
  void Evaluate(uint32_t id, domain::LrpGroupedInput* in, bool own_cells,
                domain::LrpConvergenceActions* out, PassRows* rows, bool keep);
  void Forget(Record& r);
  void AddCounts(const Counts& c, int sign);

  const Model* model_;
  Options options_;

  std::mutex dirty_mu_;
  std::unordered_set<std::string> dirty_;  // guarded by dirty_mu_
  bool full_requested_ = true;             // guarded by dirty_mu_

  std::mutex pass_mu_;  // guards everything below
  uint32_t pass_ = 0;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<Record> records_;
  std::vector<uint32_t> free_ids_;
  std::vector<uint32_t> active_;  // the records with Record::active set (ids, distinct)
  // (deadline, id); stale entries (the record's deadline moved) are skipped when popped.
  std::vector<std::pair<int64_t, uint32_t>> timers_;
  std::unordered_map<std::string, uint32_t> names_;  // interned cells and domains
  std::vector<std::string> name_of_;
  std::vector<CellCount> cell_counts_;  // by interned id
  Counts totals_;
  // What the last pass saw.
  bool own_cells_mode_ = false;  // present_cells was nullopt
  std::set<std::string> last_present_;
  std::vector<std::string> last_fresh_;  // sorted
  bool first_ = true;
  int passes_since_full_ = 0;
  // Reused by Evaluate.
  std::vector<const models::ActualLRP*> rows_scratch_;
  std::set<std::string> missing_scratch_;
};

}  // namespace bbs::state
