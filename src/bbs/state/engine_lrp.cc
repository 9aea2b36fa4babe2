// The ActualLRP lifecycle operations of the state engine (behavior.md §1, §3): snapshot the rows
// of one (process_guid, index) under its process lock, let the pure domain function decide,
// commit, then do the outbound work (auction requests, rep calls) without holding any lock.

#include <algorithm>

#include "bbs/clients/auctioneer.h"
#include "bbs/clients/reps.h"
#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/events.h"
#include "bbs/domain/lrp_event_calc.h"
#include "bbs/state/engine.h"
#include "bbs/state/start_requests.h"

namespace bbs::state {

void Engine::SetPeers(clients::Auctioneer* auctioneer, clients::Reps* reps,
                      cells::CellDirectory* cells) {
  auctioneer_ = auctioneer;
  reps_ = reps;
  cells_ = cells;
}

Engine::LrpSnapshot Engine::SnapshotLrp(const std::string& process_guid, int32_t index) const {
  LrpSnapshot snap;
  std::shared_lock lock(state_mu_);
  auto it = processes_.find(process_guid);
  if (it == processes_.end()) return snap;
  snap.desired = it->second.desired;
  auto ait = it->second.actuals.find(index);
  if (ait != it->second.actuals.end()) {
    snap.ordinary = ait->second.by_presence[models::ActualLRP::ORDINARY];
    snap.evacuating = ait->second.by_presence[models::ActualLRP::EVACUATING];
    snap.suspect = ait->second.by_presence[models::ActualLRP::SUSPECT];
  }
  for (const auto& [i, slots] : it->second.actuals) {
    const auto& o = slots.by_presence[models::ActualLRP::ORDINARY];
    if (o && o->state() == domain::kRunning) ++snap.running_ordinary;
  }
  return snap;
}

namespace {

std::vector<models::ActualLRP> RowsOf(const domain::LrpRows& rows) {
  std::vector<models::ActualLRP> out;
  for (const models::ActualLRP* r : {rows.ordinary, rows.evacuating, rows.suspect}) {
    if (r != nullptr) out.push_back(*r);
  }
  return out;
}

}  // namespace

Status Engine::ApplyLrpDecision(const LrpSnapshot& snap, const domain::LrpDecision& d,
                                const std::string& trace_id,
                                std::optional<domain::LrpEventMode> mode) {
  if (d.puts.empty() && d.deletes.empty()) return Status::Ok();
  Change change;
  for (const auto& del : d.deletes) {
    change.mutations.push_back(storage::DeleteActualLrp{
        del.actual_lrp_key().process_guid(), del.actual_lrp_key().index(), del.presence()});
  }
  for (const auto& put : d.puts) change.mutations.push_back(storage::PutActualLrp{put});
  if (!mode) mode = d.crash_events ? domain::LrpEventMode::kCrash : domain::LrpEventMode::kStandard;
  change.events =
      domain::ComputeActualLrpEvents(RowsOf(snap.rows()), d.event_changes, *mode, trace_id);
  Status s = Commit(std::move(change));
  if (!s.ok()) return s;
  if (d.request_auction && !d.puts.empty()) {
    RequestAuction(snap.desired, {d.puts.back().actual_lrp_key().index()}, "");
  }
  return Status::Ok();
}

void Engine::RequestAuction(const DesiredLrpPtr& desired, std::vector<int32_t> indices,
                            const std::string& trace_id) {
  if (auctioneer_ == nullptr || desired == nullptr || indices.empty()) return;
  auto req = LrpStartRequestOf(*desired, std::move(indices));
  auctioneer_->RequestLrpAuctions({std::move(req)}, trace_id);
}

void Engine::StopInstancesAsync(const std::vector<models::ActualLRP>& lrps,
                                const std::string& trace_id) {
  if (reps_ == nullptr || cells_ == nullptr) return;
  for (const auto& lrp : lrps) {
    auto presence = cells_->Lookup(lrp.actual_lrp_instance_key().cell_id());
    if (!presence.ok()) {
      logger_.Error("stop-instance-cell-lookup-failed", presence.status().ToString(),
                    {{"cell_id", lrp.actual_lrp_instance_key().cell_id()}});
      continue;
    }
    reps_->StopLrpInstanceAsync(presence->rep_url(), lrp.actual_lrp_key().process_guid(),
                                lrp.actual_lrp_instance_key().instance_guid(), trace_id);
  }
}

Status Engine::ClaimActualLrp(const std::string& process_guid, int32_t index,
                              const models::ActualLRPInstanceKey& instance_key) {
  auto lock = LockProcess(process_guid);
  LrpSnapshot snap = SnapshotLrp(process_guid, index);
  auto d = domain::Claim(snap.rows(), instance_key, clock_->NowNanos());
  if (!d.status.ok()) return d.status;
  return ApplyLrpDecision(snap, d, "");
}

Status Engine::StartActualLrp(const domain::StartParams& params) {
  const std::string& guid = params.key.process_guid();
  // The rep's periodic heartbeat: answer from memory, without the process lock, when nothing
  // would change (design.md §3). A concurrent write is ordered after this read.
  {
    LrpSnapshot snap = SnapshotLrp(guid, params.key.index());
    auto d = domain::Start(snap.rows(), params, clock_->NowNanos(), "");
    if (d.status.ok() && d.puts.empty() && d.deletes.empty()) return Status::Ok();
  }
  auto lock = LockProcess(guid);
  LrpSnapshot snap = SnapshotLrp(guid, params.key.index());
  auto d = domain::Start(snap.rows(), params, clock_->NowNanos(), guids_->NewGuid());
  if (!d.status.ok()) return d.status;
  return ApplyLrpDecision(snap, d, "");
}

Status Engine::CrashActualLrp(const models::ActualLRPKey& key,
                              const models::ActualLRPInstanceKey& instance_key,
                              const std::string& error_message) {
  auto lock = LockProcess(key.process_guid());
  LrpSnapshot snap = SnapshotLrp(key.process_guid(), key.index());
  auto d = domain::Crash(snap.rows(), key, instance_key, error_message, clock_->NowNanos());
  if (!d.status.ok()) return d.status;
  return ApplyLrpDecision(snap, d, "");
}

Status Engine::FailActualLrp(const models::ActualLRPKey& key, const std::string& error_message) {
  auto lock = LockProcess(key.process_guid());
  LrpSnapshot snap = SnapshotLrp(key.process_guid(), key.index());
  auto d = domain::Fail(snap.rows(), error_message, clock_->NowNanos());
  if (!d.status.ok()) return d.status;
  return ApplyLrpDecision(snap, d, "");
}

Status Engine::RemoveActualLrp(const std::string& process_guid, int32_t index,
                               const models::ActualLRPInstanceKey* instance_key) {
  auto lock = LockProcess(process_guid);
  LrpSnapshot snap = SnapshotLrp(process_guid, index);
  auto d = domain::Remove(snap.rows(), instance_key);
  if (!d.status.ok()) return d.status;
  return ApplyLrpDecision(snap, d, "");
}

Status Engine::RetireActualLrp(const models::ActualLRPKey& key, const std::string& trace_id) {
  constexpr int kAttempts = 5;
  domain::RetireDecision r;
  {
    auto lock = LockProcess(key.process_guid());
    LrpSnapshot snap = SnapshotLrp(key.process_guid(), key.index());
    r = domain::Retire(snap.rows());
    if (!r.status.ok()) return r.status;
    if (!r.needs_rep_stop) {
      auto d = domain::Remove(snap.rows(), nullptr);
      return ApplyLrpDecision(snap, d, trace_id);
    }
  }
  // CLAIMED/RUNNING: the cell's rep stops the instance and then removes the row itself.
  const std::string& cell_id = r.row->actual_lrp_instance_key().cell_id();
  Status last = Status::Ok();
  bool announced = false;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto presence = cells_ ? cells_->Lookup(cell_id) : Result<models::CellPresence>(NotFound());
    if (!presence.ok()) {
      if (presence.status().code() != ErrorCode::kResourceNotFound) return presence.status();
      // The cell is gone: delete the row directly.
      auto lock = LockProcess(key.process_guid());
      LrpSnapshot snap = SnapshotLrp(key.process_guid(), key.index());
      if (snap.ordinary == nullptr) return Status::Ok();
      domain::LrpDecision d;
      d.deletes.push_back(*snap.ordinary);
      d.event_changes.push_back({*snap.ordinary, std::nullopt});
      return ApplyLrpDecision(snap, d, trace_id);
    }
    if (!announced) {
      // Upstream emits the removal before the rep has removed the row.
      publisher_->Publish({domain::ActualLrpInstanceRemovedEvent(*r.row, trace_id)});
      announced = true;
    }
    if (reps_ == nullptr) return UnknownError("no rep client configured");
    last = reps_->StopLrpInstance(presence->rep_url(), key.process_guid(),
                                  r.row->actual_lrp_instance_key().instance_guid(), trace_id);
    if (last.ok()) return last;
    logger_.Error("retire-stop-failed", last.ToString(), {{"attempt", attempt + 1}});
  }
  return last;
}

Engine::EvacuationResult Engine::EvacuateClaimedActualLrp(
    const models::ActualLRPKey& key, const models::ActualLRPInstanceKey& instance_key) {
  auto lock = LockProcess(key.process_guid());
  LrpSnapshot snap = SnapshotLrp(key.process_guid(), key.index());
  auto d = domain::EvacuateClaimed(snap.rows(), instance_key, clock_->NowNanos());
  if (!d.status.ok()) return {d.status, d.keep_container};
  Status s = ApplyLrpDecision(snap, d, "");
  return {s, s.ok() ? d.keep_container : true};
}

Engine::EvacuationResult Engine::EvacuateCrashedActualLrp(
    const models::ActualLRPKey& key, const models::ActualLRPInstanceKey& instance_key,
    const std::string& error_message) {
  auto lock = LockProcess(key.process_guid());
  LrpSnapshot snap = SnapshotLrp(key.process_guid(), key.index());
  auto d =
      domain::EvacuateCrashed(snap.rows(), key, instance_key, error_message, clock_->NowNanos());
  if (!d.status.ok()) return {d.status, false};
  return {ApplyLrpDecision(snap, d, ""), false};
}

Engine::EvacuationResult Engine::EvacuateStoppedActualLrp(
    const models::ActualLRPKey& key, const models::ActualLRPInstanceKey& instance_key) {
  auto lock = LockProcess(key.process_guid());
  LrpSnapshot snap = SnapshotLrp(key.process_guid(), key.index());
  auto d = domain::EvacuateStopped(snap.rows(), instance_key);
  if (!d.status.ok()) return {d.status, false};
  return {ApplyLrpDecision(snap, d, ""), false};
}

Engine::EvacuationResult Engine::EvacuateRunningActualLrp(const domain::StartParams& params) {
  auto lock = LockProcess(params.key.process_guid());
  LrpSnapshot snap = SnapshotLrp(params.key.process_guid(), params.key.index());
  domain::DesiredInfo desired;
  if (snap.desired) {
    desired.exists = true;
    desired.update_strategy = snap.desired->update_strategy();
    desired.instances = snap.desired->scheduling_info().instances();
    desired.running_ordinary = snap.running_ordinary;
  }
  auto d =
      domain::EvacuateRunning(snap.rows(), params, desired, clock_->NowNanos(), guids_->NewGuid());
  if (!d.status.ok()) return {d.status, true};
  Status s = ApplyLrpDecision(snap, d, "");
  return {s, s.ok() ? d.keep_container : true};
}

Status Engine::RemoveEvacuatingActualLrp(const models::ActualLRPKey& key,
                                         const models::ActualLRPInstanceKey& instance_key) {
  auto lock = LockProcess(key.process_guid());
  LrpSnapshot snap = SnapshotLrp(key.process_guid(), key.index());
  auto d = domain::RemoveEvacuating(snap.rows(), instance_key);
  if (!d.status.ok()) return d.status;
  return ApplyLrpDecision(snap, d, "");
}

}  // namespace bbs::state
