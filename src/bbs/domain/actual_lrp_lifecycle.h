#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "models/actual_lrp.pb.h"

namespace bbs::domain {

// The rows that exist for one (process_guid, index): at most one per presence.
struct LrpRows {
  const models::ActualLRP* ordinary = nullptr;
  const models::ActualLRP* evacuating = nullptr;
  const models::ActualLRP* suspect = nullptr;

  // The row whose instance key equals `key` (any presence), or nullptr.
  const models::ActualLRP* WithInstanceKey(const models::ActualLRPInstanceKey& key) const;
};

// One row changing: before = nullopt is a creation, after = nullopt a deletion. A presence
// change is before (old presence) -> after (new presence).
struct RowChange {
  std::optional<models::ActualLRP> before;
  std::optional<models::ActualLRP> after;
};

// What an ActualLRP operation decided. Pure data: the state engine commits `changes`, derives
// events from them, and performs the outbound work.
struct LrpDecision {
  Status status;                           // the answer to the caller
  std::vector<models::ActualLRP> puts;     // rows to write (upsert by key + presence)
  std::vector<models::ActualLRP> deletes;  // rows to delete (by key + presence)
  std::vector<RowChange> event_changes;    // what the instance events are computed from
  bool crash_events = false;     // derive events with the crash algorithm (behavior.md §1.6.3)
  bool request_auction = false;  // ask the auctioneer to place this index
  bool keep_container = false;   // evacuation answers only
};

// --- the transition rule (behavior.md §1.2) ---

bool InstanceKeysEqual(const models::ActualLRPInstanceKey& a,
                       const models::ActualLRPInstanceKey& b);
bool ActualLrpKeysEqual(const models::ActualLRPKey& a, const models::ActualLRPKey& b);
bool NetInfosEqual(const models::ActualLRPNetInfo& a, const models::ActualLRPNetInfo& b);

// Whether `row` may move to state `to` on a request carrying `key` and `instance_key`.
bool AllowsTransitionTo(const models::ActualLRP& row, const models::ActualLRPKey& key,
                        const models::ActualLRPInstanceKey& instance_key, const std::string& to);

// --- operations (behavior.md §1.4); `now` in Unix ns, `epoch` a fresh GUID for new rows ---

struct StartParams {
  models::ActualLRPKey key;
  models::ActualLRPInstanceKey instance_key;
  models::ActualLRPNetInfo net_info;
  std::vector<models::ActualLRPInternalRoute> internal_routes;
  std::map<std::string, std::string> metric_tags;
  bool routable = true;
  std::string availability_zone;
};

LrpDecision Claim(const LrpRows& rows, const models::ActualLRPInstanceKey& instance_key,
                  int64_t now);
LrpDecision Start(const LrpRows& rows, const StartParams& params, int64_t now,
                  const std::string& epoch);
LrpDecision Crash(const LrpRows& rows, const models::ActualLRPKey& key,
                  const models::ActualLRPInstanceKey& instance_key, const std::string& message,
                  int64_t now);
LrpDecision Fail(const LrpRows& rows, const std::string& message, int64_t now);
LrpDecision Remove(const LrpRows& rows, const models::ActualLRPInstanceKey* instance_key);

// Internal unclaim (behavior.md §1.4.7): CLAIMED/RUNNING/CRASHED -> UNCLAIMED; refused for an
// UNCLAIMED row, and for a CLAIMED one when `is_stale`.
LrpDecision Unclaim(const LrpRows& rows, bool is_stale, int64_t now);

// Retire (behavior.md §1.4.6), the part that needs no network: UNCLAIMED/CRASHED rows are
// deleted; for CLAIMED/RUNNING rows `needs_rep_stop` is set and the caller asks the cell's rep.
struct RetireDecision {
  Status status;
  std::optional<models::ActualLRP> row;  // the ordinary row being retired
  bool needs_rep_stop = false;
};
RetireDecision Retire(const LrpRows& rows);

// --- evacuation (behavior.md §3) ---

LrpDecision EvacuateClaimed(const LrpRows& rows, const models::ActualLRPInstanceKey& instance_key,
                            int64_t now);
LrpDecision EvacuateCrashed(const LrpRows& rows, const models::ActualLRPKey& key,
                            const models::ActualLRPInstanceKey& instance_key,
                            const std::string& message, int64_t now);
LrpDecision EvacuateStopped(const LrpRows& rows, const models::ActualLRPInstanceKey& instance_key);
LrpDecision RemoveEvacuating(const LrpRows& rows, const models::ActualLRPInstanceKey& instance_key);

// What evacuate_running needs to know about the desired LRP.
struct DesiredInfo {
  bool exists = false;
  int32_t update_strategy = 0;  // 0 ROLLING, 1 RECREATE
  int32_t instances = 0;
  int32_t running_ordinary = 0;  // ORDINARY rows of the process that are RUNNING
};
LrpDecision EvacuateRunning(const LrpRows& rows, const StartParams& params,
                            const DesiredInfo& desired, int64_t now, const std::string& epoch);

}  // namespace bbs::domain
