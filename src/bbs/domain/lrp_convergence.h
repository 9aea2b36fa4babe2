#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "bbs/domain/actual_lrp_lifecycle.h"
#include "bbs/domain/event.h"
#include "models/actual_lrp.pb.h"
#include "records/records.pb.h"

namespace bbs::domain {

// The key of one instance slot.
struct LrpKey {
  std::string process_guid;
  int32_t index = 0;
  bool operator<(const LrpKey& o) const {
    return process_guid < o.process_guid || (process_guid == o.process_guid && index < o.index);
  }
  bool operator==(const LrpKey& o) const = default;
};

// Everything one LRP convergence pass looks at (behavior.md §7.1). Pointers refer into the
// caller's snapshot and must outlive the result.
struct LrpConvergenceInput {
  std::vector<const records::DesiredLRPRecord*> desired;
  std::vector<const models::ActualLRP*> actuals;  // every row, every presence
  std::set<std::string> present_cells;
  std::set<std::string> fresh_domains;
  int64_t now = 0;
};

// The same input grouped the way the state engine keeps it in memory: one entry per process
// guid, its rows by index (ascending) and presence. Lets the engine hand its memory to the
// calculator without copying or regrouping anything.
struct LrpSlotView {
  int32_t index = 0;
  const models::ActualLRP* rows[3] = {nullptr, nullptr, nullptr};  // by presence
};
struct LrpProcessView {
  const records::DesiredLRPRecord* desired = nullptr;  // null: no desired LRP
  size_t first_slot = 0;                               // into LrpGroupedInput::slots
  size_t slot_count = 0;
};
struct LrpGroupedInput {
  std::vector<LrpProcessView> processes;
  std::vector<LrpSlotView> slots;
  std::unordered_set<std::string> present_cells;
  std::unordered_set<std::string> fresh_domains;
  int64_t now = 0;
};

struct LrpConvergenceMetrics {
  int32_t unclaimed = 0, claimed = 0, running = 0, crashed = 0;  // ORDINARY rows by state
  int32_t crashing_desired = 0;   // process guids with a CRASHED ordinary row
  int64_t desired_instances = 0;  // sum of instances over desired LRPs
  int32_t missing = 0;
  int32_t extra = 0;  // retire keys
  int32_t suspect_running = 0, suspect_claimed = 0;
  int32_t present_cells = 0;
  int32_t suspect_cells = 0;  // distinct missing cell ids
};

// What one pass decided; the caller applies each action as an ordinary write (rechecking the
// rows under the process lock) and sends one auction request at the end.
struct LrpConvergenceActions {
  std::vector<models::ActualLRP> prune_evacuating;  // EVACUATING rows on vanished cells
  std::vector<LrpKey> retire;                       // extra indices and orphaned ordinary rows
  std::vector<LrpKey> create_missing;               // indices without an ORDINARY row
  std::vector<LrpKey> unclaim_stale;                // stale UNCLAIMED / restartable CRASHED
  std::vector<LrpKey> missing_cell_replace;         // ORDINARY -> SUSPECT + new UNCLAIMED
  std::vector<LrpKey> missing_cell_unclaim;         // a suspect exists already: unclaim only
  std::vector<LrpKey> promote_suspect;              // the suspect's cell came back
  std::vector<LrpKey> remove_suspect;               // orphaned or superseded suspects
  // RUNNING ordinary instances whose rep must learn the desired internal routes (hostnames
  // of the desired `internal-router` route) or the desired metric tags resolved for them.
  struct InstanceUpdate {
    models::ActualLRP lrp;
    std::optional<std::vector<std::string>> internal_routes;
    std::optional<std::map<std::string, std::string>> metric_tags;
  };
  std::vector<InstanceUpdate> instance_updates;
  LrpConvergenceMetrics metrics;
};

// The LRP convergence calculator (behavior.md §7.1). Pure; O(desired + actuals).
LrpConvergenceActions CalculateLrpConvergence(const LrpGroupedInput& input);
// The calculator's step for one process (`proc` and its slots in `input`; input.processes is
// not read): appends the process's actions to `actions`, adds its counts to actions->metrics
// (every field but present_cells and suspect_cells; missing and extra become the sizes of
// create_missing and retire) and inserts the cells of its RUNNING/CLAIMED rows that are absent
// from input.present_cells into `missing_cells`. A process's result depends only on its own rows,
// its desired LRP, `now` and whether the cells and domains those name are present / fresh, which
// is what lets state::ConvergenceIndex recompute only the processes that changed.
void CalculateProcessConvergence(const LrpGroupedInput& input, const LrpProcessView& proc,
                                 LrpConvergenceActions* actions,
                                 std::set<std::string>* missing_cells);
// The same over flat lists (groups them first).
LrpConvergenceActions CalculateLrpConvergence(const LrpConvergenceInput& input);

// --- One action of a pass, decided again against the rows of its index as they are when it is
// applied (read under the process lock). A decision without puts or deletes means the rows
// moved on since the pass: nothing to write. None asks for an auction itself: the caller
// collects the indices of applied create/replace actions into the pass's one auction request.
// The event mode each needs (lrp_event_calc.h) is named per function.

// prune_evacuating: deletes the EVACUATING row if it is still the one the pass saw. kStandard.
LrpDecision PruneEvacuating(const LrpRows& rows, const models::ActualLRPInstanceKey& seen);
// create_missing: a new UNCLAIMED ORDINARY row for `key`, unless an ORDINARY row exists or the
// desired LRP (null: gone) no longer wants that index. kStandard.
// `epoch` yields the new row's GUID (called only when a row is created).
LrpDecision CreateMissing(const LrpRows& rows, const records::DesiredLRPRecord* desired,
                          const LrpKey& key, int64_t now,
                          const std::function<std::string()>& epoch);
// CreateMissing's row alone (its one put), or nullopt when it would write nothing.
std::optional<models::ActualLRP> MissingRow(const LrpRows& rows,
                                            const records::DesiredLRPRecord* desired,
                                            const LrpKey& key, int64_t now,
                                            const std::function<std::string()>& epoch);
// The events of a row created where its index had no row at all (no ORDINARY, EVACUATING or
// SUSPECT), e.g. create_missing's: the group created event, then the instance created event.
// Equal to ComputeActualLrpEvents({}, {{nullopt, created}}, kStandard, trace_id), with one copy
// of the row per event and nothing else.
std::vector<Event> CreatedLrpEvents(const models::ActualLRP& created, const std::string& trace_id);
// missing_cell_replace: a CLAIMED/RUNNING ORDINARY row on a vanished cell becomes SUSPECT and a
// new UNCLAIMED ORDINARY row takes its place, unless a suspect exists already or the desired LRP
// is gone. kInstanceOnly (behavior.md §1.6.4: no group events).
LrpDecision ReplaceWithSuspect(const LrpRows& rows, bool desired_exists, int64_t now,
                               const std::function<std::string()>& epoch);
// promote_suspect: the suspect's cell came back: the suspect becomes ORDINARY again and its
// replacement, if any, is deleted. kPerChange.
LrpDecision PromoteSuspect(const LrpRows& rows);
// remove_suspect: deletes the suspect row. kPerChange.
LrpDecision RemoveSuspect(const LrpRows& rows);

}  // namespace bbs::domain
