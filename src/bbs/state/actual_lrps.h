#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "bbs/base/status.h"
#include "bbs/domain/actual_lrp_lifecycle.h"
#include "bbs/state/write_context.h"
#include "models/actual_lrp.pb.h"

namespace bbs::state {

// The ActualLRP lifecycle writes (behavior.md §1, §3): snapshot the rows of one
// (process_guid, index) under its process lock, let domain/actual_lrp_lifecycle decide, commit,
// then do the outbound work (auction requests, rep calls) without holding any lock.
// Thread-safe.
class ActualLrps {
 public:
  explicit ActualLrps(WriteContext ctx) : ctx_(std::move(ctx)) {}

  struct EvacuationResult {
    Status status;
    bool keep_container = false;
  };
  Status ClaimActualLrp(const std::string& process_guid, int32_t index,
                        const models::ActualLRPInstanceKey& instance_key);
  Status StartActualLrp(const domain::StartParams& params);
  // Whether StartActualLrp(params) would succeed without writing anything (the rep's periodic
  // heartbeat of a RUNNING instance), read from memory without any lock but the model's shared
  // one: cheap enough to answer on an I/O thread.
  bool StartChangesNothing(const domain::StartParams& params) const;
  // What the non-blocking writes below call with their outcome: at once on the calling thread,
  // or later on the committer thread (so it must not block).
  using Done = std::function<void(Status)>;
  // ClaimActualLrp / StartActualLrp without blocking, for an HTTP I/O thread: when the process's
  // key lock is free, decides at once and answers `done` now (nothing to write, or refused) or
  // once the committer applied the write, which also releases the lock. Returns false, having
  // changed nothing and without calling `done`, when it would block (the lock is held, or the
  // decision asks for outbound work): the caller then runs the blocking variant elsewhere.
  bool TryClaimActualLrp(const std::string& process_guid, int32_t index,
                         const models::ActualLRPInstanceKey& instance_key, Done done);
  bool TryStartActualLrp(const domain::StartParams& params, Done done);
  Status CrashActualLrp(const models::ActualLRPKey& key,
                        const models::ActualLRPInstanceKey& instance_key,
                        const std::string& error_message);
  Status FailActualLrp(const models::ActualLRPKey& key, const std::string& error_message);
  Status RemoveActualLrp(const std::string& process_guid, int32_t index,
                         const models::ActualLRPInstanceKey* instance_key);
  // UNCLAIMED/CRASHED rows are deleted; CLAIMED/RUNNING ones are stopped through their cell's
  // rep (which then removes the row), or deleted when the cell is gone.
  Status RetireActualLrp(const models::ActualLRPKey& key, const std::string& trace_id);
  EvacuationResult EvacuateClaimedActualLrp(const models::ActualLRPKey& key,
                                            const models::ActualLRPInstanceKey& instance_key);
  EvacuationResult EvacuateCrashedActualLrp(const models::ActualLRPKey& key,
                                            const models::ActualLRPInstanceKey& instance_key,
                                            const std::string& error_message);
  EvacuationResult EvacuateStoppedActualLrp(const models::ActualLRPKey& key,
                                            const models::ActualLRPInstanceKey& instance_key);
  EvacuationResult EvacuateRunningActualLrp(const domain::StartParams& params);
  Status RemoveEvacuatingActualLrp(const models::ActualLRPKey& key,
                                   const models::ActualLRPInstanceKey& instance_key);

 private:
  // Commits what `decision` says, then asks for an auction if it wants one. REQUIRES: the
  // process lock is held.
  Status Apply(const LrpSnapshot& snap, domain::LrpDecision&& decision,
               const std::string& trace_id);
  // Locks the process of `key`, snapshots its index, and applies what `decide(rows)` returns.
  template <typename DecideFn>
  Status Decide(const models::ActualLRPKey& key, DecideFn decide);
  // Decide without blocking (see TryClaimActualLrp).
  template <typename DecideFn>
  bool TryDecide(const std::string& process_guid, int32_t index, DecideFn decide, Done& done);

  WriteContext ctx_;
};

}  // namespace bbs::state
