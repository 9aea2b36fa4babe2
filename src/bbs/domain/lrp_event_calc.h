#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bbs/domain/actual_lrp_lifecycle.h"
#include "bbs/domain/event.h"
#include "models/actual_lrp.pb.h"

// The ActualLRP events of one operation on one (process_guid, index) (behavior.md §1.6.2-§1.6.4,
// api.md §4.6, §4.10), computed from the rows before the operation and the row changes it
// made. Pure functions; thread-safe.
namespace bbs::domain {

// How the events are derived.
enum class LrpEventMode {
  // behavior.md §1.6.2: group events from the resolved groups (api.md §8.3) before and after,
  // instance events element-wise. Used by every single-LRP operation except crash: desire /
  // update / remove of a DesiredLRP (per index), claim, start, fail, remove, retire, the
  // evacuation routes, and convergence's unclaim of a CRASHED LRP, creation of missing ones and
  // pruning of evacuating rows.
  kStandard,
  // behavior.md §1.6.3: CrashActualLRP only (EvacuateCrashedActualLRP uses kStandard, §3.2):
  // a crashed event whenever the instance changed, even when it went back to UNCLAIMED.
  kCrash,
  // Each change on its own, without resolving groups: the group event is computed from the
  // change's own rows with the §1.6.2 slot table. Upstream's convergence emits its removals
  // this way: a suspect LRP removed, and the ordinary replacement removed when its suspect is
  // promoted (behavior.md §1.6.4: group hub "removed").
  kPerChange,
  // Instance events only (§1.6.2 instance table), no group events: upstream's convergence
  // emits presence changes this way: ORDINARY -> SUSPECT with the new UNCLAIMED replacement
  // when a cell vanished, and SUSPECT -> ORDINARY when it came back (§1.6.4: group hub "none").
  kInstanceOnly,
};

// The rows after the operation, aligned with `before_rows` (upstream's RecordChange): each
// change, in order, replaces every present element whose instance key equals its `before`'s
// with its `after` (nullopt = removed, kept in place); a change whose `before` matches nothing
// (e.g. a creation) appends its `after`. The result is at least as long as `before_rows`.
std::vector<std::optional<models::ActualLRP>> ApplyRowChanges(
    const std::vector<models::ActualLRP>& before_rows, const std::vector<RowChange>& changes);

// The events of one operation on one (process_guid, index): first the group hub's events
// (family kActualLrpGroup, crashed events included), then the instance hub's (family
// kActualLrpInstance, crashed events included), each list stably sorted by score: crashed
// events 2, events whose resulting LRP is RUNNING 1, everything else 0 (§1.6.2).
//
// `before_rows`: every row of the index before the operation (any order of presences, as read);
// `changes`: the row changes of the operation in the order made (LrpDecision::event_changes).
// `trace_id` goes into the instance events only (crashed and group events have no such field);
// pass "" where upstream does not propagate the request id (api.md §4.5).
//
// cell_ids are filled for the hub's cell filter (api.md §4.7): instance created/removed: the
// LRP's cell; instance changed: the event's instance key's cell; crashed: the crashed
// instance's cell; group created/removed: the resolved LRP's cell; group changed: the resolved
// before and after LRPs' cells.
std::vector<domain::Event> ComputeActualLrpEvents(const std::vector<models::ActualLRP>& before_rows,
                                                  const std::vector<RowChange>& changes,
                                                  LrpEventMode mode, const std::string& trace_id);

// Upstream's ActualLRP equality: same fields and values, where an absent key, instance key,
// net info or modification tag equals an empty one.
bool SameActualLrp(const models::ActualLRP& a, const models::ActualLRP& b);

}  // namespace bbs::domain
