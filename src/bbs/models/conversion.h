#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "bbs/models/models.h"

// Conversions between model shapes: format down-conversion for old routes (api.md §3.4), the
// DesiredLRP scheduling-info / run-info split (§8.1), projections, metric-tag resolution,
// message truncation and the deprecated ActualLRPGroup view (§8.3).
//
// All functions are pure and thread-safe; the ones taking a pointer modify only that message.
namespace bbs::wire {

// Model format versions (api.md §3.4). Stored models are always kV3.
enum class FormatVersion { kV0 = 0, kV1 = 1, kV2 = 2, kV3 = 3 };

// A copy of `lrp` converted down to `version`: V3→V2 turns image layers into cached
// dependencies and setup downloads (§3.4.2); V2→V1 is a no-op; V1→V0 fills the deprecated
// timeouts and turns cached dependencies into setup downloads (§3.4.1), with upstream's quirks.
models::DesiredLRP DesiredLrpDownTo(const models::DesiredLRP& lrp, FormatVersion version);

// The single steps, in place. REQUIRES: lrp != nullptr.
void ConvertDesiredLrpImageLayers(models::DesiredLRP* lrp);  // V3 -> V2
void ConvertDesiredLrpToV0(models::DesiredLRP* lrp);         // V1 -> V0

// A copy of `task` converted down to `version`: below kV3 its image layers become cached
// dependencies and downloads before `action` (§3.4.3); nothing else changes.
models::Task TaskDownTo(const models::Task& task, FormatVersion version);

// The wire bytes of an event payload as the r0 event streams send it (api.md §3.4):
// DesiredLRPs inside desired_lrp_* events as V0, tasks inside task_* events as V2. Payloads
// of other types are sent as they are.
std::string R0EventPayload(const google::protobuf::Message& payload);
// The task step, in place. REQUIRES: definition != nullptr.
void ConvertTaskImageLayers(models::TaskDefinition* definition);

// Metrics-guid fix-up of the desired_lrps list/get routes (§3.4.4), in place: fills
// metrics_guid from metric_tags["source_id"].static, or adds that tag from metrics_guid.
// REQUIRES: lrp != nullptr.
void FixUpMetricsGuid(models::DesiredLRP* lrp);

// The two stored halves of a DesiredLRP (§8.1).
struct DesiredLrpParts {
  models::DesiredLRPSchedulingInfo scheduling_info;
  models::DesiredLRPRunInfo run_info;
};

// Splits `lrp`. The scheduling info always carries desired_lrp_key, desired_lrp_resource, routes
// (possibly empty), modification_tag and volume_placement (the volume mounts' driver names).
// The run info carries everything else, the key, the metric tags and `created_at` (ns).
DesiredLrpParts SplitDesiredLrp(const models::DesiredLRP& lrp, int64_t created_at);

// Rebuilds the API DesiredLRP from its halves and the columns kept beside them. `metric_tags`
// replaces the run info's copy. Ports are de-duplicated, keeping first occurrences in order;
// routes and modification_tag are always present in the result.
models::DesiredLRP JoinDesiredLrp(
    const models::DesiredLRPSchedulingInfo& scheduling_info,
    const models::DesiredLRPRunInfo& run_info,
    const google::protobuf::Map<std::string, models::MetricTagValue>& metric_tags,
    models::DesiredLRP::UpdateStrategy update_strategy);

// The routing-info projection (§6.7): only process_guid, domain, instances, routes, log_guid,
// modification_tag and metric_tags; routes and modification_tag always present.
models::DesiredLRP RoutingInfo(const models::DesiredLRP& lrp);
// The same projection built from a scheduling info and the metric tags kept beside it.
models::DesiredLRP RoutingInfo(
    const models::DesiredLRPSchedulingInfo& scheduling_info,
    const google::protobuf::Map<std::string, models::MetricTagValue>& metric_tags);

// Resolves metric-tag templates for one instance (§8.9): dynamic INDEX → `index` in decimal,
// INSTANCE_GUID → `instance_guid`, otherwise the static value. Fails with InvalidRequest on a
// dynamic value that is neither (upstream silently drops such a tag).
Result<std::map<std::string, std::string>> ResolveMetricTags(
    const google::protobuf::Map<std::string, models::MetricTagValue>& tags, int32_t index,
    const std::string& instance_guid);

// Storage form of crash_reason, placement_error, failure_reason and rejection_reason (§8.4):
// 1024 bytes or more become the first 1013 bytes followed by "(truncated)". Byte-based; may
// split a UTF-8 sequence.
std::string Truncate1024(std::string text);

// ActualLRP states as stored in ActualLRP.state.
inline constexpr char kStateUnclaimed[] = "UNCLAIMED";
inline constexpr char kStateClaimed[] = "CLAIMED";
inline constexpr char kStateRunning[] = "RUNNING";
inline constexpr char kStateCrashed[] = "CRASHED";

// Folds rows into one group per (process_guid, index), in order of first appearance (§8.3):
// EVACUATING rows go to `evacuating`; ORDINARY and SUSPECT rows compete for `instance`.
// REQUIRES: no element is null.
std::vector<models::ActualLRPGroup> GroupActualLrps(
    const std::vector<const models::ActualLRP*>& lrps);

// The one LRP a group stands for (§8.3): the only slot set; with both set, `instance` if it is
// RUNNING or CRASHED, else `evacuating`. Null when neither slot is set. The pointer refers into
// `group`.
const models::ActualLRP* ResolveGroup(const models::ActualLRPGroup& group);

}  // namespace bbs::wire
