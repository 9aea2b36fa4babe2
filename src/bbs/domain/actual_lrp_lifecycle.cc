#include "bbs/domain/actual_lrp_lifecycle.h"

#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/restart_policy.h"
#include "bbs/models/conversion.h"

namespace bbs::domain {
namespace {

bool InstanceKeyEmpty(const models::ActualLRPInstanceKey& k) {
  return k.instance_guid().empty() && k.cell_id().empty();
}

bool RoutesEqual(const models::ActualLRP& row, const StartParams& p) {
  if (row.actual_lrp_internal_routes_size() != static_cast<int>(p.internal_routes.size())) {
    return false;
  }
  for (size_t i = 0; i < p.internal_routes.size(); ++i) {
    if (row.actual_lrp_internal_routes(static_cast<int>(i)).hostname() !=
        p.internal_routes[i].hostname()) {
      return false;
    }
  }
  return true;
}

bool TagsEqual(const models::ActualLRP& row, const std::map<std::string, std::string>& tags) {
  if (row.metric_tags_size() != static_cast<int>(tags.size())) return false;
  for (const auto& [k, v] : tags) {
    auto it = row.metric_tags().find(k);
    if (it == row.metric_tags().end() || it->second != v) return false;
  }
  return true;
}

void SetRunningFields(models::ActualLRP* lrp, const StartParams& p) {
  *lrp->mutable_actual_lrp_instance_key() = p.instance_key;
  *lrp->mutable_actual_lrp_net_info() = p.net_info;
  lrp->clear_actual_lrp_internal_routes();
  for (const auto& r : p.internal_routes) *lrp->add_actual_lrp_internal_routes() = r;
  lrp->clear_metric_tags();
  for (const auto& [k, v] : p.metric_tags) (*lrp->mutable_metric_tags())[k] = v;
  lrp->set_routable(p.routable);
  lrp->set_availability_zone(p.availability_zone);
}

// A new RUNNING row of `presence` for `key` with the start request's fields, since = now and
// modification tag (epoch, 0).
models::ActualLRP NewRunningRow(const models::ActualLRPKey& key,
                                models::ActualLRP::Presence presence, const StartParams& p,
                                int64_t now, const std::string& epoch) {
  models::ActualLRP row;
  *row.mutable_actual_lrp_key() = key;
  row.set_state(kRunning);
  row.set_presence(presence);
  SetRunningFields(&row, p);
  row.set_since(now);
  row.mutable_modification_tag()->set_epoch(epoch);
  NormalizeActualLrp(&row);
  return row;
}

void BumpTag(models::ActualLRP* lrp) {
  lrp->mutable_modification_tag()->set_index(lrp->modification_tag().index() + 1);
}

// Records `before` -> `after` both as a write and as an instance-event change.
void Update(LrpDecision* d, const models::ActualLRP& before, const models::ActualLRP& after) {
  d->puts.push_back(after);
  d->event_changes.push_back({before, after});
}

void Delete(LrpDecision* d, const models::ActualLRP& row) {
  d->deletes.push_back(row);
  d->event_changes.push_back({row, std::nullopt});
}

void Insert(LrpDecision* d, const models::ActualLRP& row) {
  d->puts.push_back(row);
  d->event_changes.push_back({std::nullopt, row});
}

LrpDecision Fails(Status s, bool keep = false) {
  LrpDecision d;
  d.status = std::move(s);
  d.keep_container = keep;
  return d;
}

models::ActualLRP Unclaimed(const models::ActualLRP& row, int64_t now) {
  models::ActualLRP after = row;
  after.set_state(kUnclaimed);
  after.clear_actual_lrp_instance_key();
  after.clear_actual_lrp_net_info();
  after.set_since(now);
  BumpTag(&after);
  NormalizeActualLrp(&after);
  return after;
}

// The crash transition of an ORDINARY row (behavior.md §1.4.3 step 3), or an error.
Result<models::ActualLRP> Crashed(const models::ActualLRP& row,
                                  const models::ActualLRPInstanceKey& instance_key,
                                  const std::string& message, int64_t now) {
  if (!AllowsTransitionTo(row, row.actual_lrp_key(), instance_key, kCrashed)) {
    return Status::Error(ErrorCode::kActualLrpCannotBeCrashed);
  }
  int32_t count = NextCrashCount(row.state(), row.since(), row.crash_count(), now);
  models::ActualLRP after = row;
  after.set_state(count < kImmediateRestarts ? kUnclaimed : kCrashed);
  after.clear_actual_lrp_instance_key();
  after.clear_actual_lrp_net_info();
  after.set_crash_count(count);
  after.set_crash_reason(wire::Truncate1024(message));
  after.set_since(now);
  BumpTag(&after);
  NormalizeActualLrp(&after);
  return after;
}

// The EVACUATING row made from `source` data (behavior.md §3.4 EvacuateActualLRP), or nullopt
// when an identical evacuating row exists already ("already exists").
std::optional<models::ActualLRP> EvacuatingRow(const LrpRows& rows, const models::ActualLRPKey& key,
                                               const StartParams& p, int64_t now,
                                               const std::string& epoch) {
  const models::ActualLRP* existing = rows.evacuating;
  if (existing == nullptr) {
    return NewRunningRow(key, models::ActualLRP::EVACUATING, p, now, epoch);
  }
  if (ActualLrpKeysEqual(existing->actual_lrp_key(), key) &&
      InstanceKeysEqual(existing->actual_lrp_instance_key(), p.instance_key) &&
      NetInfosEqual(existing->actual_lrp_net_info(), p.net_info)) {
    return std::nullopt;
  }
  models::ActualLRP row = *existing;
  bool routable = row.routable();
  row.mutable_actual_lrp_key()->set_domain(key.domain());
  SetRunningFields(&row, p);
  row.set_routable(routable);  // upstream does not update routable here
  row.set_since(now);
  BumpTag(&row);
  NormalizeActualLrp(&row);
  return row;
}

StartParams ParamsFromRow(const models::ActualLRP& row) {
  StartParams p;
  p.key = row.actual_lrp_key();
  p.instance_key = row.actual_lrp_instance_key();
  p.net_info = row.actual_lrp_net_info();
  for (const auto& r : row.actual_lrp_internal_routes()) p.internal_routes.push_back(r);
  for (const auto& [k, v] : row.metric_tags()) p.metric_tags[k] = v;
  p.routable = row.has_routable() ? row.routable() : true;
  p.availability_zone = row.availability_zone();
  return p;
}

}  // namespace

const models::ActualLRP* LrpRows::WithInstanceKey(const models::ActualLRPInstanceKey& key) const {
  for (const models::ActualLRP* row : {ordinary, evacuating, suspect}) {
    if (row != nullptr && InstanceKeysEqual(row->actual_lrp_instance_key(), key)) return row;
  }
  return nullptr;
}

bool InstanceKeysEqual(const models::ActualLRPInstanceKey& a,
                       const models::ActualLRPInstanceKey& b) {
  return a.instance_guid() == b.instance_guid() && a.cell_id() == b.cell_id();
}

bool ActualLrpKeysEqual(const models::ActualLRPKey& a, const models::ActualLRPKey& b) {
  return a.process_guid() == b.process_guid() && a.index() == b.index() && a.domain() == b.domain();
}

bool NetInfosEqual(const models::ActualLRPNetInfo& a, const models::ActualLRPNetInfo& b) {
  if (a.address() != b.address() || a.instance_address() != b.instance_address() ||
      a.preferred_address() != b.preferred_address() ||
      a.instance_ipv6_address() != b.instance_ipv6_address() || a.ports_size() != b.ports_size()) {
    return false;
  }
  for (int i = 0; i < a.ports_size(); ++i) {
    const auto& x = a.ports(i);
    const auto& y = b.ports(i);
    if (x.container_port() != y.container_port() || x.host_port() != y.host_port() ||
        x.container_tls_proxy_port() != y.container_tls_proxy_port() ||
        x.host_tls_proxy_port() != y.host_tls_proxy_port()) {
      return false;
    }
  }
  return true;
}

bool AllowsTransitionTo(const models::ActualLRP& row, const models::ActualLRPKey& key,
                        const models::ActualLRPInstanceKey& instance_key, const std::string& to) {
  if (!ActualLrpKeysEqual(row.actual_lrp_key(), key)) return false;
  const std::string& from = row.state();
  bool same = InstanceKeysEqual(row.actual_lrp_instance_key(), instance_key);
  bool empty = InstanceKeyEmpty(instance_key);
  if (from == kUnclaimed) return to == kUnclaimed || to == kClaimed || to == kRunning;
  if (from == kClaimed) {
    if (to == kUnclaimed) return empty;
    if (to == kRunning) return true;
    return (to == kClaimed || to == kCrashed) && same;
  }
  if (from == kRunning) {
    if (to == kUnclaimed) return empty;
    return (to == kClaimed || to == kRunning || to == kCrashed) && same;
  }
  if (from == kCrashed) {
    if (to == kUnclaimed) return empty;
    return (to == kClaimed || to == kRunning) && same;
  }
  return false;
}

LrpDecision Claim(const LrpRows& rows, const models::ActualLRPInstanceKey& instance_key,
                  int64_t now) {
  LrpDecision d;
  const models::ActualLRP* target = rows.WithInstanceKey(instance_key);
  if (target != nullptr && target->presence() == models::ActualLRP::SUSPECT) return d;
  if (rows.ordinary == nullptr) return Fails(NotFound());
  const models::ActualLRP& row = *rows.ordinary;
  if (!AllowsTransitionTo(row, row.actual_lrp_key(), instance_key, kClaimed)) {
    return Fails(Status::Error(ErrorCode::kActualLrpCannotBeClaimed));
  }
  if (row.state() == kClaimed && InstanceKeysEqual(row.actual_lrp_instance_key(), instance_key)) {
    return d;
  }
  models::ActualLRP after = row;
  after.set_state(kClaimed);
  *after.mutable_actual_lrp_instance_key() = instance_key;
  after.clear_placement_error();
  after.clear_actual_lrp_net_info();
  after.set_since(now);
  BumpTag(&after);
  NormalizeActualLrp(&after);
  Update(&d, row, after);
  return d;
}

LrpDecision Start(const LrpRows& rows, const StartParams& p, int64_t now,
                  const std::string& epoch) {
  LrpDecision d;
  const models::ActualLRP* target = rows.WithInstanceKey(p.instance_key);
  if (target != nullptr && target->presence() == models::ActualLRP::SUSPECT) return d;
  if (rows.ordinary == nullptr) {
    models::ActualLRP row = NewRunningRow(p.key, models::ActualLRP::ORDINARY, p, now, epoch);
    Insert(&d, row);
  } else {
    const models::ActualLRP& row = *rows.ordinary;
    bool heartbeat = row.state() == kRunning && ActualLrpKeysEqual(row.actual_lrp_key(), p.key) &&
                     InstanceKeysEqual(row.actual_lrp_instance_key(), p.instance_key) &&
                     NetInfosEqual(row.actual_lrp_net_info(), p.net_info) && RoutesEqual(row, p) &&
                     TagsEqual(row, p.metric_tags) && row.has_routable() &&
                     row.routable() == p.routable && row.availability_zone() == p.availability_zone;
    if (!heartbeat) {
      if (!AllowsTransitionTo(row, p.key, p.instance_key, kRunning)) {
        return Fails(Status::Error(ErrorCode::kActualLrpCannotBeStarted));
      }
      models::ActualLRP after = row;
      after.set_state(kRunning);
      SetRunningFields(&after, p);
      after.clear_placement_error();
      after.set_since(now);
      BumpTag(&after);
      NormalizeActualLrp(&after);
      Update(&d, row, after);
    }
  }
  if (rows.evacuating != nullptr) Delete(&d, *rows.evacuating);
  if (rows.suspect != nullptr) Delete(&d, *rows.suspect);
  return d;
}

LrpDecision Crash(const LrpRows& rows, const models::ActualLRPKey& key,
                  const models::ActualLRPInstanceKey& instance_key, const std::string& message,
                  int64_t now) {
  (void)key;  // upstream checks the stored key, not the request's
  LrpDecision d;
  const models::ActualLRP* target = rows.WithInstanceKey(instance_key);
  if (target != nullptr && target->presence() == models::ActualLRP::SUSPECT) {
    Delete(&d, *target);
    return d;
  }
  if (rows.ordinary == nullptr) return Fails(NotFound());
  auto after = Crashed(*rows.ordinary, instance_key, message, now);
  if (!after.ok()) return Fails(after.status());
  Update(&d, *rows.ordinary, *after);
  d.crash_events = true;
  d.request_auction = after->state() == kUnclaimed;
  return d;
}

LrpDecision Fail(const LrpRows& rows, const std::string& message, int64_t now) {
  LrpDecision d;
  if (rows.ordinary == nullptr) return d;  // upstream quirk: a missing LRP is a success
  const models::ActualLRP& row = *rows.ordinary;
  if (row.state() != kUnclaimed) return Fails(Status::Error(ErrorCode::kActualLrpCannotBeFailed));
  models::ActualLRP after = row;
  after.set_placement_error(wire::Truncate1024(message));
  after.set_since(now);
  BumpTag(&after);
  Update(&d, row, after);
  return d;
}

LrpDecision Remove(const LrpRows& rows, const models::ActualLRPInstanceKey* instance_key) {
  LrpDecision d;
  if (rows.ordinary == nullptr) return Fails(NotFound());
  if (instance_key != nullptr &&
      !InstanceKeysEqual(rows.ordinary->actual_lrp_instance_key(), *instance_key)) {
    return Fails(NotFound());
  }
  Delete(&d, *rows.ordinary);
  return d;
}

LrpDecision Unclaim(const LrpRows& rows, bool is_stale, int64_t now) {
  LrpDecision d;
  if (rows.ordinary == nullptr) return Fails(NotFound());
  const models::ActualLRP& row = *rows.ordinary;
  if (row.state() == kUnclaimed || (is_stale && row.state() == kClaimed)) {
    return Fails(Status::Error(ErrorCode::kActualLrpCannotBeUnclaimed));
  }
  Update(&d, row, Unclaimed(row, now));
  return d;
}

RetireDecision Retire(const LrpRows& rows) {
  RetireDecision d;
  if (rows.ordinary == nullptr) {
    d.status = NotFound();
    return d;
  }
  d.row = *rows.ordinary;
  const std::string& state = rows.ordinary->state();
  d.needs_rep_stop = state == kClaimed || state == kRunning;
  return d;
}

namespace {

// behavior.md §3 "remove-evacuating-or-suspect": 1 = removed, 0 = the ordinary row, -1 = error.
int RemoveEvacuatingOrSuspect(const LrpRows& rows, const models::ActualLRPInstanceKey& ik,
                              LrpDecision* d) {
  const models::ActualLRP* target = rows.WithInstanceKey(ik);
  if (target == nullptr) {
    d->status = NotFound();
    return -1;
  }
  if (target->presence() == models::ActualLRP::EVACUATING ||
      target->presence() == models::ActualLRP::SUSPECT) {
    Delete(d, *target);
    return 1;
  }
  return 0;
}

}  // namespace

LrpDecision EvacuateClaimed(const LrpRows& rows, const models::ActualLRPInstanceKey& instance_key,
                            int64_t now) {
  LrpDecision d;
  if (RemoveEvacuatingOrSuspect(rows, instance_key, &d) != 0) return d;
  LrpDecision u = Unclaim(rows, false, now);
  if (!u.status.ok()) {
    if (u.status.code() == ErrorCode::kResourceNotFound) return d;
    return Fails(u.status, true);
  }
  u.request_auction = true;
  return u;
}

LrpDecision EvacuateCrashed(const LrpRows& rows, const models::ActualLRPKey& key,
                            const models::ActualLRPInstanceKey& instance_key,
                            const std::string& message, int64_t now) {
  (void)key;
  LrpDecision d;
  if (RemoveEvacuatingOrSuspect(rows, instance_key, &d) != 0) return d;
  if (rows.ordinary == nullptr) return Fails(NotFound());
  auto after = Crashed(*rows.ordinary, instance_key, message, now);
  if (!after.ok()) return Fails(after.status());
  Update(&d, *rows.ordinary, *after);
  return d;  // no auction, standard events (behavior.md §3.2)
}

LrpDecision EvacuateStopped(const LrpRows& rows, const models::ActualLRPInstanceKey& instance_key) {
  LrpDecision d;
  if (RemoveEvacuatingOrSuspect(rows, instance_key, &d) != 0) return d;
  return Remove(rows, &instance_key);
}

LrpDecision RemoveEvacuating(const LrpRows& rows,
                             const models::ActualLRPInstanceKey& instance_key) {
  LrpDecision d;
  const models::ActualLRP* target = rows.WithInstanceKey(instance_key);
  if (target == nullptr || target->presence() != models::ActualLRP::EVACUATING) {
    return Fails(NotFound());
  }
  Delete(&d, *target);
  return d;
}

LrpDecision EvacuateRunning(const LrpRows& rows, const StartParams& p, const DesiredInfo& desired,
                            int64_t now, const std::string& epoch) {
  LrpDecision d;
  if (rows.ordinary == nullptr && rows.evacuating == nullptr && rows.suspect == nullptr) return d;
  const models::ActualLRP* target = rows.WithInstanceKey(p.instance_key);
  const models::ActualLRP* ordinary = rows.ordinary;
  bool replaced = ordinary != nullptr &&
                  !InstanceKeysEqual(ordinary->actual_lrp_instance_key(), p.instance_key) &&
                  (ordinary->state() == kRunning || ordinary->state() == kCrashed);
  if (ordinary == nullptr || replaced || !desired.exists) {
    if (target != nullptr && target->presence() == models::ActualLRP::EVACUATING) {
      Delete(&d, *target);
    }
    return d;
  }

  if (desired.update_strategy == 1) {  // RECREATE
    if (target == nullptr) return d;
    if (target->presence() != models::ActualLRP::ORDINARY) {
      Delete(&d, *target);
      return d;
    }
    if (target->state() == kRunning || target->state() == kClaimed) {
      if (desired.running_ordinary < desired.instances) {
        d.keep_container = true;  // one at a time: wait until every instance runs
        return d;
      }
      Update(&d, *target, Unclaimed(*target, now));
      d.request_auction = true;
    }
    return d;
  }

  // ROLLING
  if (target == nullptr || target->presence() == models::ActualLRP::EVACUATING) {
    if (rows.evacuating != nullptr &&
        !InstanceKeysEqual(rows.evacuating->actual_lrp_instance_key(), p.instance_key)) {
      return d;  // already evacuated by a different cell
    }
    auto row = EvacuatingRow(rows, p.key, p, now, epoch);
    d.keep_container = true;
    if (!row) return d;
    if (rows.evacuating != nullptr) {
      Update(&d, *rows.evacuating, *row);
    } else {
      Insert(&d, *row);
    }
    return d;
  }
  if (target->state() == kRunning || target->state() == kClaimed) {
    StartParams stored = ParamsFromRow(*target);
    auto row = EvacuatingRow(rows, target->actual_lrp_key(), stored, now, epoch);
    d.keep_container = true;
    if (row) {
      d.puts.push_back(*row);
      d.event_changes.push_back({*target, *row});
    }
    if (target->presence() == models::ActualLRP::SUSPECT) {
      d.deletes.push_back(*target);
      return d;
    }
    models::ActualLRP unclaimed = Unclaimed(*target, now);
    d.puts.push_back(unclaimed);
    d.event_changes.push_back({std::nullopt, unclaimed});
    d.request_auction = true;
    return d;
  }
  return d;
}

}  // namespace bbs::domain
