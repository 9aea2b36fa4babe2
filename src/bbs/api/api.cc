#include "bbs/api/api.h"

#include <utility>

#include "bbs/api/encoding.h"
#include "bbs/domain/desired_lrp_ops.h"
#include "bbs/models/conversion.h"
#include "bbs/models/models.h"
#include "bbs/models/validation.h"

namespace bbs::api {
namespace {

// Decodes `body` into `req` and validates it; on failure returns the error response.
template <typename Req>
bool Decode(const Call& call, Req* req, Status* error) {
  if (!req->ParseFromString(call.body)) {
    *error = InvalidRequest();
    return false;
  }
  *error = model::Validate(*req);
  return error->ok();
}

// Decodes a request that has no validation rules.
template <typename Req>
bool DecodeOnly(const Call& call, Req* req, Status* error) {
  if (!req->ParseFromString(call.body)) {
    *error = InvalidRequest();
    return false;
  }
  return true;
}

std::string Encode(const google::protobuf::MessageLite& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

// The full DesiredLRP of `record` as route format `format` wants it (api.md §3.4).
Result<models::DesiredLRP> ConvertForRoute(const records::DesiredLRPRecord& record, int format) {
  auto lrp = domain::DesiredLrpFromRecord(record);
  if (!lrp.ok()) return lrp.status();
  if (format == 2) {
    model::ConvertDesiredLrpImageLayers(&*lrp);
  } else if (format == 0) {
    *lrp = model::DesiredLrpDownTo(*lrp, model::FormatVersion::kV0);
  }
  model::FixUpMetricsGuid(&*lrp);
  return lrp;
}

// 2015 clients sent timeouts only in their deprecated fields; carry them into the current ones.
void UpgradeV0Timeouts(models::Action* action) {
  if (action == nullptr) return;
  if (action->has_timeout_action()) {
    auto* t = action->mutable_timeout_action();
    if (t->timeout_ms() == 0 && t->deprecated_timeout_ns() != 0) {
      t->set_timeout_ms(t->deprecated_timeout_ns() / 1'000'000);
    }
    if (t->has_action()) UpgradeV0Timeouts(t->mutable_action());
  }
  if (action->has_emit_progress_action() && action->emit_progress_action().has_action()) {
    UpgradeV0Timeouts(action->mutable_emit_progress_action()->mutable_action());
  }
  if (action->has_try_action() && action->try_action().has_action()) {
    UpgradeV0Timeouts(action->mutable_try_action()->mutable_action());
  }
  for (auto& a : *action->mutable_parallel_action()->mutable_actions()) UpgradeV0Timeouts(&a);
  for (auto& a : *action->mutable_serial_action()->mutable_actions()) UpgradeV0Timeouts(&a);
  for (auto& a : *action->mutable_codependent_action()->mutable_actions()) UpgradeV0Timeouts(&a);
}

void UpgradeV0DesiredLrp(models::DesiredLRP* lrp) {
  if (lrp->start_timeout_ms() == 0 && lrp->deprecated_start_timeout_s() != 0) {
    lrp->set_start_timeout_ms(static_cast<int64_t>(lrp->deprecated_start_timeout_s()) * 1000);
  }
  if (lrp->has_setup()) UpgradeV0Timeouts(lrp->mutable_setup());
  if (lrp->has_action()) UpgradeV0Timeouts(lrp->mutable_action());
  if (lrp->has_monitor()) UpgradeV0Timeouts(lrp->mutable_monitor());
}

}  // namespace

Api::Api(state::Engine* engine, Logger logger) : engine_(engine), logger_(std::move(logger)) {}

std::vector<Route> Api::Routes() {
  std::vector<Route> routes;
  auto unary = [&](const char* method, const char* path, const char* name, UnaryHandler h) {
    routes.push_back(Route{method, path, name, RouteKind::kUnary, std::move(h)});
  };
  auto todo = [&](const char* method, const char* path, const char* name) {
    std::string n = name;
    unary(method, path, name, [this, n](const Call&) { return NotImplemented(n); });
  };
  auto stream = [&](const char* method, const char* path, const char* name) {
    routes.push_back(Route{method, path, name, RouteKind::kEventStream, nullptr});
  };
  auto bind = [this](std::string (Api::*fn)(const Call&)) {
    return [this, fn](const Call& c) { return (this->*fn)(c); };
  };

  // api.md §3.1, in table order.
  unary("POST", "/v1/ping", "Ping", bind(&Api::Ping));
  unary("POST", "/v1/domains/list", "Domains", bind(&Api::Domains));
  unary("POST", "/v1/domains/upsert", "UpsertDomain", bind(&Api::UpsertDomain));
  unary("POST", "/v1/actual_lrps/list", "ActualLRPs", bind(&Api::ActualLrps));
  unary("POST", "/v1/actual_lrps/list_by_process_guids", "ActualLRPsByProcessGuids",
        bind(&Api::ActualLrpsByProcessGuids));
  unary("POST", "/v1/actual_lrp_groups/list", "ActualLRPGroups", bind(&Api::ActualLrpGroups));
  unary("POST", "/v1/actual_lrp_groups/list_by_process_guid", "ActualLRPGroupsByProcessGuid",
        bind(&Api::ActualLrpGroupsByProcessGuid));
  unary("POST", "/v1/actual_lrp_groups/get_by_process_guid_and_index",
        "ActualLRPGroupsByProcessGuidAndIndex", bind(&Api::ActualLrpGroupByProcessGuidAndIndex));
  todo("POST", "/v1/actual_lrps/claim", "ClaimActualLRP");
  todo("POST", "/v1/actual_lrps/start.r1", "StartActualLRP");
  todo("POST", "/v1/actual_lrps/start", "StartActualLRP_r0");
  todo("POST", "/v1/actual_lrps/crash", "CrashActualLRP");
  todo("POST", "/v1/actual_lrps/fail", "FailActualLRP");
  todo("POST", "/v1/actual_lrps/remove", "RemoveActualLRP");
  todo("POST", "/v1/actual_lrps/retire", "RetireActualLRP");
  todo("POST", "/v1/actual_lrps/remove_evacuating", "RemoveEvacuatingActualLRP");
  todo("POST", "/v1/actual_lrps/evacuate_claimed", "EvacuateClaimedActualLRP");
  todo("POST", "/v1/actual_lrps/evacuate_crashed", "EvacuateCrashedActualLRP");
  todo("POST", "/v1/actual_lrps/evacuate_stopped", "EvacuateStoppedActualLRP");
  todo("POST", "/v1/actual_lrps/evacuate_running.r1", "EvacuateRunningActualLRP");
  todo("POST", "/v1/actual_lrps/evacuate_running", "EvacuateRunningActualLRP_r0");
  unary("POST", "/v1/desired_lrp_scheduling_infos/list", "DesiredLRPSchedulingInfos",
        bind(&Api::SchedulingInfos));
  unary("POST", "/v1/desired_lrp_scheduling_infos/get_by_process_guid",
        "DesiredLRPSchedulingInfoByProcessGuid", bind(&Api::SchedulingInfoByProcessGuid));
  unary("POST", "/v1/desired_lrp_routing_infos/list", "DesiredLRPRoutingInfos",
        bind(&Api::RoutingInfos));
  unary("POST", "/v1/desired_lrps/list.r3", "DesiredLRPs",
        [this](const Call& c) { return DesiredLrps(c, 3); });
  unary("POST", "/v1/desired_lrps/get_by_process_guid.r3", "DesiredLRPByProcessGuid",
        [this](const Call& c) { return DesiredLrpByProcessGuid(c, 3); });
  unary("POST", "/v1/desired_lrps/list.r2", "DesiredLRPs_r2",
        [this](const Call& c) { return DesiredLrps(c, 2); });
  unary("POST", "/v1/desired_lrps/get_by_process_guid.r2", "DesiredLRPByProcessGuid_r2",
        [this](const Call& c) { return DesiredLrpByProcessGuid(c, 2); });
  unary("POST", "/v1/desired_lrp/desire.r2", "DesireDesiredLRP",
        [this](const Call& c) { return DesireLrp(c, false); });
  unary("POST", "/v1/desired_lrp/update", "UpdateDesireLRP", bind(&Api::UpdateDesiredLrp));
  unary("POST", "/v1/desired_lrp/remove", "RemoveDesiredLRP", bind(&Api::RemoveDesiredLrp));
  todo("POST", "/v1/tasks/list.r3", "Tasks");
  todo("POST", "/v1/tasks/get_by_task_guid.r3", "TaskByGuid");
  todo("POST", "/v1/tasks/list.r2", "Tasks_r2");
  todo("POST", "/v1/tasks/get_by_task_guid.r2", "TaskByGuid_r2");
  todo("POST", "/v1/tasks/desire.r2", "DesireTask");
  todo("POST", "/v1/tasks/start", "StartTask");
  todo("POST", "/v1/tasks/cancel", "CancelTask");
  todo("POST", "/v1/tasks/fail", "FailTask");
  todo("POST", "/v1/tasks/reject", "RejectTask");
  todo("POST", "/v1/tasks/complete", "CompleteTask");
  todo("POST", "/v1/tasks/resolving", "ResolvingTask");
  todo("POST", "/v1/tasks/delete", "DeleteTask");
  stream("GET", "/v1/events.r1", "EventStream");
  stream("POST", "/v1/events/tasks.r1", "TaskEventStream");
  stream("POST", "/v1/events/lrp_instances.r1", "LRPInstanceEventStream");
  stream("GET", "/v1/events", "EventStream_r0");
  stream("POST", "/v1/events/tasks", "TaskEventStream_r0");
  stream("POST", "/v1/events/lrp_instances", "LrpInstanceEventStream_r0");
  unary("POST", "/v1/cells/list.r1", "Cells", bind(&Api::Cells));

  // The seed's 2015 routes that upstream has since removed (api.md §11.2), served with their
  // closest current meaning.
  unary("POST", "/v1/desired_lrps/list", "DesiredLRPs_r0",
        [this](const Call& c) { return DesiredLrps(c, 0); });
  unary("POST", "/v1/desired_lrps/get_by_process_guid", "DesiredLRPByProcessGuid_r0",
        [this](const Call& c) { return DesiredLrpByProcessGuid(c, 0); });
  unary("POST", "/v1/desired_lrp/desire", "DesireDesiredLRP_r0",
        [this](const Call& c) { return DesireLrp(c, true); });
  todo("POST", "/v1/lrps/converge", "ConvergeLRPs");
  todo("POST", "/v1/tasks/list", "Tasks_r0");
  todo("GET", "/v1/tasks/get_by_task_guid", "TaskByGuid_r0");
  todo("POST", "/v1/tasks/desire", "DesireTask_r0");
  todo("POST", "/v1/tasks/converge", "ConvergeTasks");
  return routes;
}

std::string Api::NotImplemented(const std::string& route_name) {
  return ErrorResponse(UnknownError(route_name + " is not implemented in this version of bbs"));
}

// --- ping, domains, cells ---

std::string Api::Ping(const Call&) {
  models::PingResponse resp;
  resp.set_available(true);
  return Encode(resp);
}

std::string Api::Domains(const Call&) {
  models::DomainsResponse resp;
  for (auto& d : engine_->FreshDomains()) resp.add_domains(std::move(d));
  return Encode(resp);
}

std::string Api::UpsertDomain(const Call& call) {
  models::UpsertDomainRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->UpsertDomain(req.domain(), req.ttl()));
}

std::string Api::Cells(const Call&) {
  // No cell registry yet: no cell is known to be present.
  return std::string();
}

// --- actual LRP reads ---

std::string Api::ActualLrps(const Call& call) {
  models::ActualLRPsRequest req;
  Status error;
  if (!DecodeOnly(call, &req, &error)) return ErrorResponse(error);
  state::ActualLrpFilter filter{req.domain(), req.cell_id(), req.process_guid(), std::nullopt};
  if (req.has_index()) filter.index = req.index();
  std::string out;
  for (const auto& lrp : engine_->ActualLrps(filter)) AppendMessageField(&out, 2, *lrp);
  return out;
}

std::string Api::ActualLrpsByProcessGuids(const Call& call) {
  models::ActualLRPsByProcessGuidsRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  std::vector<std::string> guids(req.process_guids().begin(), req.process_guids().end());
  std::string out;
  for (const auto& lrp : engine_->ActualLrpsByProcessGuids(guids)) {
    AppendMessageField(&out, 2, *lrp);
  }
  return out;
}

namespace {

std::string EncodeGroups(const std::vector<state::ActualLrpPtr>& lrps) {
  std::vector<const models::ActualLRP*> raw;
  raw.reserve(lrps.size());
  for (const auto& p : lrps) raw.push_back(p.get());
  std::string out;
  for (const auto& group : model::GroupActualLrps(raw)) AppendMessageField(&out, 2, group);
  return out;
}

}  // namespace

std::string Api::ActualLrpGroups(const Call& call) {
  models::ActualLRPGroupsRequest req;
  Status error;
  if (!DecodeOnly(call, &req, &error)) return ErrorResponse(error);
  return EncodeGroups(engine_->ActualLrps({req.domain(), req.cell_id(), "", std::nullopt}));
}

std::string Api::ActualLrpGroupsByProcessGuid(const Call& call) {
  models::ActualLRPGroupsByProcessGuidRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return EncodeGroups(engine_->ActualLrps({"", "", req.process_guid(), std::nullopt}));
}

std::string Api::ActualLrpGroupByProcessGuidAndIndex(const Call& call) {
  models::ActualLRPGroupByProcessGuidAndIndexRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  auto lrps = engine_->ActualLrps({"", "", req.process_guid(), req.index()});
  if (lrps.empty()) return ErrorResponse(NotFound());
  std::vector<const models::ActualLRP*> raw;
  for (const auto& p : lrps) raw.push_back(p.get());
  auto groups = model::GroupActualLrps(raw);
  models::ActualLRPGroupResponse resp;
  if (!groups.empty()) *resp.mutable_actual_lrp_group() = std::move(groups.front());
  return Encode(resp);
}

// --- desired LRPs ---

std::string Api::DesiredLrps(const Call& call, int format) {
  models::DesiredLRPsRequest req;
  Status error;
  if (!DecodeOnly(call, &req, &error)) return ErrorResponse(error);
  state::DesiredLrpFilter filter;
  filter.domain = req.domain();
  filter.process_guids.assign(req.process_guids().begin(), req.process_guids().end());
  filter.app_guids.assign(req.app_guids().begin(), req.app_guids().end());
  std::string out;
  for (const auto& record : engine_->DesiredLrps(filter)) {
    auto lrp = ConvertForRoute(*record, format);
    if (!lrp.ok()) {
      logger_.Error("desired-lrp-undecodable", lrp.status().ToString(),
                    {{"process_guid", record->scheduling_info().desired_lrp_key().process_guid()}});
      continue;
    }
    AppendMessageField(&out, 2, *lrp);
  }
  return out;
}

std::string Api::DesiredLrpByProcessGuid(const Call& call, int format) {
  models::DesiredLRPByProcessGuidRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  auto record = engine_->DesiredLrp(req.process_guid());
  if (!record) return ErrorResponse(NotFound());
  auto lrp = ConvertForRoute(*record, format);
  if (!lrp.ok()) return ErrorResponse(lrp.status());
  std::string out;
  AppendMessageField(&out, 2, *lrp);
  return out;
}

std::string Api::SchedulingInfos(const Call& call) {
  models::DesiredLRPsRequest req;
  Status error;
  if (!DecodeOnly(call, &req, &error)) return ErrorResponse(error);
  state::DesiredLrpFilter filter;
  filter.domain = req.domain();
  filter.process_guids.assign(req.process_guids().begin(), req.process_guids().end());
  std::string out;
  for (const auto& record : engine_->DesiredLrps(filter)) {
    AppendMessageField(&out, 2, record->scheduling_info());
  }
  return out;
}

std::string Api::SchedulingInfoByProcessGuid(const Call& call) {
  models::DesiredLRPByProcessGuidRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  auto record = engine_->DesiredLrp(req.process_guid());
  if (!record) return ErrorResponse(NotFound());
  std::string out;
  AppendMessageField(&out, 2, record->scheduling_info());
  return out;
}

std::string Api::RoutingInfos(const Call& call) {
  models::DesiredLRPsRequest req;
  Status error;
  if (!DecodeOnly(call, &req, &error)) return ErrorResponse(error);
  state::DesiredLrpFilter filter;  // upstream honours only process_guids here
  filter.process_guids.assign(req.process_guids().begin(), req.process_guids().end());
  std::string out;
  for (const auto& record : engine_->DesiredLrps(filter)) {
    AppendMessageField(&out, 2,
                       model::RoutingInfo(record->scheduling_info(), record->metric_tags()));
  }
  return out;
}

std::string Api::DesireLrp(const Call& call, bool seed) {
  models::DesireLRPRequest req;
  if (!req.ParseFromString(call.body)) return ErrorResponse(InvalidRequest());
  if (seed && req.has_desired_lrp()) UpgradeV0DesiredLrp(req.mutable_desired_lrp());
  Status error = model::Validate(req);
  if (!error.ok()) return ErrorResponse(error);
  return ErrorResponse(engine_->DesireLrp(req.desired_lrp(), call.trace_id));
}

std::string Api::UpdateDesiredLrp(const Call& call) {
  models::UpdateDesiredLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->UpdateDesiredLrp(req.process_guid(), req.update(), call.trace_id));
}

std::string Api::RemoveDesiredLrp(const Call& call) {
  models::RemoveDesiredLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->RemoveDesiredLrp(req.process_guid(), call.trace_id));
}

}  // namespace bbs::api
