// Fuzz target: decoding and validation of every API request (api.md §7), then the conversions a
// handler applies to what passed (down-conversion, the DesiredLRP split and join, routes).
// Input: one byte choosing the request type, then the protobuf bytes of the request.

#include <cstddef>
#include <cstdint>
#include <string>

#include "bbs/models/conversion.h"
#include "bbs/models/models.h"
#include "bbs/models/routes_json.h"
#include "bbs/models/validation.h"

namespace {

using bbs::wire::FormatVersion;

template <typename Request>
void DecodeAndValidate(const uint8_t* data, size_t size) {
  Request request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  (void)bbs::wire::Validate(request);
  // What the handlers send back is re-encoded: it must serialise.
  (void)request.SerializeAsString();
}

void DesiredLrp(const uint8_t* data, size_t size) {
  models::DesireLRPRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  if (!bbs::wire::Validate(request).ok()) return;
  const auto& lrp = request.desired_lrp();
  auto routes = bbs::wire::NormalizeRoutes(lrp.routes());
  (void)bbs::wire::InternalRoutesFromRoutes(lrp.routes());
  auto parts = bbs::wire::SplitDesiredLrp(lrp, 1);
  auto joined = bbs::wire::JoinDesiredLrp(parts.scheduling_info, parts.run_info, lrp.metric_tags(),
                                          lrp.update_strategy());
  (void)bbs::wire::RoutingInfo(joined);
  (void)bbs::wire::ResolveMetricTags(lrp.metric_tags(), 0, "instance-guid");
  for (auto v : {FormatVersion::kV0, FormatVersion::kV1, FormatVersion::kV2}) {
    auto down = bbs::wire::DesiredLrpDownTo(joined, v);
    bbs::wire::FixUpMetricsGuid(&down);
    (void)down.SerializeAsString();
  }
}

void Task(const uint8_t* data, size_t size) {
  models::DesireTaskRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  if (!bbs::wire::Validate(request).ok()) return;
  models::Task task;
  task.set_task_guid(request.task_guid());
  task.set_domain(request.domain());
  *task.mutable_task_definition() = request.task_definition();
  for (auto v : {FormatVersion::kV0, FormatVersion::kV1, FormatVersion::kV2}) {
    (void)bbs::wire::TaskDownTo(task, v).SerializeAsString();
  }
}

using Target = void (*)(const uint8_t*, size_t);

constexpr Target kTargets[] = {
    DecodeAndValidate<models::UpsertDomainRequest>,
    DecodeAndValidate<models::ActualLRPsRequest>,
    DecodeAndValidate<models::ActualLRPsByProcessGuidsRequest>,
    DecodeAndValidate<models::ActualLRPGroupsRequest>,
    DecodeAndValidate<models::ActualLRPGroupsByProcessGuidRequest>,
    DecodeAndValidate<models::ActualLRPGroupByProcessGuidAndIndexRequest>,
    DecodeAndValidate<models::ClaimActualLRPRequest>,
    DecodeAndValidate<models::StartActualLRPRequest>,
    DecodeAndValidate<models::CrashActualLRPRequest>,
    DecodeAndValidate<models::FailActualLRPRequest>,
    DecodeAndValidate<models::RetireActualLRPRequest>,
    DecodeAndValidate<models::RemoveActualLRPRequest>,
    DecodeAndValidate<models::EvacuateClaimedActualLRPRequest>,
    DecodeAndValidate<models::EvacuateRunningActualLRPRequest>,
    DecodeAndValidate<models::EvacuateStoppedActualLRPRequest>,
    DecodeAndValidate<models::EvacuateCrashedActualLRPRequest>,
    DecodeAndValidate<models::RemoveEvacuatingActualLRPRequest>,
    DecodeAndValidate<models::DesiredLRPsRequest>,
    DecodeAndValidate<models::DesiredLRPByProcessGuidRequest>,
    DecodeAndValidate<models::RemoveDesiredLRPRequest>,
    DecodeAndValidate<models::UpdateDesiredLRPRequest>,
    DecodeAndValidate<models::DesireLRPRequest>,
    DecodeAndValidate<models::TasksRequest>,
    DecodeAndValidate<models::TaskByGuidRequest>,
    DecodeAndValidate<models::TaskGuidRequest>,
    DecodeAndValidate<models::DesireTaskRequest>,
    DecodeAndValidate<models::StartTaskRequest>,
    DecodeAndValidate<models::CompleteTaskRequest>,
    DecodeAndValidate<models::FailTaskRequest>,
    DecodeAndValidate<models::RejectTaskRequest>,
    DecodeAndValidate<models::EventsByCellId>,
    DesiredLrp,
    Task,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  constexpr size_t kCount = sizeof(kTargets) / sizeof(kTargets[0]);
  kTargets[data[0] % kCount](data + 1, size - 1);
  return 0;
}
