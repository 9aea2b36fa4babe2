#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bbs/api/encoding.h"
#include "bbs/base/logger.h"
#include "bbs/base/worker_pool.h"
#include "bbs/events/hub.h"
#include "bbs/http/router.h"
#include "bbs/metrics/bbs_metrics.h"
#include "bbs/models/models.h"
#include "bbs/models/validation.h"
#include "bbs/state/engine.h"
#include "models/cells.pb.h"

namespace bbs::api {

// What a unary handler gets from the HTTP layer.
struct Call {
  std::string body;      // the protobuf request, possibly empty
  std::string trace_id;  // the X-Vcap-Request-Id header, "" when absent
  bool json = false;     // the body is the request in JSON (Content-Type: application/json)
};

// A unary handler: decode -> validate -> engine -> encode. Always answers a protobuf body
// (status 200, application/x-protobuf); failures travel in the response's `error` field. The
// body is the bytes, or for the big lists a source the server streams (api::Body).
using UnaryHandler = std::function<Body(const Call&)>;

// The model version a route speaks (api.md §3.4).
enum class ModelFormat {
  kCurrent,  // .r3 desired LRP and task routes, every route without a suffix family
  kR2,       // .r2 routes: image layers down-converted
  kSeed,     // the 2015 seed routes (api.md §11.2): DesiredLRPs as V0, tasks as .r2
};

// The BBS API: the complete current route table (api.md §3.1) and the seed's 2015 routes that
// are gone upstream (api.md §11.2), bound to the state engine and the event hub. Thread-safe.
class Api {
 public:
  Api(state::Engine* engine, Logger logger);

  // The seed's on-demand convergence routes run these (unset: the routes answer an error).
  void SetConvergeHooks(std::function<Status()> lrps, std::function<Status()> tasks) {
    converge_lrps_ = std::move(lrps);
    converge_tasks_ = std::move(tasks);
  }

  // The most instances a DesireLRP or UpdateDesiredLRP may ask for (the config key
  // `max_instances_per_desired_lrp`); above it the request is "Invalid field: instances".
  // Call before Router().
  void SetMaxInstancesPerDesiredLrp(int32_t max) { max_instances_per_desired_lrp_ = max; }

  // Where /v1/cells/list.r1 reads the present cells (unset: no cell is listed).
  void SetCellsSource(std::function<Result<std::vector<models::CellPresence>>()> source) {
    cells_source_ = std::move(source);
  }

  // The HTTP binding of every route. Unary routes run their handler on `pool` (so HTTP I/O
  // threads never block) and answer 200 application/x-protobuf, or 503 once the pool is shut
  // down. Stream routes subscribe to `hub` (api.md §4). With `metrics` (and its `clock`), every
  // route is recorded through metrics::InstrumentRoute. REQUIRES: `hub`, `pool`, `metrics` and
  // `clock` outlive the router.
  http::Router Router(events::Hub* hub, WorkerPool* pool, metrics::BbsMetrics* metrics = nullptr,
                      const Clock* clock = nullptr);

 private:
  // Calls `bind(method, path, name, handler)` for every unary route and
  // `stream(method, path, name, kind)` for every stream route, in api.md §3.1 order.
  void ForEachRoute(
      const std::function<void(const char*, const char*, const char*, UnaryHandler)>& unary,
      const std::function<void(const char*, const char*, const char*, events::StreamKind)>& stream);

  std::string Cells();
  std::string DesiredLrps(const models::DesiredLRPsRequest& req, ModelFormat format);
  std::string Tasks(const models::TasksRequest& req, ModelFormat format);
  std::string NotImplemented(const std::string& route_name);

  state::Engine* engine_;
  Logger logger_;
  std::function<Status()> converge_lrps_;
  std::function<Status()> converge_tasks_;
  std::function<Result<std::vector<models::CellPresence>>()> cells_source_;
  int32_t max_instances_per_desired_lrp_ = wire::kMaxInstancesPerDesiredLrp;
};

// The handler of a stream route of `kind`: decodes the body as EventsByCellId for the LRP kinds
// (the task kinds ignore it), subscribes with the request's Last-Event-ID and answers the stream
// response. Answers 500 with an empty body when the body does not decode or the hub is closed.
// REQUIRES: `hub` outlives the handler.
http::Handler StreamHandler(events::Hub* hub, events::StreamKind kind);

}  // namespace bbs::api
