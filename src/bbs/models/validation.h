#pragma once

#include <cstdint>
#include <string_view>

#include "bbs/base/status.h"
#include "bbs/models/models.h"

// Validation of API requests and of the models nested in them (api.md §7).
//
// Every function is pure and thread-safe. Each returns OK, or InvalidRequest whose message lists
// every problem found, joined by ", " (api.md §2.6), e.g.
// "Invalid field: domain, Invalid field: rootfs". Where upstream panics on malformed input
// (an empty nested Action, a metric tag entry without a value, an update request without
// `update`) these functions report InvalidRequest instead.
namespace bbs::wire {

// The most instances one desired LRP may ask for (DesireLRP, UpdateDesiredLRP). Upstream has
// no bound; each instance becomes an actual LRP written in the desiring transaction, so an
// absurd count (50,000,000) would grow memory without limit. Above it: "Invalid field: instances".
// At the bound one desire costs about 0.5 GiB peak and 11 s in the sanitizer build
// (docs/reliability.md). The default of the config key `max_instances_per_desired_lrp`.
inline constexpr int32_t kMaxInstancesPerDesiredLrp = 25000;

// True if `guid` matches ^[a-zA-Z0-9_-]+$ (process and task guids).
bool IsValidGuid(std::string_view guid);

// True if Go's url.Parse would accept `text` and yield a non-empty scheme (rootfs rule, §7.3).
bool IsUrlWithScheme(std::string_view text);

// Requests (§7.1). The request types without rules validate as OK so that handlers can treat
// every request alike.
Status Validate(const models::UpsertDomainRequest& request);
Status Validate(const models::ActualLRPsRequest& request);
Status Validate(const models::ActualLRPsByProcessGuidsRequest& request);
Status Validate(const models::ActualLRPGroupsRequest& request);
Status Validate(const models::ActualLRPGroupsByProcessGuidRequest& request);
Status Validate(const models::ActualLRPGroupByProcessGuidAndIndexRequest& request);
Status Validate(const models::ClaimActualLRPRequest& request);
Status Validate(const models::StartActualLRPRequest& request);
Status Validate(const models::CrashActualLRPRequest& request);
Status Validate(const models::FailActualLRPRequest& request);
Status Validate(const models::RetireActualLRPRequest& request);
Status Validate(const models::RemoveActualLRPRequest& request);
Status Validate(const models::EvacuateClaimedActualLRPRequest& request);
Status Validate(const models::EvacuateRunningActualLRPRequest& request);
Status Validate(const models::EvacuateStoppedActualLRPRequest& request);
Status Validate(const models::EvacuateCrashedActualLRPRequest& request);
Status Validate(const models::RemoveEvacuatingActualLRPRequest& request);
Status Validate(const models::DesiredLRPsRequest& request);
Status Validate(const models::DesiredLRPByProcessGuidRequest& request);
Status Validate(const models::RemoveDesiredLRPRequest& request);
// A request without `update` is rejected ("Invalid field: update"); upstream crashes.
Status Validate(const models::UpdateDesiredLRPRequest& request);
Status Validate(const models::DesireLRPRequest& request);
// The same two with the instance bound `max_instances` in place of kMaxInstancesPerDesiredLrp
// (the config key `max_instances_per_desired_lrp`).
Status Validate(const models::UpdateDesiredLRPRequest& request, int32_t max_instances);
Status Validate(const models::DesireLRPRequest& request, int32_t max_instances);
Status Validate(const models::TasksRequest& request);
Status Validate(const models::TaskByGuidRequest& request);
Status Validate(const models::TaskGuidRequest& request);
Status Validate(const models::DesireTaskRequest& request);
Status Validate(const models::StartTaskRequest& request);
Status Validate(const models::CompleteTaskRequest& request);
Status Validate(const models::FailTaskRequest& request);
// An empty rejection_reason is reported as "Invalid field: failure_reason" (upstream quirk).
Status Validate(const models::RejectTaskRequest& request);
Status Validate(const models::EventsByCellId& request);

// Keys (§7.2).
Status ValidateActualLrpKey(const models::ActualLRPKey& key);
Status ValidateActualLrpInstanceKey(const models::ActualLRPInstanceKey& key);

// A DesiredLRP being desired (§7.3), including its run-info checks.
Status ValidateDesiredLrp(const models::DesiredLRP& lrp);
// The update part of UpdateDesiredLRPRequest (§7.4).
Status ValidateDesiredLrpUpdate(const models::DesiredLRPUpdate& update);
// The definition of a task being desired (§7.5).
Status ValidateTaskDefinition(const models::TaskDefinition& definition);

// Nested models (§7.6-§7.8).
// An Action with none of its nine members set is invalid ("Invalid field: inner-action").
Status ValidateAction(const models::Action& action);
Status ValidateSecurityGroupRule(const models::SecurityGroupRule& rule);
Status ValidateCachedDependency(const models::CachedDependency& dependency);
Status ValidateImageLayer(const models::ImageLayer& layer);
Status ValidateVolumeMount(const models::VolumeMount& mount);
Status ValidateCheckDefinition(const models::CheckDefinition& definition);
Status ValidateSidecar(const models::Sidecar& sidecar);
Status ValidateMetricTagValue(const models::MetricTagValue& value);

// A cell's presence record as a rep registers it (§7.8; not an API input). An absent capacity
// reads as all zeros.
Status ValidateCellPresence(const models::CellPresence& cell);

}  // namespace bbs::wire
