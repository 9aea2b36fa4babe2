#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "models/actual_lrp.pb.h"
#include "models/desired_lrp.pb.h"
#include "records/records.pb.h"

namespace bbs::domain {

// Builds the stored record of a newly desired LRP (behavior.md §4.2): the incoming
// modification tag is replaced by (epoch, 0), run info gets created_at = now, routes are checked
// and re-encoded (invalid route JSON -> InvalidRequest "the request received is invalid").
// REQUIRES: `lrp` passed validation.
Result<records::DesiredLRPRecord> NewDesiredLrpRecord(const models::DesiredLRP& lrp, int64_t now,
                                                      const std::string& epoch);

// The full DesiredLRP of a stored record. Fails with Deserialize when the run info is corrupt.
Result<models::DesiredLRP> DesiredLrpFromRecord(const records::DesiredLRPRecord& record);

// Applies an update (behavior.md §4.3) to `before`: only the parts present in `update` change,
// and the modification tag index goes up by one. REQUIRES: `update` passed validation.
Result<records::DesiredLRPRecord> ApplyDesiredLrpUpdate(const records::DesiredLRPRecord& before,
                                                        const models::DesiredLRPUpdate& update);

// The new UNCLAIMED ORDINARY rows that bring `desired` up to its instance count, for the indices
// from `from_index` (desire: 0; scale up: the old count) that have no ORDINARY row yet, in index
// order. `epoch` yields a fresh GUID per new row.
std::vector<models::ActualLRP> NewInstances(const records::DesiredLRPRecord& desired,
                                            int32_t from_index,
                                            const std::set<int32_t>& existing_ordinary, int64_t now,
                                            const std::function<std::string()>& epoch);

// What stopping the instances with index >= `from_index` means (behavior.md §4.3 step 3,
// §4.4 step 4): UNCLAIMED/CRASHED rows are deleted; CLAIMED/RUNNING rows (ordinary or suspect)
// are stopped through their cell's rep. EVACUATING rows are left alone.
struct StopPlan {
  std::vector<models::ActualLRP> to_delete;
  std::vector<models::ActualLRP> to_stop;
};
StopPlan PlanStopInstances(const std::vector<const models::ActualLRP*>& actuals,
                           int32_t from_index);

}  // namespace bbs::domain
