#include "bbs/state/desired_lrps.h"

#include <algorithm>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bbs/domain/desired_lrp_ops.h"
#include "bbs/domain/events.h"

namespace bbs::state {
namespace {

// The creation of `lrps` (new UNCLAIMED rows), with their events; returns their indices.
std::vector<int32_t> AppendCreations(std::vector<models::ActualLRP> lrps,
                                     const std::string& trace_id, Change* change) {
  std::vector<int32_t> indices;
  for (auto& actual : lrps) {
    auto events = domain::ComputeActualLrpEvents({}, {{std::nullopt, actual}},
                                                 domain::LrpEventMode::kStandard, trace_id);
    change->events.insert(change->events.end(), events.begin(), events.end());
    indices.push_back(actual.actual_lrp_key().index());
    change->mutations.push_back(storage::PutActualLrp{std::move(actual)});
  }
  return indices;
}

}  // namespace

Result<DesiredLrps::Desire> DesiredLrps::DecideDesire(const models::DesiredLRP& lrp,
                                                      const std::string& trace_id) {
  const std::string& guid = lrp.process_guid();
  if (ctx_.model->DesiredLrp(guid)) return Exists();
  std::set<int32_t> existing_ordinary = ctx_.model->OrdinaryIndices(guid);
  int64_t now = ctx_.clock->NowNanos();
  auto record = domain::NewDesiredLrpRecord(lrp, now, ctx_.guids->NewGuid());
  if (!record.ok()) return record.status();
  auto full = domain::DesiredLrpFromRecord(*record);
  if (!full.ok()) return full.status();

  Desire d;
  d.change.events.push_back(domain::DesiredLrpCreatedEvent(*full, trace_id));
  d.created = AppendCreations(domain::NewInstances(*record, 0, existing_ordinary, now,
                                                   [this] { return ctx_.guids->NewGuid(); }),
                              trace_id, &d.change);
  d.desired = std::make_shared<const records::DesiredLRPRecord>(*record);
  d.change.mutations.insert(d.change.mutations.begin(), storage::PutDesiredLrp{std::move(*record)});
  return d;
}

Status DesiredLrps::DesireLrp(const models::DesiredLRP& lrp, const std::string& trace_id) {
  auto key_lock = ctx_.locks->Lock(lrp.process_guid());
  auto d = DecideDesire(lrp, trace_id);
  if (!d.ok()) return d.status();
  Status s = ctx_.committer->Commit(std::move(d->change));
  key_lock.unlock();
  if (s.ok()) ctx_.outbound->RequestLrpAuction(d->desired, std::move(d->created), trace_id);
  return s;
}

bool DesiredLrps::TryDesireLrp(const models::DesiredLRP& lrp, const std::string& trace_id,
                               Done done) {
  KeyLocks::Held lock = ctx_.locks->TryLock(lrp.process_guid());
  if (!lock) return false;
  auto d = DecideDesire(lrp, trace_id);
  if (!d.ok()) {
    lock.unlock();
    done(d.status());
    return true;
  }
  // The lock travels with the change and is released on the committer thread once memory
  // shows the write; then the auction is queued (the auctioneer client only enqueues) and the
  // answer goes out, in DesireLrp's order.
  auto held = std::make_shared<KeyLocks::Held>(std::move(lock));
  ctx_.committer->SubmitAsync(
      std::move(d->change),
      [this, held = std::move(held), desired = std::move(d->desired),
       created = std::move(d->created), trace_id, done = std::move(done)](Status s) mutable {
        held->unlock();
        if (s.ok()) ctx_.outbound->RequestLrpAuction(desired, std::move(created), trace_id);
        done(std::move(s));
      });
  return true;
}

Status DesiredLrps::AddRunInfo(const std::string& process_guid,
                               records::DesiredLRPRecord* record) const {
  const std::string guids[] = {process_guid};
  auto read = store_->ReadRunInfos(guids);
  if (!read.ok()) return UnknownError(read.status().message());
  if (read->empty()) return NotFound();
  if (!(*read)[0].run_info.has_value()) return Status::Error(ErrorCode::kDeserialize);
  record->set_run_info(std::move(*(*read)[0].run_info));
  return Status::Ok();
}

Result<DesiredLrpPtr> DesiredLrps::ReadDesiredLrp(const std::string& process_guid) const {
  DesiredLrpPtr without = ctx_.model->DesiredLrp(process_guid);
  if (!without) return NotFound();
  auto record = std::make_shared<records::DesiredLRPRecord>(*without);
  if (Status s = AddRunInfo(process_guid, record.get()); !s.ok()) return s;
  return DesiredLrpPtr(std::move(record));
}

Status DesiredLrps::ForEachDesiredLrp(
    const DesiredLrpFilter& filter,
    const std::function<void(const records::DesiredLRPRecord&, const std::string&)>& fn) const {
  // Run infos read per store call: bounds the run infos held at once (~0.7 KB each).
  constexpr size_t kChunk = 1024;
  std::vector<DesiredLrpPtr> records = ctx_.model->DesiredLrps(filter);
  std::vector<std::string> guids;
  std::unordered_map<std::string_view, std::string*> by_guid;
  for (size_t begin = 0; begin < records.size(); begin += kChunk) {
    size_t end = std::min(records.size(), begin + kChunk);
    guids.clear();
    for (size_t i = begin; i < end; ++i) {
      guids.push_back(records[i]->scheduling_info().desired_lrp_key().process_guid());
    }
    auto read = store_->ReadRunInfos(guids);
    if (!read.ok()) return UnknownError(read.status().message());
    by_guid.clear();
    for (auto& stored : *read) {
      if (stored.run_info.has_value()) by_guid[stored.process_guid] = &*stored.run_info;
    }
    for (size_t i = begin; i < end; ++i) {
      auto it = by_guid.find(guids[i - begin]);
      if (it != by_guid.end()) fn(*records[i], *it->second);
      records[i].reset();  // done with it
    }
  }
  return Status::Ok();
}

Status DesiredLrps::UpdateDesiredLrp(const std::string& process_guid,
                                     const models::DesiredLRPUpdate& update,
                                     const std::string& trace_id) {
  auto key_lock = ctx_.locks->Lock(process_guid);
  ProcessSnapshot process = ctx_.model->SnapshotProcess(process_guid);
  if (!process.desired) return NotFound();
  records::DesiredLRPRecord before = *process.desired;
  if (Status s = AddRunInfo(process_guid, &before); !s.ok()) return s;
  auto after = domain::ApplyDesiredLrpUpdate(before, update);
  if (!after.ok()) return after.status();
  auto before_full = domain::DesiredLrpFromRecord(before);
  if (!before_full.ok()) return before_full.status();
  auto after_full = domain::DesiredLrpFromRecord(*after);
  if (!after_full.ok()) return after_full.status();

  Change change;
  std::vector<int32_t> created;
  std::vector<models::ActualLRP> to_stop;
  int32_t old_count = before.scheduling_info().instances();
  int32_t new_count = after->scheduling_info().instances();
  if (update.has_instances() && new_count > old_count) {
    std::set<int32_t> existing;
    for (const auto& a : process.actuals) {
      if (a->presence() == models::ActualLRP::ORDINARY)
        existing.insert(a->actual_lrp_key().index());
    }
    created =
        AppendCreations(domain::NewInstances(*after, old_count, existing, ctx_.clock->NowNanos(),
                                             [this] { return ctx_.guids->NewGuid(); }),
                        trace_id, &change);
  } else if (update.has_instances() && new_count < old_count) {
    auto plan = domain::PlanStopInstances(process.RawActuals(), new_count);
    AppendLrpDeletions(plan.to_delete, trace_id, &change);
    to_stop = std::move(plan.to_stop);
  }
  change.events.push_back(domain::DesiredLrpChangedEvent(*before_full, *after_full, trace_id));
  auto desired = std::make_shared<const records::DesiredLRPRecord>(*after);
  change.mutations.insert(change.mutations.begin(), storage::PutDesiredLrp{std::move(*after)});
  Status s = ctx_.committer->Commit(std::move(change));
  key_lock.unlock();
  if (!s.ok()) return s;
  ctx_.outbound->RequestLrpAuction(desired, std::move(created), trace_id);
  ctx_.outbound->StopInstancesAsync(to_stop, trace_id);
  ctx_.outbound->UpdateInstancesAsync(before, update, process.actuals, trace_id);
  return s;
}

Status DesiredLrps::RemoveDesiredLrp(const std::string& process_guid, const std::string& trace_id) {
  auto key_lock = ctx_.locks->Lock(process_guid);
  ProcessSnapshot process = ctx_.model->SnapshotProcess(process_guid);
  if (!process.desired) return NotFound();
  records::DesiredLRPRecord before = *process.desired;
  Status read = AddRunInfo(process_guid, &before);
  if (!read.ok() && read.code() == ErrorCode::kUnknownError) return read;  // store unreadable
  Change change;
  change.mutations.push_back(storage::DeleteDesiredLrp{process_guid});
  auto before_full = domain::DesiredLrpFromRecord(before);
  if (read.ok() && before_full.ok()) {
    change.events.push_back(domain::DesiredLrpRemovedEvent(*before_full, trace_id));
  }
  auto plan = domain::PlanStopInstances(process.RawActuals(), 0);
  AppendLrpDeletions(plan.to_delete, trace_id, &change);
  Status s = ctx_.committer->Commit(std::move(change));
  key_lock.unlock();
  if (s.ok()) ctx_.outbound->StopInstancesAsync(plan.to_stop, trace_id);
  return s;
}

}  // namespace bbs::state
