#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

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
// The same over flat lists (groups them first).
LrpConvergenceActions CalculateLrpConvergence(const LrpConvergenceInput& input);

}  // namespace bbs::domain
