#include "bbs/state/actual_lrps.h"

#include <memory>

#include "bbs/domain/events.h"

namespace bbs::state {
namespace {

models::ActualLRPKey KeyOf(const std::string& process_guid, int32_t index) {
  models::ActualLRPKey key;
  key.set_process_guid(process_guid);
  key.set_index(index);
  return key;
}

}  // namespace

Status ActualLrps::Apply(const LrpSnapshot& snap, domain::LrpDecision&& d,
                         const std::string& trace_id) {
  if (d.puts.empty() && d.deletes.empty()) return Status::Ok();
  const bool auction = d.request_auction && !d.puts.empty();
  const int32_t auction_index = auction ? d.puts.back().actual_lrp_key().index() : 0;
  Status s = ctx_.committer->Commit(LrpChangeOf(snap, std::move(d), trace_id));
  if (!s.ok()) return s;
  if (auction) ctx_.outbound->RequestLrpAuction(snap.desired, {auction_index}, "");
  return Status::Ok();
}

template <typename DecideFn>
Status ActualLrps::Decide(const models::ActualLRPKey& key, DecideFn decide) {
  auto lock = ctx_.locks->Lock(key.process_guid());
  LrpSnapshot snap = ctx_.model->SnapshotLrp(key.process_guid(), key.index());
  domain::LrpDecision d = decide(snap.rows());
  if (!d.status.ok()) return d.status;
  return Apply(snap, std::move(d), "");
}

template <typename DecideFn>
bool ActualLrps::TryDecide(const std::string& process_guid, int32_t index, DecideFn decide,
                           Done& done) {
  KeyLocks::Held lock = ctx_.locks->TryLock(process_guid);
  if (!lock) return false;
  LrpSnapshot snap = ctx_.model->SnapshotLrp(process_guid, index);
  domain::LrpDecision d = decide(snap.rows());
  if (!d.status.ok() || (d.puts.empty() && d.deletes.empty())) {
    lock.unlock();
    done(d.status);
    return true;
  }
  if (d.request_auction) return false;  // outbound work: the blocking variant does it
  // The lock travels with the change and is released on the committer thread once memory shows
  // the write, before the answer.
  auto held = std::make_shared<KeyLocks::Held>(std::move(lock));
  ctx_.committer->SubmitAsync(LrpChangeOf(snap, std::move(d), ""),
                              [held = std::move(held), done = std::move(done)](Status s) {
                                held->unlock();
                                done(std::move(s));
                              });
  return true;
}

bool ActualLrps::TryClaimActualLrp(const std::string& process_guid, int32_t index,
                                   const models::ActualLRPInstanceKey& instance_key, Done done) {
  return TryDecide(
      process_guid, index,
      [&](const domain::LrpRows& rows) {
        return domain::Claim(rows, instance_key, ctx_.clock->NowNanos());
      },
      done);
}

bool ActualLrps::TryStartActualLrp(const domain::StartParams& params, Done done) {
  return TryDecide(
      params.key.process_guid(), params.key.index(),
      [&](const domain::LrpRows& rows) {
        return domain::Start(rows, params, ctx_.clock->NowNanos(), ctx_.guids->NewGuid());
      },
      done);
}

Status ActualLrps::ClaimActualLrp(const std::string& process_guid, int32_t index,
                                  const models::ActualLRPInstanceKey& instance_key) {
  return Decide(KeyOf(process_guid, index), [&](const domain::LrpRows& rows) {
    return domain::Claim(rows, instance_key, ctx_.clock->NowNanos());
  });
}

bool ActualLrps::StartChangesNothing(const domain::StartParams& params) const {
  const int64_t now = ctx_.clock->NowNanos();
  return ctx_.model->WithLrpRows(params.key.process_guid(), params.key.index(),
                                 [&](const domain::LrpRows& rows) {
                                   auto d = domain::Start(rows, params, now, "");
                                   return d.status.ok() && d.puts.empty() && d.deletes.empty();
                                 });
}

Status ActualLrps::StartActualLrp(const domain::StartParams& params) {
  // The rep's periodic heartbeat: answer from memory, without the process lock, when nothing
  // would change (design.md §3). A concurrent write is ordered after this read.
  if (StartChangesNothing(params)) return Status::Ok();
  return Decide(params.key, [&](const domain::LrpRows& rows) {
    return domain::Start(rows, params, ctx_.clock->NowNanos(), ctx_.guids->NewGuid());
  });
}

Status ActualLrps::CrashActualLrp(const models::ActualLRPKey& key,
                                  const models::ActualLRPInstanceKey& instance_key,
                                  const std::string& error_message) {
  return Decide(key, [&](const domain::LrpRows& rows) {
    return domain::Crash(rows, key, instance_key, error_message, ctx_.clock->NowNanos());
  });
}

Status ActualLrps::FailActualLrp(const models::ActualLRPKey& key,
                                 const std::string& error_message) {
  return Decide(key, [&](const domain::LrpRows& rows) {
    return domain::Fail(rows, error_message, ctx_.clock->NowNanos());
  });
}

Status ActualLrps::RemoveActualLrp(const std::string& process_guid, int32_t index,
                                   const models::ActualLRPInstanceKey* instance_key) {
  return Decide(KeyOf(process_guid, index),
                [&](const domain::LrpRows& rows) { return domain::Remove(rows, instance_key); });
}

Status ActualLrps::RemoveEvacuatingActualLrp(const models::ActualLRPKey& key,
                                             const models::ActualLRPInstanceKey& instance_key) {
  return Decide(key, [&](const domain::LrpRows& rows) {
    return domain::RemoveEvacuating(rows, instance_key);
  });
}

Status ActualLrps::RetireActualLrp(const models::ActualLRPKey& key, const std::string& trace_id) {
  constexpr int kAttempts = 5;
  domain::RetireDecision r;
  {
    auto lock = ctx_.locks->Lock(key.process_guid());
    LrpSnapshot snap = ctx_.model->SnapshotLrp(key.process_guid(), key.index());
    r = domain::Retire(snap.rows());
    if (!r.status.ok()) return r.status;
    if (!r.needs_rep_stop) return Apply(snap, domain::Remove(snap.rows(), nullptr), trace_id);
  }
  // CLAIMED/RUNNING: the cell's rep stops the instance and then removes the row itself.
  const std::string& cell_id = r.row->actual_lrp_instance_key().cell_id();
  Status last = Status::Ok();
  bool announced = false;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto presence = ctx_.outbound->LookupCell(cell_id);
    if (!presence.ok()) {
      if (presence.status().code() != ErrorCode::kResourceNotFound) return presence.status();
      // The cell is gone: delete the row directly.
      auto lock = ctx_.locks->Lock(key.process_guid());
      LrpSnapshot snap = ctx_.model->SnapshotLrp(key.process_guid(), key.index());
      if (snap.ordinary == nullptr) return Status::Ok();
      domain::LrpDecision d;
      d.deletes.push_back(*snap.ordinary);
      d.event_changes.push_back({*snap.ordinary, std::nullopt});
      return Apply(snap, std::move(d), trace_id);
    }
    if (!announced) {
      // Upstream emits the removal before the rep has removed the row.
      Change removal;
      removal.events.push_back(domain::ActualLrpInstanceRemovedEvent(*r.row, trace_id));
      (void)ctx_.committer->Commit(std::move(removal));
      announced = true;
    }
    if (!ctx_.outbound->has_reps()) return UnknownError("no rep client configured");
    last = ctx_.outbound->StopInstance(presence->rep_url(), key.process_guid(),
                                       r.row->actual_lrp_instance_key().instance_guid(), trace_id);
    if (last.ok()) return last;
    ctx_.logger.Error("retire-stop-failed", last.ToString(), {{"attempt", attempt + 1}});
  }
  return last;
}

ActualLrps::EvacuationResult ActualLrps::EvacuateClaimedActualLrp(
    const models::ActualLRPKey& key, const models::ActualLRPInstanceKey& instance_key) {
  auto lock = ctx_.locks->Lock(key.process_guid());
  LrpSnapshot snap = ctx_.model->SnapshotLrp(key.process_guid(), key.index());
  auto d = domain::EvacuateClaimed(snap.rows(), instance_key, ctx_.clock->NowNanos());
  if (!d.status.ok()) return {d.status, d.keep_container};
  const bool keep_container = d.keep_container;
  Status s = Apply(snap, std::move(d), "");
  return {s, s.ok() ? keep_container : true};
}

ActualLrps::EvacuationResult ActualLrps::EvacuateCrashedActualLrp(
    const models::ActualLRPKey& key, const models::ActualLRPInstanceKey& instance_key,
    const std::string& error_message) {
  return {Decide(key,
                 [&](const domain::LrpRows& rows) {
                   return domain::EvacuateCrashed(rows, key, instance_key, error_message,
                                                  ctx_.clock->NowNanos());
                 }),
          false};
}

ActualLrps::EvacuationResult ActualLrps::EvacuateStoppedActualLrp(
    const models::ActualLRPKey& key, const models::ActualLRPInstanceKey& instance_key) {
  return {Decide(key,
                 [&](const domain::LrpRows& rows) {
                   return domain::EvacuateStopped(rows, instance_key);
                 }),
          false};
}

ActualLrps::EvacuationResult ActualLrps::EvacuateRunningActualLrp(
    const domain::StartParams& params) {
  auto lock = ctx_.locks->Lock(params.key.process_guid());
  LrpSnapshot snap = ctx_.model->SnapshotLrp(params.key.process_guid(), params.key.index());
  domain::DesiredInfo desired;
  if (snap.desired) {
    desired.exists = true;
    desired.update_strategy = snap.desired->update_strategy();
    desired.instances = snap.desired->scheduling_info().instances();
    desired.running_ordinary = snap.running_ordinary;
  }
  auto d = domain::EvacuateRunning(snap.rows(), params, desired, ctx_.clock->NowNanos(),
                                   ctx_.guids->NewGuid());
  if (!d.status.ok()) return {d.status, true};
  const bool keep_container = d.keep_container;
  Status s = Apply(snap, std::move(d), "");
  return {s, s.ok() ? keep_container : true};
}

}  // namespace bbs::state
