#include "bbs/api/json_face.h"

#include <memory>
#include <string>
#include <unordered_map>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "bbs/models/model_json.h"

#include "models/actual_lrp.pb.h"
#include "models/cells.pb.h"
#include "models/common.pb.h"
#include "models/desired_lrp.pb.h"
#include "models/domains.pb.h"
#include "models/evacuation.pb.h"
#include "models/task.pb.h"

namespace bbs::api {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The media type of one Content-Type or Accept element, lower case, without parameters.
std::string MediaType(std::string_view element) {
  return Lower(Trim(element.substr(0, element.find(';'))));
}

// Route name -> response message (api.md §3.1 and §11.2).
const std::unordered_map<std::string_view, const google::protobuf::Descriptor*>& ResponseTypes() {
  static const auto* table = [] {
    using namespace models;  // NOLINT(build/namespaces): a table of model types
    auto* t = new std::unordered_map<std::string_view, const google::protobuf::Descriptor*>{
        {"Ping", PingResponse::descriptor()},
        {"Domains", DomainsResponse::descriptor()},
        {"UpsertDomain", UpsertDomainResponse::descriptor()},
        {"ActualLRPs", ActualLRPsResponse::descriptor()},
        {"ActualLRPsByProcessGuids", ActualLRPsByProcessGuidsResponse::descriptor()},
        {"ActualLRPGroups", ActualLRPGroupsResponse::descriptor()},
        {"ActualLRPGroupsByProcessGuid", ActualLRPGroupsResponse::descriptor()},
        {"ActualLRPGroupsByProcessGuidAndIndex", ActualLRPGroupResponse::descriptor()},
        {"ClaimActualLRP", ActualLRPLifecycleResponse::descriptor()},
        {"StartActualLRP", ActualLRPLifecycleResponse::descriptor()},
        {"StartActualLRP_r0", ActualLRPLifecycleResponse::descriptor()},
        {"CrashActualLRP", ActualLRPLifecycleResponse::descriptor()},
        {"FailActualLRP", ActualLRPLifecycleResponse::descriptor()},
        {"RemoveActualLRP", ActualLRPLifecycleResponse::descriptor()},
        {"RetireActualLRP", ActualLRPLifecycleResponse::descriptor()},
        {"RemoveEvacuatingActualLRP", RemoveEvacuatingActualLRPResponse::descriptor()},
        {"EvacuateClaimedActualLRP", EvacuationResponse::descriptor()},
        {"EvacuateCrashedActualLRP", EvacuationResponse::descriptor()},
        {"EvacuateStoppedActualLRP", EvacuationResponse::descriptor()},
        {"EvacuateRunningActualLRP", EvacuationResponse::descriptor()},
        {"EvacuateRunningActualLRP_r0", EvacuationResponse::descriptor()},
        {"DesiredLRPSchedulingInfos", DesiredLRPSchedulingInfosResponse::descriptor()},
        {"DesiredLRPSchedulingInfoByProcessGuid",
         DesiredLRPSchedulingInfoByProcessGuidResponse::descriptor()},
        {"DesiredLRPRoutingInfos", DesiredLRPsResponse::descriptor()},
        {"DesiredLRPs", DesiredLRPsResponse::descriptor()},
        {"DesiredLRPs_r2", DesiredLRPsResponse::descriptor()},
        {"DesiredLRPs_r0", DesiredLRPsResponse::descriptor()},
        {"DesiredLRPByProcessGuid", DesiredLRPResponse::descriptor()},
        {"DesiredLRPByProcessGuid_r2", DesiredLRPResponse::descriptor()},
        {"DesiredLRPByProcessGuid_r0", DesiredLRPResponse::descriptor()},
        {"DesireDesiredLRP", DesiredLRPLifecycleResponse::descriptor()},
        {"DesireDesiredLRP_r0", DesiredLRPLifecycleResponse::descriptor()},
        {"UpdateDesireLRP", DesiredLRPLifecycleResponse::descriptor()},
        {"RemoveDesiredLRP", DesiredLRPLifecycleResponse::descriptor()},
        {"Tasks", TasksResponse::descriptor()},
        {"Tasks_r2", TasksResponse::descriptor()},
        {"Tasks_r0", TasksResponse::descriptor()},
        {"TaskByGuid", TaskResponse::descriptor()},
        {"TaskByGuid_r2", TaskResponse::descriptor()},
        {"TaskByGuid_r0", TaskResponse::descriptor()},
        {"DesireTask", TaskLifecycleResponse::descriptor()},
        {"DesireTask_r0", TaskLifecycleResponse::descriptor()},
        {"StartTask", StartTaskResponse::descriptor()},
        {"CancelTask", TaskLifecycleResponse::descriptor()},
        {"FailTask", TaskLifecycleResponse::descriptor()},
        {"RejectTask", TaskLifecycleResponse::descriptor()},
        {"CompleteTask", TaskLifecycleResponse::descriptor()},
        {"ResolvingTask", TaskLifecycleResponse::descriptor()},
        {"DeleteTask", TaskLifecycleResponse::descriptor()},
        {"Cells", CellsResponse::descriptor()},
        // The seed's convergence routes answer an error-only message.
        {"ConvergeLRPs", ActualLRPLifecycleResponse::descriptor()},
        {"ConvergeTasks", TaskLifecycleResponse::descriptor()},
    };
    return t;
  }();
  return *table;
}

const google::protobuf::Descriptor* ResponseDescriptorOf(std::string_view route_name) {
  const auto& table = ResponseTypes();
  auto it = table.find(route_name);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace

bool IsJsonContentType(std::string_view content_type) {
  return MediaType(content_type) == "application/json";
}

bool AcceptsJson(std::string_view accept) {
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    if (MediaType(accept.substr(0, comma)) == "application/json") return true;
    if (comma == std::string_view::npos) break;
    accept.remove_prefix(comma + 1);
  }
  return false;
}

bool DecodeJsonRequest(std::string_view json, google::protobuf::Message* message) {
  return wire::ParseModelJson(json, message, /*reject_unknown=*/true).ok();
}

std::string_view ResponseTypeOf(std::string_view route_name) {
  const auto* descriptor = ResponseDescriptorOf(route_name);
  return descriptor == nullptr ? std::string_view() : std::string_view(descriptor->full_name());
}

Result<std::string> ResponseToJson(std::string_view route_name, const std::string& protobuf) {
  const auto* descriptor = ResponseDescriptorOf(route_name);
  if (descriptor == nullptr) {
    return UnknownError("no JSON encoding for route " + std::string(route_name));
  }
  std::unique_ptr<google::protobuf::Message> message(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(descriptor)->New());
  if (!message->ParseFromString(protobuf)) return UnknownError("response does not decode");
  return wire::ModelJson(*message);
}

}  // namespace bbs::api
