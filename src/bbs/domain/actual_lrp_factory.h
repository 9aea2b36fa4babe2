#pragma once

#include <cstdint>
#include <string>

#include "models/actual_lrp.pb.h"

namespace bbs::domain {

// State strings of an ActualLRP (stored and sent as strings, not an enum).
inline constexpr char kUnclaimed[] = "UNCLAIMED";
inline constexpr char kClaimed[] = "CLAIMED";
inline constexpr char kRunning[] = "RUNNING";
inline constexpr char kCrashed[] = "CRASHED";

// A new ORDINARY UNCLAIMED instance row (behavior.md §1.3 "CreateUnclaimed"): empty instance
// key and net info, since = now, modification tag (epoch, 0), routable explicitly false.
models::ActualLRP NewUnclaimedActualLrp(const std::string& process_guid, int32_t index,
                                        const std::string& domain, int64_t now,
                                        const std::string& epoch);

// Makes sure the sub-messages upstream always writes (ActualLRP fields 1, 2, 3, 9) are present
// and that `routable` is set, so encodings match upstream byte for byte.
void NormalizeActualLrp(models::ActualLRP* lrp);

}  // namespace bbs::domain
