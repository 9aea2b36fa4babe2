#pragma once

#include <cstdint>
#include <vector>

#include "bbs/clients/auctioneer.h"
#include "models/task.pb.h"
#include "records/records.pb.h"

namespace bbs::state {

// The auctioneer's start request for `indices` of a desired LRP (outbound.md §3.3).
clients::LrpStartRequest LrpStartRequestOf(const records::DesiredLRPRecord& desired,
                                           std::vector<int32_t> indices);

// The auctioneer's start request for a task (outbound.md §3.4).
clients::TaskStartRequest TaskStartRequestOf(const models::Task& task);

}  // namespace bbs::state
