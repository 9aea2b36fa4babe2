#include "bbs/api/api.h"

#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "bbs/api/encoding.h"
#include "bbs/api/json_face.h"
#include "bbs/domain/desired_lrp_ops.h"
#include "bbs/events/sse.h"
#include "bbs/metrics/http_instrumentation.h"
#include "bbs/models/conversion.h"
#include "bbs/models/validation.h"

namespace bbs::api {
namespace {

// The handler of a route whose request is `Req`: decodes the body (failure: InvalidRequest),
// runs `prepare` on it, validates it (api.md §7), then answers fn(request, call). Decode and
// validation errors are answered with `on_error` (default: the response's `error` field).
// `validate`, when set, replaces wire::Validate(request).
template <typename Req, typename Fn>
UnaryHandler Unary(Fn fn, std::function<std::string(const Status&)> on_error = ErrorResponse,
                   std::function<void(Req*)> prepare = nullptr,
                   std::function<Status(const Req&)> validate = nullptr) {
  return [fn = std::move(fn), on_error = std::move(on_error), prepare = std::move(prepare),
          validate = std::move(validate)](const Call& call) -> Body {
    Req req;
    bool decoded = call.json ? DecodeJsonRequest(call.body, &req) : req.ParseFromString(call.body);
    if (!decoded) return on_error(InvalidRequest());
    if (prepare) prepare(&req);
    if (Status error = validate ? validate(req) : wire::Validate(req); !error.ok()) {
      return on_error(error);
    }
    return fn(req, call);
  };
}

std::string Encode(const google::protobuf::MessageLite& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

// The full DesiredLRP `lrp` (or its error) as a route of `format` sends it (api.md §3.4).
Result<models::DesiredLRP> ConvertForRoute(Result<models::DesiredLRP> lrp, ModelFormat format) {
  if (!lrp.ok()) return lrp.status();
  if (format == ModelFormat::kR2) {
    wire::ConvertDesiredLrpImageLayers(&*lrp);
  } else if (format == ModelFormat::kSeed) {
    *lrp = wire::DesiredLrpDownTo(*lrp, wire::FormatVersion::kV0);
  }
  wire::FixUpMetricsGuid(&*lrp);
  return lrp;
}

// The same for a stored `record` with its run info.
Result<models::DesiredLRP> ConvertForRoute(const records::DesiredLRPRecord& record,
                                           ModelFormat format) {
  return ConvertForRoute(domain::DesiredLrpFromRecord(record), format);
}

// The same for a record read without its run info and that run info (a serialised
// DesiredLRPRunInfo, read from the store): Deserialize if it does not parse.
Result<models::DesiredLRP> ConvertForRoute(const records::DesiredLRPRecord& record,
                                           const std::string& run_info, ModelFormat format) {
  models::DesiredLRPRunInfo run;
  if (!run.ParseFromString(run_info)) return Status::Error(ErrorCode::kDeserialize);
  return ConvertForRoute(wire::JoinDesiredLrp(record.scheduling_info(), run, record.metric_tags(),
                                              record.update_strategy()),
                         format);
}

// The task as a route of `format` sends it: .r2 and seed routes get image layers converted.
models::Task TaskForRoute(const models::Task& task, ModelFormat format) {
  if (format == ModelFormat::kCurrent) return task;
  return wire::TaskDownTo(task, wire::FormatVersion::kV2);
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

std::string EncodeGroups(const std::vector<state::ActualLrpPtr>& lrps) {
  std::vector<const models::ActualLRP*> raw;
  raw.reserve(lrps.size());
  for (const auto& p : lrps) raw.push_back(p.get());
  std::string out;
  for (const auto& group : wire::GroupActualLrps(raw)) {
    AppendMessageField(&out, models::ActualLRPGroupsResponse::kActualLrpGroupsFieldNumber, group);
  }
  return out;
}

// Start/evacuate-running parameters; r0 routes drop internal routes and metric tags.
// Assigns every field of `*p`, so a reused `*p` keeps its strings' capacity.
template <typename Req>
void AssignStartParams(const Req& req, bool r1, domain::StartParams* p) {
  p->key = req.actual_lrp_key();
  p->instance_key = req.actual_lrp_instance_key();
  p->net_info = req.actual_lrp_net_info();
  p->internal_routes.clear();
  p->metric_tags.clear();
  if (r1) {
    p->internal_routes.assign(req.actual_lrp_internal_routes().begin(),
                              req.actual_lrp_internal_routes().end());
    for (const auto& [k, v] : req.metric_tags()) p->metric_tags[k] = v;
  }
  p->routable = req.has_routable() ? req.routable() : true;
  p->availability_zone = req.availability_zone();
}

template <typename Req>
domain::StartParams StartParamsOf(const Req& req, bool r1) {
  domain::StartParams p;
  AssignStartParams(req, r1, &p);
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

// The answer of an evacuation route when the request does not decode or validate.
std::function<std::string(const Status&)> EvacuationError(bool keep_container) {
  return [keep_container](const Status& s) { return EvacuationResponse(s, keep_container); };
}

state::DesiredLrpFilter FilterOf(const models::DesiredLRPsRequest& req, bool domain_and_apps) {
  state::DesiredLrpFilter filter;
  if (domain_and_apps) filter.domain = req.domain();
  filter.process_guids.assign(req.process_guids().begin(), req.process_guids().end());
  if (domain_and_apps) filter.app_guids.assign(req.app_guids().begin(), req.app_guids().end());
  return filter;
}

http::Response Protobuf(Body body) {
  http::Response r;
  r.status = 200;
  r.content_type = "application/x-protobuf";
  r.body = std::move(body.bytes);
  r.body_source = std::move(body.source);
  return r;
}

// A unary answer: `body` as is, or re-encoded as JSON when the request accepts JSON (a
// streamed body is read whole first).
http::Response Answer(const std::string& route, bool json, Body body) {
  if (!json) return Protobuf(std::move(body));
  auto encoded = ResponseToJson(route, body.TakeString());
  http::Response r;
  r.status = encoded.ok() ? 200 : 500;
  r.content_type = "application/json";
  if (encoded.ok()) r.body = std::move(*encoded);
  return r;
}

// A unary route's name and logger, shared by its handler and its pending answers.
struct RouteInfo {
  std::string route;
  Logger logger;
};

// Answers a unary route's body through its Responder (from any thread).
struct Reply {
  http::Responder respond;
  std::shared_ptr<const RouteInfo> info;
  bool json;

  void operator()(std::string body) const {
    if (info->logger.DebugEnabled()) info->logger.Debug("serving", {{"route", info->route}});
    respond(Answer(info->route, json, std::move(body)));
  }
};

http::Response Failure(int status) {
  http::Response r;
  r.status = status;
  return r;
}

}  // namespace

Api::Api(state::Engine* engine, Logger logger) : engine_(engine), logger_(std::move(logger)) {}

http::Router Api::Router(events::Hub* hub, WorkerPool* pool, metrics::BbsMetrics* metrics,
                         const Clock* clock) {
  http::Router router;
  Logger logger = logger_;
  // router.Add, with the handler recorded on `metrics` when there is one.
  auto bind_route = [&](const char* method, const char* path, const char* name,
                        http::Handler handler) {
    if (metrics != nullptr && clock != nullptr) {
      handler = metrics::InstrumentRoute(metrics, clock, name, std::move(handler));
    }
    router.Add(method, path, name, std::move(handler));
  };
  // Claims, starts and desires are decided on the I/O thread when their key lock is free: a
  // heartbeat that changes nothing is answered at once, from memory; a write goes from the I/O
  // thread to the committer, whose completion releases the key lock and answers (design.md §3),
  // with no worker-pool thread in between. Anything else (the lock taken, outbound work, a decode
  // or validation error, JSON) goes through the pool as every route does. An inline handler answers
  // through its Reply (now, or later from another thread) and returns true, or returns false having
  // changed nothing.
  using InlineHandler = std::function<bool(const Call&, const Reply&)>;
  auto answer_status = [](const Reply& answer) {
    return [answer](Status s) { answer(ErrorResponse(s)); };
  };
  auto inline_start = [engine = engine_, answer_status](bool r1) -> InlineHandler {
    return [engine, r1, answer_status](const Call& call, const Reply& answer) {
      // Reused per I/O thread: parsing and copying into them allocates nothing once warm.
      thread_local models::StartActualLRPRequest req;
      thread_local domain::StartParams params;
      if (call.json || !req.ParseFromString(call.body) || !wire::Validate(req).ok()) {
        return false;
      }
      AssignStartParams(req, r1, &params);
      if (engine->actual_lrps().StartChangesNothing(params)) {
        answer(ErrorResponse(Status::Ok()));
        return true;
      }
      return engine->actual_lrps().TryStartActualLrp(params, answer_status(answer));
    };
  };
  auto inline_claim = [engine = engine_, answer_status](const Call& call, const Reply& answer) {
    thread_local models::ClaimActualLRPRequest req;
    if (call.json || !req.ParseFromString(call.body) || !wire::Validate(req).ok()) return false;
    return engine->actual_lrps().TryClaimActualLrp(
        req.process_guid(), req.index(), req.actual_lrp_instance_key(), answer_status(answer));
  };
  // The current desire route (not the seed one, whose requests are upgraded first).
  auto inline_desire = [engine = engine_, answer_status,
                        max_instances = max_instances_per_desired_lrp_](const Call& call,
                                                                        const Reply& answer) {
    thread_local models::DesireLRPRequest req;
    if (call.json || !req.ParseFromString(call.body) || !wire::Validate(req, max_instances).ok()) {
      return false;
    }
    return engine->desired_lrps().TryDesireLrp(req.desired_lrp(), call.trace_id,
                                               answer_status(answer));
  };
  const std::map<std::string, InlineHandler> inline_routes = {
      {"StartActualLRP", inline_start(true)},
      {"StartActualLRP_r0", inline_start(false)},
      {"ClaimActualLRP", inline_claim},
      {"DesireDesiredLRP", inline_desire}};
  ForEachRoute(
      [&](const char* method, const char* path, const char* name, UnaryHandler handler) {
        auto shared = std::make_shared<UnaryHandler>(std::move(handler));
        std::string route = name;
        auto it = inline_routes.find(route);
        InlineHandler fast = it == inline_routes.end() ? nullptr : it->second;
        bind_route(method, path, name,
                   [pool, shared, route, logger, fast,
                    info = std::make_shared<const RouteInfo>(RouteInfo{route, logger})](
                       http::Request&& req, http::Responder respond) {
                     Call direct{std::move(req.body), std::move(req.request_id),
                                 IsJsonContentType(req.content_type)};
                     bool json = AcceptsJson(req.accept);
                     if (fast) {
                       if (fast(direct, Reply{respond, info, json})) return;
                     }
                     auto call = std::make_shared<Call>(std::move(direct));
                     bool queued = pool->Submit([shared, call, respond, route, logger, json] {
                       if (logger.DebugEnabled()) logger.Debug("serving", {{"route", route}});
                       respond(Answer(route, json, (*shared)(*call)));
                     });
                     if (!queued) respond(Failure(503));
                   });
      },
      [&](const char* method, const char* path, const char* name, events::StreamKind kind) {
        bind_route(method, path, name, StreamHandler(hub, kind));
      });
  return router;
}

http::Handler StreamHandler(events::Hub* hub, events::StreamKind kind) {
  return [hub, kind](http::Request&& request, const http::Responder& respond) {
    std::string cell_id;
    if (events::IsLrpStream(kind)) {
      models::EventsByCellId filter;
      if (!filter.ParseFromString(request.body)) {
        respond(Failure(500));
        return;
      }
      cell_id = filter.cell_id();
    }
    std::shared_ptr<http::Stream> stream =
        hub->Subscribe(kind, std::move(cell_id), request.last_event_id);
    if (!stream) {
      respond(Failure(500));
      return;
    }
    respond(events::EventStreamResponse(std::move(stream)));
  };
}

void Api::ForEachRoute(
    const std::function<void(const char*, const char*, const char*, UnaryHandler)>& unary,
    const std::function<void(const char*, const char*, const char*, events::StreamKind)>& stream) {
  using Kind = events::StreamKind;
  using Format = ModelFormat;
  state::Engine* engine = engine_;

  // --- ping, domains ---
  unary("POST", "/v1/ping", "Ping", [](const Call&) {
    models::PingResponse resp;
    resp.set_available(true);
    return Encode(resp);
  });
  unary("POST", "/v1/domains/list", "Domains", [engine](const Call&) {
    models::DomainsResponse resp;
    for (auto& d : engine->domains().FreshDomains()) resp.add_domains(std::move(d));
    return Encode(resp);
  });
  unary("POST", "/v1/domains/upsert", "UpsertDomain",
        Unary<models::UpsertDomainRequest>([engine](const auto& req, const Call&) {
          return ErrorResponse(engine->domains().UpsertDomain(req.domain(), req.ttl()));
        }));

  // --- actual LRP reads ---
  unary("POST", "/v1/actual_lrps/list", "ActualLRPs",
        Unary<models::ActualLRPsRequest>([engine](const auto& req, const Call&) {
          state::ActualLrpFilter filter{req.domain(), req.cell_id(), req.process_guid(),
                                        std::nullopt};
          if (req.has_index()) filter.index = req.index();
          return ListBody(engine->model().ListActualLrps(
              filter, models::ActualLRPsResponse::kActualLrpsFieldNumber));
        }));
  unary("POST", "/v1/actual_lrps/list_by_process_guids", "ActualLRPsByProcessGuids",
        Unary<models::ActualLRPsByProcessGuidsRequest>([engine](const auto& req, const Call&) {
          std::vector<std::string> guids(req.process_guids().begin(), req.process_guids().end());
          return ListBody(engine->model().ListActualLrpsByProcessGuids(
              guids, models::ActualLRPsResponse::kActualLrpsFieldNumber));
        }));
  unary("POST", "/v1/actual_lrp_groups/list", "ActualLRPGroups",
        Unary<models::ActualLRPGroupsRequest>([engine](const auto& req, const Call&) {
          return EncodeGroups(
              engine->model().ActualLrps({req.domain(), req.cell_id(), "", std::nullopt}));
        }));
  unary(
      "POST", "/v1/actual_lrp_groups/list_by_process_guid", "ActualLRPGroupsByProcessGuid",
      Unary<models::ActualLRPGroupsByProcessGuidRequest>([engine](const auto& req, const Call&) {
        return EncodeGroups(engine->model().ActualLrps({"", "", req.process_guid(), std::nullopt}));
      }));
  unary("POST", "/v1/actual_lrp_groups/get_by_process_guid_and_index",
        "ActualLRPGroupsByProcessGuidAndIndex",
        Unary<models::ActualLRPGroupByProcessGuidAndIndexRequest>(
            [engine](const auto& req, const Call&) {
              auto lrps = engine->model().ActualLrps({"", "", req.process_guid(), req.index()});
              if (lrps.empty()) return ErrorResponse(NotFound());
              std::vector<const models::ActualLRP*> raw;
              for (const auto& p : lrps) raw.push_back(p.get());
              auto groups = wire::GroupActualLrps(raw);
              models::ActualLRPGroupResponse resp;
              if (!groups.empty()) *resp.mutable_actual_lrp_group() = std::move(groups.front());
              return Encode(resp);
            }));

  // --- actual LRP lifecycle ---
  unary("POST", "/v1/actual_lrps/claim", "ClaimActualLRP",
        Unary<models::ClaimActualLRPRequest>([engine](const auto& req, const Call&) {
          return ErrorResponse(engine->actual_lrps().ClaimActualLrp(req.process_guid(), req.index(),
                                                                    req.actual_lrp_instance_key()));
        }));
  auto start = [engine](bool r1) {
    return Unary<models::StartActualLRPRequest>([engine, r1](const auto& req, const Call&) {
      return ErrorResponse(engine->actual_lrps().StartActualLrp(StartParamsOf(req, r1)));
    });
  };
  unary("POST", "/v1/actual_lrps/start.r1", "StartActualLRP", start(true));
  unary("POST", "/v1/actual_lrps/start", "StartActualLRP_r0", start(false));
  unary("POST", "/v1/actual_lrps/crash", "CrashActualLRP",
        Unary<models::CrashActualLRPRequest>([engine](const auto& req, const Call&) {
          return ErrorResponse(engine->actual_lrps().CrashActualLrp(
              req.actual_lrp_key(), req.actual_lrp_instance_key(), req.error_message()));
        }));
  unary("POST", "/v1/actual_lrps/fail", "FailActualLRP",
        Unary<models::FailActualLRPRequest>([engine](const auto& req, const Call&) {
          return ErrorResponse(
              engine->actual_lrps().FailActualLrp(req.actual_lrp_key(), req.error_message()));
        }));
  unary("POST", "/v1/actual_lrps/remove", "RemoveActualLRP",
        Unary<models::RemoveActualLRPRequest>([engine](const auto& req, const Call&) {
          return ErrorResponse(engine->actual_lrps().RemoveActualLrp(
              req.process_guid(), req.index(),
              req.has_actual_lrp_instance_key() ? &req.actual_lrp_instance_key() : nullptr));
        }));
  unary("POST", "/v1/actual_lrps/retire", "RetireActualLRP",
        Unary<models::RetireActualLRPRequest>([engine](const auto& req, const Call& call) {
          return ErrorResponse(
              engine->actual_lrps().RetireActualLrp(req.actual_lrp_key(), call.trace_id));
        }));
  unary("POST", "/v1/actual_lrps/remove_evacuating", "RemoveEvacuatingActualLRP",
        Unary<models::RemoveEvacuatingActualLRPRequest>([engine](const auto& req, const Call&) {
          return ErrorResponse(engine->actual_lrps().RemoveEvacuatingActualLrp(
              req.actual_lrp_key(), req.actual_lrp_instance_key()));
        }));
  unary("POST", "/v1/actual_lrps/evacuate_claimed", "EvacuateClaimedActualLRP",
        Unary<models::EvacuateClaimedActualLRPRequest>(
            [engine](const auto& req, const Call&) {
              auto r = engine->actual_lrps().EvacuateClaimedActualLrp(
                  req.actual_lrp_key(), req.actual_lrp_instance_key());
              return EvacuationResponse(r.status, r.keep_container);
            },
            EvacuationError(true)));
  unary("POST", "/v1/actual_lrps/evacuate_crashed", "EvacuateCrashedActualLRP",
        Unary<models::EvacuateCrashedActualLRPRequest>(
            [engine](const auto& req, const Call&) {
              auto r = engine->actual_lrps().EvacuateCrashedActualLrp(
                  req.actual_lrp_key(), req.actual_lrp_instance_key(), req.error_message());
              return EvacuationResponse(r.status, false);
            },
            EvacuationError(false)));
  unary("POST", "/v1/actual_lrps/evacuate_stopped", "EvacuateStoppedActualLRP",
        Unary<models::EvacuateStoppedActualLRPRequest>(
            [engine](const auto& req, const Call&) {
              auto r = engine->actual_lrps().EvacuateStoppedActualLrp(
                  req.actual_lrp_key(), req.actual_lrp_instance_key());
              return EvacuationResponse(r.status, false);
            },
            EvacuationError(false)));
  auto evacuate_running = [engine](bool r1) {
    return Unary<models::EvacuateRunningActualLRPRequest>(
        [engine, r1](const auto& req, const Call&) {
          auto r = engine->actual_lrps().EvacuateRunningActualLrp(StartParamsOf(req, r1));
          return EvacuationResponse(r.status, r.keep_container);
        },
        EvacuationError(true));
  };
  unary("POST", "/v1/actual_lrps/evacuate_running.r1", "EvacuateRunningActualLRP",
        evacuate_running(true));
  unary("POST", "/v1/actual_lrps/evacuate_running", "EvacuateRunningActualLRP_r0",
        evacuate_running(false));

  // --- desired LRPs ---
  unary("POST", "/v1/desired_lrp_scheduling_infos/list", "DesiredLRPSchedulingInfos",
        Unary<models::DesiredLRPsRequest>([engine](const auto& req, const Call&) {
          state::DesiredLrpFilter filter = FilterOf(req, false);
          filter.domain = req.domain();
          return ListBody(engine->model().ListSchedulingInfos(
              filter,
              models::DesiredLRPSchedulingInfosResponse::kDesiredLrpSchedulingInfosFieldNumber));
        }));
  unary("POST", "/v1/desired_lrp_scheduling_infos/get_by_process_guid",
        "DesiredLRPSchedulingInfoByProcessGuid",
        Unary<models::DesiredLRPByProcessGuidRequest>([engine](const auto& req, const Call&) {
          auto record = engine->model().DesiredLrp(req.process_guid());
          if (!record) return ErrorResponse(NotFound());
          std::string out;
          AppendMessageField(&out,
                             models::DesiredLRPSchedulingInfoByProcessGuidResponse::
                                 kDesiredLrpSchedulingInfoFieldNumber,
                             record->scheduling_info());
          return out;
        }));
  unary("POST", "/v1/desired_lrp_routing_infos/list", "DesiredLRPRoutingInfos",
        Unary<models::DesiredLRPsRequest>([engine](const auto& req, const Call&) {
          // Upstream honours only process_guids here.
          std::string out;
          for (const auto& record : engine->model().DesiredLrps(FilterOf(req, false))) {
            AppendMessageField(&out, models::DesiredLRPsResponse::kDesiredLrpsFieldNumber,
                               wire::RoutingInfo(record->scheduling_info(), record->metric_tags()));
          }
          return out;
        }));
  auto desired_lrps = [this](Format format) {
    return Unary<models::DesiredLRPsRequest>(
        [this, format](const auto& req, const Call&) { return DesiredLrps(req, format); });
  };
  auto desired_lrp = [engine](Format format) {
    return Unary<models::DesiredLRPByProcessGuidRequest>(
        [engine, format](const auto& req, const Call&) {
          // The model's record and the run info from the store (the model does not keep it).
          auto record = engine->desired_lrps().ReadDesiredLrp(req.process_guid());
          if (!record.ok()) return ErrorResponse(record.status());
          auto lrp = ConvertForRoute(**record, format);
          if (!lrp.ok()) return ErrorResponse(lrp.status());
          std::string out;
          AppendMessageField(&out, models::DesiredLRPResponse::kDesiredLrpFieldNumber, *lrp);
          return out;
        });
  };
  unary("POST", "/v1/desired_lrps/list.r3", "DesiredLRPs", desired_lrps(Format::kCurrent));
  unary("POST", "/v1/desired_lrps/get_by_process_guid.r3", "DesiredLRPByProcessGuid",
        desired_lrp(Format::kCurrent));
  unary("POST", "/v1/desired_lrps/list.r2", "DesiredLRPs_r2", desired_lrps(Format::kR2));
  unary("POST", "/v1/desired_lrps/get_by_process_guid.r2", "DesiredLRPByProcessGuid_r2",
        desired_lrp(Format::kR2));
  // `seed`: the 2015 route, whose clients sent timeouts only in the deprecated V0 fields.
  const int32_t max_instances = max_instances_per_desired_lrp_;
  auto desire = [engine, max_instances](bool seed) {
    std::function<void(models::DesireLRPRequest*)> upgrade;
    if (seed) {
      upgrade = [](models::DesireLRPRequest* req) {
        if (req->has_desired_lrp()) UpgradeV0DesiredLrp(req->mutable_desired_lrp());
      };
    }
    return Unary<models::DesireLRPRequest>(
        [engine](const auto& req, const Call& call) {
          return ErrorResponse(engine->desired_lrps().DesireLrp(req.desired_lrp(), call.trace_id));
        },
        ErrorResponse, upgrade,
        [max_instances](const models::DesireLRPRequest& req) {
          return wire::Validate(req, max_instances);
        });
  };
  unary("POST", "/v1/desired_lrp/desire.r2", "DesireDesiredLRP", desire(false));
  unary("POST", "/v1/desired_lrp/update", "UpdateDesireLRP",
        Unary<models::UpdateDesiredLRPRequest>(
            [engine](const auto& req, const Call& call) {
              return ErrorResponse(engine->desired_lrps().UpdateDesiredLrp(
                  req.process_guid(), req.update(), call.trace_id));
            },
            ErrorResponse, nullptr,
            [max_instances](const models::UpdateDesiredLRPRequest& req) {
              return wire::Validate(req, max_instances);
            }));
  unary("POST", "/v1/desired_lrp/remove", "RemoveDesiredLRP",
        Unary<models::RemoveDesiredLRPRequest>([engine](const auto& req, const Call& call) {
          return ErrorResponse(
              engine->desired_lrps().RemoveDesiredLrp(req.process_guid(), call.trace_id));
        }));

  // --- tasks ---
  auto tasks = [this](Format format) {
    return Unary<models::TasksRequest>(
        [this, format](const auto& req, const Call&) { return Tasks(req, format); });
  };
  auto task = [engine](Format format) {
    return Unary<models::TaskByGuidRequest>([engine, format](const auto& req, const Call&) {
      auto task = engine->model().Task(req.task_guid());
      if (!task) return ErrorResponse(NotFound());
      std::string out;
      AppendMessageField(&out, models::TaskResponse::kTaskFieldNumber, TaskForRoute(*task, format));
      return out;
    });
  };
  unary("POST", "/v1/tasks/list.r3", "Tasks", tasks(Format::kCurrent));
  unary("POST", "/v1/tasks/get_by_task_guid.r3", "TaskByGuid", task(Format::kCurrent));
  unary("POST", "/v1/tasks/list.r2", "Tasks_r2", tasks(Format::kR2));
  unary("POST", "/v1/tasks/get_by_task_guid.r2", "TaskByGuid_r2", task(Format::kR2));
  auto desire_task = Unary<models::DesireTaskRequest>([engine](const auto& req, const Call&) {
    return ErrorResponse(
        engine->tasks().DesireTask(req.task_guid(), req.domain(), req.task_definition()));
  });
  unary("POST", "/v1/tasks/desire.r2", "DesireTask", desire_task);
  unary("POST", "/v1/tasks/start", "StartTask",
        Unary<models::StartTaskRequest>([engine](const auto& req, const Call&) {
          auto started = engine->tasks().StartTask(req.task_guid(), req.cell_id());
          if (!started.ok()) return ErrorResponse(started.status());
          models::StartTaskResponse resp;
          resp.set_should_start(*started);
          return Encode(resp);
        }));
  unary("POST", "/v1/tasks/cancel", "CancelTask",
        Unary<models::TaskGuidRequest>([engine](const auto& req, const Call& call) {
          return ErrorResponse(engine->tasks().CancelTask(req.task_guid(), call.trace_id));
        }));
  unary("POST", "/v1/tasks/fail", "FailTask",
        Unary<models::FailTaskRequest>([engine](const auto& req, const Call&) {
          return ErrorResponse(engine->tasks().FailTask(req.task_guid(), req.failure_reason()));
        }));
  unary("POST", "/v1/tasks/reject", "RejectTask",
        Unary<models::RejectTaskRequest>([engine](const auto& req, const Call&) {
          return ErrorResponse(engine->tasks().RejectTask(req.task_guid(), req.rejection_reason()));
        }));
  unary("POST", "/v1/tasks/complete", "CompleteTask",
        Unary<models::CompleteTaskRequest>([engine](const auto& req, const Call&) {
          return ErrorResponse(engine->tasks().CompleteTask(
              req.task_guid(), req.cell_id(), req.failed(), req.failure_reason(), req.result()));
        }));
  unary("POST", "/v1/tasks/resolving", "ResolvingTask",
        Unary<models::TaskGuidRequest>([engine](const auto& req, const Call&) {
          return ErrorResponse(engine->tasks().ResolvingTask(req.task_guid()));
        }));
  unary("POST", "/v1/tasks/delete", "DeleteTask",
        Unary<models::TaskGuidRequest>([engine](const auto& req, const Call&) {
          return ErrorResponse(engine->tasks().DeleteTask(req.task_guid()));
        }));

  // --- event streams (api.md §4.1) ---
  stream("GET", "/v1/events.r1", "EventStream", Kind::kLrpGroups);
  stream("POST", "/v1/events/tasks.r1", "TaskEventStream", Kind::kTasks);
  stream("POST", "/v1/events/lrp_instances.r1", "LRPInstanceEventStream", Kind::kLrpInstances);
  stream("GET", "/v1/events", "EventStream_r0", Kind::kLrpGroupsR0);
  stream("POST", "/v1/events/tasks", "TaskEventStream_r0", Kind::kTasksR0);
  stream("POST", "/v1/events/lrp_instances", "LrpInstanceEventStream_r0", Kind::kLrpInstancesR0);

  unary("POST", "/v1/cells/list.r1", "Cells", [this](const Call&) { return Cells(); });

  // The seed's 2015 routes that upstream has since removed (api.md §11.2), served with their
  // closest current meaning.
  unary("POST", "/v1/desired_lrps/list", "DesiredLRPs_r0", desired_lrps(Format::kSeed));
  unary("POST", "/v1/desired_lrps/get_by_process_guid", "DesiredLRPByProcessGuid_r0",
        desired_lrp(Format::kSeed));
  unary("POST", "/v1/desired_lrp/desire", "DesireDesiredLRP_r0", desire(true));
  unary("POST", "/v1/lrps/converge", "ConvergeLRPs", [this](const Call&) {
    if (!converge_lrps_) return NotImplemented("ConvergeLRPs");
    return ErrorResponse(converge_lrps_());
  });
  unary("POST", "/v1/tasks/list", "Tasks_r0", tasks(Format::kSeed));
  unary("GET", "/v1/tasks/get_by_task_guid", "TaskByGuid_r0", task(Format::kSeed));
  unary("POST", "/v1/tasks/desire", "DesireTask_r0", desire_task);
  unary("POST", "/v1/tasks/converge", "ConvergeTasks", [this](const Call&) {
    if (!converge_tasks_) return NotImplemented("ConvergeTasks");
    return ErrorResponse(converge_tasks_());
  });
}

std::string Api::NotImplemented(const std::string& route_name) {
  return ErrorResponse(UnknownError(route_name + " is not implemented in this version of bbs"));
}

std::string Api::Cells() {
  if (!cells_source_) return std::string();
  auto cells = cells_source_();
  if (!cells.ok()) return ErrorResponse(UnknownError(cells.status().message()));
  std::string out;
  for (const auto& cell : *cells) {
    AppendMessageField(&out, models::CellsResponse::kCellsFieldNumber, cell);
  }
  return out;
}

std::string Api::DesiredLrps(const models::DesiredLRPsRequest& req, ModelFormat format) {
  std::string out;
  // The model's records, each with its run info read from the store (in chunks).
  Status status = engine_->desired_lrps().ForEachDesiredLrp(
      FilterOf(req, true), [&](const records::DesiredLRPRecord& record, const std::string& run) {
        auto lrp = ConvertForRoute(record, run, format);
        if (!lrp.ok()) {
          logger_.Error(
              "desired-lrp-undecodable", lrp.status().ToString(),
              {{"process_guid", record.scheduling_info().desired_lrp_key().process_guid()}});
          return;
        }
        AppendMessageField(&out, models::DesiredLRPsResponse::kDesiredLrpsFieldNumber, *lrp);
      });
  if (!status.ok()) return ErrorResponse(status);
  return out;
}

std::string Api::Tasks(const models::TasksRequest& req, ModelFormat format) {
  std::string out;
  constexpr int kTasks = models::TasksResponse::kTasksFieldNumber;
  for (const auto& task : engine_->model().Tasks(req.domain(), req.cell_id())) {
    if (format == ModelFormat::kCurrent) {
      AppendMessageField(&out, kTasks, *task);  // no copy on the current route
    } else {
      AppendMessageField(&out, kTasks, TaskForRoute(*task, format));
    }
  }
  return out;
}

}  // namespace bbs::api
