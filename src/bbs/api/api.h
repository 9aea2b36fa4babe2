#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/state/engine.h"
#include "models/cells.pb.h"

namespace bbs::api {

// What a unary handler gets from the HTTP layer.
struct Call {
  std::string body;      // the protobuf request, possibly empty
  std::string trace_id;  // the X-Vcap-Request-Id header, "" when absent
};

// A unary handler: decode -> validate -> engine -> encode. Always answers a protobuf body
// (status 200, application/x-protobuf); failures travel in the response's `error` field.
using UnaryHandler = std::function<std::string(const Call&)>;

enum class RouteKind {
  kUnary,
  kEventStream,  // server-sent events (api.md §4)
};

struct Route {
  std::string method;
  std::string path;
  std::string name;  // upstream's route name (logs, metrics)
  RouteKind kind = RouteKind::kUnary;
  UnaryHandler handler;  // for kUnary
};

// The BBS API: the complete current route table (api.md §3.1) and the seed's 2015 routes that
// are gone upstream (api.md §11.2), bound to the state engine. Thread-safe.
class Api {
 public:
  Api(state::Engine* engine, Logger logger);

  // The seed's on-demand convergence routes run these (unset: the routes answer an error).
  void SetConvergeHooks(std::function<Status()> lrps, std::function<Status()> tasks) {
    converge_lrps_ = std::move(lrps);
    converge_tasks_ = std::move(tasks);
  }

  // Where /v1/cells/list.r1 reads the present cells (unset: no cell is listed).
  void SetCellsSource(std::function<Result<std::vector<models::CellPresence>>()> source) {
    cells_source_ = std::move(source);
  }

  // Every route. Routes whose feature is not built yet answer a well-formed response whose
  // error says so.
  std::vector<Route> Routes();

 private:
  std::string Ping(const Call& call);
  std::string Domains(const Call& call);
  std::string UpsertDomain(const Call& call);
  std::string Cells(const Call& call);

  std::string ActualLrps(const Call& call);
  std::string ActualLrpsByProcessGuids(const Call& call);
  std::string ActualLrpGroups(const Call& call);
  std::string ActualLrpGroupsByProcessGuid(const Call& call);
  std::string ActualLrpGroupByProcessGuidAndIndex(const Call& call);

  std::string ClaimActualLrp(const Call& call);
  // `r1`: the .r1 route, which honours internal routes and metric tags.
  std::string StartActualLrp(const Call& call, bool r1);
  std::string CrashActualLrp(const Call& call);
  std::string FailActualLrp(const Call& call);
  std::string RemoveActualLrp(const Call& call);
  std::string RetireActualLrp(const Call& call);
  std::string RemoveEvacuatingActualLrp(const Call& call);
  std::string EvacuateClaimedActualLrp(const Call& call);
  std::string EvacuateCrashedActualLrp(const Call& call);
  std::string EvacuateStoppedActualLrp(const Call& call);
  std::string EvacuateRunningActualLrp(const Call& call, bool r1);

  // `format`: 3 = current, 2 = .r2 (image layers down-converted), 0 = 2015 seed route (V0).
  std::string DesiredLrps(const Call& call, int format);
  std::string DesiredLrpByProcessGuid(const Call& call, int format);
  std::string SchedulingInfos(const Call& call);
  std::string SchedulingInfoByProcessGuid(const Call& call);
  std::string RoutingInfos(const Call& call);
  // `seed`: the 2015 route that accepted V0 timeouts.
  std::string DesireLrp(const Call& call, bool seed);
  std::string UpdateDesiredLrp(const Call& call);
  std::string RemoveDesiredLrp(const Call& call);

  // `format`: 3 = current, 2 = .r2 and the 2015 seed routes (image layers down-converted).
  std::string Tasks(const Call& call, int format);
  std::string TaskByGuid(const Call& call, int format);
  std::string DesireTask(const Call& call);
  std::string StartTask(const Call& call);
  std::string CancelTask(const Call& call);
  std::string FailTask(const Call& call);
  std::string RejectTask(const Call& call);
  std::string CompleteTask(const Call& call);
  std::string ResolvingTask(const Call& call);
  std::string DeleteTask(const Call& call);

  std::string NotImplemented(const std::string& route_name);

  state::Engine* engine_;
  Logger logger_;
  std::function<Status()> converge_lrps_;
  std::function<Status()> converge_tasks_;
  std::function<Result<std::vector<models::CellPresence>>()> cells_source_;
};

}  // namespace bbs::api
