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
  unary("POST", "/v1/actual_lrps/claim", "ClaimActualLRP", bind(&Api::ClaimActualLrp));
  unary("POST", "/v1/actual_lrps/start.r1", "StartActualLRP",
        [this](const Call& c) { return StartActualLrp(c, true); });
  unary("POST", "/v1/actual_lrps/start", "StartActualLRP_r0",
        [this](const Call& c) { return StartActualLrp(c, false); });
  unary("POST", "/v1/actual_lrps/crash", "CrashActualLRP", bind(&Api::CrashActualLrp));
  unary("POST", "/v1/actual_lrps/fail", "FailActualLRP", bind(&Api::FailActualLrp));
  unary("POST", "/v1/actual_lrps/remove", "RemoveActualLRP", bind(&Api::RemoveActualLrp));
  unary("POST", "/v1/actual_lrps/retire", "RetireActualLRP", bind(&Api::RetireActualLrp));
  unary("POST", "/v1/actual_lrps/remove_evacuating", "RemoveEvacuatingActualLRP",
        bind(&Api::RemoveEvacuatingActualLrp));
  unary("POST", "/v1/actual_lrps/evacuate_claimed", "EvacuateClaimedActualLRP",
        bind(&Api::EvacuateClaimedActualLrp));
  unary("POST", "/v1/actual_lrps/evacuate_crashed", "EvacuateCrashedActualLRP",
        bind(&Api::EvacuateCrashedActualLrp));
  unary("POST", "/v1/actual_lrps/evacuate_stopped", "EvacuateStoppedActualLRP",
        bind(&Api::EvacuateStoppedActualLrp));
  unary("POST", "/v1/actual_lrps/evacuate_running.r1", "EvacuateRunningActualLRP",
        [this](const Call& c) { return EvacuateRunningActualLrp(c, true); });
  unary("POST", "/v1/actual_lrps/evacuate_running", "EvacuateRunningActualLRP_r0",
        [this](const Call& c) { return EvacuateRunningActualLrp(c, false); });
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
  unary("POST", "/v1/tasks/list.r3", "Tasks", [this](const Call& c) { return Tasks(c, 3); });
  unary("POST", "/v1/tasks/get_by_task_guid.r3", "TaskByGuid",
        [this](const Call& c) { return TaskByGuid(c, 3); });
  unary("POST", "/v1/tasks/list.r2", "Tasks_r2", [this](const Call& c) { return Tasks(c, 2); });
  unary("POST", "/v1/tasks/get_by_task_guid.r2", "TaskByGuid_r2",
        [this](const Call& c) { return TaskByGuid(c, 2); });
  unary("POST", "/v1/tasks/desire.r2", "DesireTask", bind(&Api::DesireTask));
  unary("POST", "/v1/tasks/start", "StartTask", bind(&Api::StartTask));
  unary("POST", "/v1/tasks/cancel", "CancelTask", bind(&Api::CancelTask));
  unary("POST", "/v1/tasks/fail", "FailTask", bind(&Api::FailTask));
  unary("POST", "/v1/tasks/reject", "RejectTask", bind(&Api::RejectTask));
  unary("POST", "/v1/tasks/complete", "CompleteTask", bind(&Api::CompleteTask));
  unary("POST", "/v1/tasks/resolving", "ResolvingTask", bind(&Api::ResolvingTask));
  unary("POST", "/v1/tasks/delete", "DeleteTask", bind(&Api::DeleteTask));
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
  unary("POST", "/v1/lrps/converge", "ConvergeLRPs", [this](const Call&) {
    if (!converge_lrps_) return NotImplemented("ConvergeLRPs");
    return ErrorResponse(converge_lrps_());
  });
  unary("POST", "/v1/tasks/list", "Tasks_r0", [this](const Call& c) { return Tasks(c, 0); });
  unary("GET", "/v1/tasks/get_by_task_guid", "TaskByGuid_r0",
        [this](const Call& c) { return TaskByGuid(c, 0); });
  unary("POST", "/v1/tasks/desire", "DesireTask_r0", bind(&Api::DesireTask));
  unary("POST", "/v1/tasks/converge", "ConvergeTasks", [this](const Call&) {
    if (!converge_tasks_) return NotImplemented("ConvergeTasks");
    return ErrorResponse(converge_tasks_());
  });
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
  for (auto& d : engine_->domains().FreshDomains()) resp.add_domains(std::move(d));
  return Encode(resp);
}

std::string Api::UpsertDomain(const Call& call) {
  models::UpsertDomainRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->domains().UpsertDomain(req.domain(), req.ttl()));
}

std::string Api::Cells(const Call&) {
  if (!cells_source_) return std::string();
  auto cells = cells_source_();
  if (!cells.ok()) return ErrorResponse(UnknownError(cells.status().message()));
  std::string out;
  for (const auto& cell : *cells) AppendMessageField(&out, 2, cell);
  return out;
}

// --- actual LRP reads ---

std::string Api::ActualLrps(const Call& call) {
  models::ActualLRPsRequest req;
  Status error;
  if (!DecodeOnly(call, &req, &error)) return ErrorResponse(error);
  state::ActualLrpFilter filter{req.domain(), req.cell_id(), req.process_guid(), std::nullopt};
  if (req.has_index()) filter.index = req.index();
  std::string out;
  for (const auto& lrp : engine_->model().ActualLrps(filter)) AppendMessageField(&out, 2, *lrp);
  return out;
}

std::string Api::ActualLrpsByProcessGuids(const Call& call) {
  models::ActualLRPsByProcessGuidsRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  std::vector<std::string> guids(req.process_guids().begin(), req.process_guids().end());
  std::string out;
  for (const auto& lrp : engine_->model().ActualLrpsByProcessGuids(guids)) {
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
  return EncodeGroups(engine_->model().ActualLrps({req.domain(), req.cell_id(), "", std::nullopt}));
}

std::string Api::ActualLrpGroupsByProcessGuid(const Call& call) {
  models::ActualLRPGroupsByProcessGuidRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return EncodeGroups(engine_->model().ActualLrps({"", "", req.process_guid(), std::nullopt}));
}

std::string Api::ActualLrpGroupByProcessGuidAndIndex(const Call& call) {
  models::ActualLRPGroupByProcessGuidAndIndexRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  auto lrps = engine_->model().ActualLrps({"", "", req.process_guid(), req.index()});
  if (lrps.empty()) return ErrorResponse(NotFound());
  std::vector<const models::ActualLRP*> raw;
  for (const auto& p : lrps) raw.push_back(p.get());
  auto groups = model::GroupActualLrps(raw);
  models::ActualLRPGroupResponse resp;
  if (!groups.empty()) *resp.mutable_actual_lrp_group() = std::move(groups.front());
  return Encode(resp);
}

// --- actual LRP lifecycle ---

namespace {

// Start/evacuate-running parameters; r0 routes drop internal routes and metric tags.
template <typename Req>
domain::StartParams StartParamsOf(const Req& req, bool r1) {
  domain::StartParams p;
  p.key = req.actual_lrp_key();
  p.instance_key = req.actual_lrp_instance_key();
  p.net_info = req.actual_lrp_net_info();
  if (r1) {
    p.internal_routes.assign(req.actual_lrp_internal_routes().begin(),
                             req.actual_lrp_internal_routes().end());
    for (const auto& [k, v] : req.metric_tags()) p.metric_tags[k] = v;
  }
  p.routable = req.has_routable() ? req.routable() : true;
  p.availability_zone = req.availability_zone();
  return p;
}

std::string EvacuationResponse(const Status& status, bool keep_container) {
  models::EvacuationResponse resp;
  if (!status.ok()) {
    resp.mutable_error()->set_type(static_cast<models::Error::Type>(status.code()));
    resp.mutable_error()->set_message(status.message());
  }
  resp.set_keep_container(keep_container);
  return Encode(resp);
}

}  // namespace

std::string Api::ClaimActualLrp(const Call& call) {
  models::ClaimActualLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->actual_lrps().ClaimActualLrp(req.process_guid(), req.index(),
                                                             req.actual_lrp_instance_key()));
}

std::string Api::StartActualLrp(const Call& call, bool r1) {
  models::StartActualLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->actual_lrps().StartActualLrp(StartParamsOf(req, r1)));
}

std::string Api::CrashActualLrp(const Call& call) {
  models::CrashActualLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->actual_lrps().CrashActualLrp(
      req.actual_lrp_key(), req.actual_lrp_instance_key(), req.error_message()));
}

std::string Api::FailActualLrp(const Call& call) {
  models::FailActualLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(
      engine_->actual_lrps().FailActualLrp(req.actual_lrp_key(), req.error_message()));
}

std::string Api::RemoveActualLrp(const Call& call) {
  models::RemoveActualLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->actual_lrps().RemoveActualLrp(
      req.process_guid(), req.index(),
      req.has_actual_lrp_instance_key() ? &req.actual_lrp_instance_key() : nullptr));
}

std::string Api::RetireActualLrp(const Call& call) {
  models::RetireActualLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->actual_lrps().RetireActualLrp(req.actual_lrp_key(), call.trace_id));
}

std::string Api::RemoveEvacuatingActualLrp(const Call& call) {
  models::RemoveEvacuatingActualLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->actual_lrps().RemoveEvacuatingActualLrp(
      req.actual_lrp_key(), req.actual_lrp_instance_key()));
}

std::string Api::EvacuateClaimedActualLrp(const Call& call) {
  models::EvacuateClaimedActualLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return EvacuationResponse(error, true);
  auto r = engine_->actual_lrps().EvacuateClaimedActualLrp(req.actual_lrp_key(),
                                                           req.actual_lrp_instance_key());
  return EvacuationResponse(r.status, r.keep_container);
}

std::string Api::EvacuateCrashedActualLrp(const Call& call) {
  models::EvacuateCrashedActualLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return EvacuationResponse(error, false);
  auto r = engine_->actual_lrps().EvacuateCrashedActualLrp(
      req.actual_lrp_key(), req.actual_lrp_instance_key(), req.error_message());
  return EvacuationResponse(r.status, false);
}

std::string Api::EvacuateStoppedActualLrp(const Call& call) {
  models::EvacuateStoppedActualLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return EvacuationResponse(error, false);
  auto r = engine_->actual_lrps().EvacuateStoppedActualLrp(req.actual_lrp_key(),
                                                           req.actual_lrp_instance_key());
  return EvacuationResponse(r.status, false);
}

std::string Api::EvacuateRunningActualLrp(const Call& call, bool r1) {
  models::EvacuateRunningActualLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return EvacuationResponse(error, true);
  auto r = engine_->actual_lrps().EvacuateRunningActualLrp(StartParamsOf(req, r1));
  return EvacuationResponse(r.status, r.keep_container);
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
  for (const auto& record : engine_->model().DesiredLrps(filter)) {
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
  auto record = engine_->model().DesiredLrp(req.process_guid());
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
  for (const auto& record : engine_->model().DesiredLrps(filter)) {
    AppendMessageField(&out, 2, record->scheduling_info());
  }
  return out;
}

std::string Api::SchedulingInfoByProcessGuid(const Call& call) {
  models::DesiredLRPByProcessGuidRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  auto record = engine_->model().DesiredLrp(req.process_guid());
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
  for (const auto& record : engine_->model().DesiredLrps(filter)) {
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
  return ErrorResponse(engine_->desired_lrps().DesireLrp(req.desired_lrp(), call.trace_id));
}

std::string Api::UpdateDesiredLrp(const Call& call) {
  models::UpdateDesiredLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(
      engine_->desired_lrps().UpdateDesiredLrp(req.process_guid(), req.update(), call.trace_id));
}

std::string Api::RemoveDesiredLrp(const Call& call) {
  models::RemoveDesiredLRPRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->desired_lrps().RemoveDesiredLrp(req.process_guid(), call.trace_id));
}

// --- tasks ---

namespace {

models::Task TaskForRoute(const models::Task& task, int format) {
  if (format >= 3) return task;
  return model::TaskDownTo(task, model::FormatVersion::kV2);
}

}  // namespace

std::string Api::Tasks(const Call& call, int format) {
  models::TasksRequest req;
  Status error;
  if (!DecodeOnly(call, &req, &error)) return ErrorResponse(error);
  std::string out;
  for (const auto& task : engine_->model().Tasks(req.domain(), req.cell_id())) {
    if (format >= 3) {
      AppendMessageField(&out, 2, *task);
    } else {
      AppendMessageField(&out, 2, TaskForRoute(*task, format));
    }
  }
  return out;
}

std::string Api::TaskByGuid(const Call& call, int format) {
  models::TaskByGuidRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  auto task = engine_->model().Task(req.task_guid());
  if (!task) return ErrorResponse(NotFound());
  std::string out;
  AppendMessageField(&out, 2, TaskForRoute(*task, format));
  return out;
}

std::string Api::DesireTask(const Call& call) {
  models::DesireTaskRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(
      engine_->tasks().DesireTask(req.task_guid(), req.domain(), req.task_definition()));
}

std::string Api::StartTask(const Call& call) {
  models::StartTaskRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  auto started = engine_->tasks().StartTask(req.task_guid(), req.cell_id());
  if (!started.ok()) return ErrorResponse(started.status());
  models::StartTaskResponse resp;
  resp.set_should_start(*started);
  return Encode(resp);
}

std::string Api::CancelTask(const Call& call) {
  models::TaskGuidRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->tasks().CancelTask(req.task_guid(), call.trace_id));
}

std::string Api::FailTask(const Call& call) {
  models::FailTaskRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->tasks().FailTask(req.task_guid(), req.failure_reason()));
}

std::string Api::RejectTask(const Call& call) {
  models::RejectTaskRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->tasks().RejectTask(req.task_guid(), req.rejection_reason()));
}

std::string Api::CompleteTask(const Call& call) {
  models::CompleteTaskRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->tasks().CompleteTask(req.task_guid(), req.cell_id(), req.failed(),
                                                     req.failure_reason(), req.result()));
}

std::string Api::ResolvingTask(const Call& call) {
  models::TaskGuidRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->tasks().ResolvingTask(req.task_guid()));
}

std::string Api::DeleteTask(const Call& call) {
  models::TaskGuidRequest req;
  Status error;
  if (!Decode(call, &req, &error)) return ErrorResponse(error);
  return ErrorResponse(engine_->tasks().DeleteTask(req.task_guid()));
}

}  // namespace bbs::api
