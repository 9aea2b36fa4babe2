#pragma once

#include <string>

#include "bbs/base/status.h"
#include "bbs/state/write_context.h"
#include "models/desired_lrp.pb.h"

namespace bbs::state {

// The desired LRP writes (behavior.md §4): each creates, scales or removes the actual LRPs of
// its process in the same change, then asks for auctions and rep stops/updates. Thread-safe.
class DesiredLrps {
 public:
  explicit DesiredLrps(WriteContext ctx) : ctx_(std::move(ctx)) {}

  // REQUIRES: `lrp` passed validation.
  Status DesireLrp(const models::DesiredLRP& lrp, const std::string& trace_id);
  // REQUIRES: `update` passed validation.
  Status UpdateDesiredLrp(const std::string& process_guid, const models::DesiredLRPUpdate& update,
                          const std::string& trace_id);
  Status RemoveDesiredLrp(const std::string& process_guid, const std::string& trace_id);

 private:
  WriteContext ctx_;
};

}  // namespace bbs::state
