#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "bbs/state/write_context.h"
#include "bbs/storage/store.h"
#include "models/desired_lrp.pb.h"

namespace bbs::state {

// The desired LRP writes (behavior.md §4): each creates, scales or removes the actual LRPs of
// its process in the same change, then asks for auctions and rep stops/updates. And the reads of
// whole desired LRPs: the model keeps a desired LRP without its run info (the large part), which
// is read from the store on demand, here. Thread-safe.
class DesiredLrps {
 public:
  // REQUIRES: `store` is the committer's store and outlives this object.
  DesiredLrps(WriteContext ctx, storage::Store* store) : ctx_(std::move(ctx)), store_(store) {}

  // --- reads (the desired LRP routes) ---
  // The desired LRP of `process_guid` with its run info, as the model has it and then the store.
  // NotFound if there is none (or it was removed between the two reads); Deserialize if its
  // stored run info does not decode; UnknownError if the store cannot be read.
  Result<DesiredLrpPtr> ReadDesiredLrp(const std::string& process_guid) const;
  // Calls fn(record, run_info) for every desired LRP matching `filter`, in Model::DesiredLrps
  // order; `record` lacks its run info, `run_info` is its serialised models::DesiredLRPRunInfo.
  // The run infos are read from the store in chunks, after the model read; an LRP removed
  // meanwhile, or whose run info does not decode (logged), is skipped. Fails with UnknownError
  // if the store cannot be read (fn may have been called for earlier chunks).
  Status ForEachDesiredLrp(const DesiredLrpFilter& filter,
                           const std::function<void(const records::DesiredLRPRecord& record,
                                                    const std::string& run_info)>& fn) const;

  // REQUIRES: `lrp` passed validation.
  Status DesireLrp(const models::DesiredLRP& lrp, const std::string& trace_id);
  using Done = std::function<void(Status)>;
  // DesireLrp without blocking: when the process's key lock is free now, decides, hands the
  // change with the lock to the committer and returns true; `done` gets DesireLrp's outcome on
  // the committer thread once memory shows the change (the lock released and the auction
  // requested first), or at once when nothing is written. Returns false, having changed
  // nothing, when the key lock is taken. REQUIRES: as DesireLrp; `done` must not block.
  bool TryDesireLrp(const models::DesiredLRP& lrp, const std::string& trace_id, Done done);
  // REQUIRES: `update` passed validation.
  Status UpdateDesiredLrp(const std::string& process_guid, const models::DesiredLRPUpdate& update,
                          const std::string& trace_id);
  Status RemoveDesiredLrp(const std::string& process_guid, const std::string& trace_id);

 private:
  // A desire decided: the change to commit, the record and the indices to auction.
  struct Desire {
    Change change;
    DesiredLrpPtr desired;
    std::vector<int32_t> created;
  };
  // The change that desires `lrp`: Exists if it is desired already. REQUIRES: the key lock of
  // its process guid.
  Result<Desire> DecideDesire(const models::DesiredLRP& lrp, const std::string& trace_id);

  // Reads the run info of `process_guid` into `record` (under the key lock, so the store and
  // the model agree): the errors of ReadDesiredLrp.
  Status AddRunInfo(const std::string& process_guid, records::DesiredLRPRecord* record) const;

  WriteContext ctx_;
  storage::Store* store_;
};

}  // namespace bbs::state
