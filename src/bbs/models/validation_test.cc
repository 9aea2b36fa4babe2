#include "bbs/models/validation.h"

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace bbs::wire {
namespace {

// Passes when `status` is OK; the failure message names what came back instead.
::testing::AssertionResult IsOk(const Status& status) {
  if (status.ok()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected OK, got " << status.ToString();
}

// Passes when `status` is InvalidRequest with exactly `message`.
::testing::AssertionResult IsInvalid(const Status& status, const std::string& message) {
  if (!status.ok() && status.code() == ErrorCode::kInvalidRequest && status.message() == message) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected InvalidRequest: " << message << ", got " << status.ToString();
}

models::Action RunAction() {
  models::Action action;
  action.mutable_run_action()->set_path("/bin/sleep");
  action.mutable_run_action()->set_user("vcap");
  return action;
}

models::DesiredLRP ValidLrp() {
  models::DesiredLRP lrp;
  lrp.set_process_guid("app-guid_1");
  lrp.set_domain("cf-apps");
  lrp.set_root_fs("preloaded:cflinuxfs4");
  *lrp.mutable_action() = RunAction();
  (*lrp.mutable_metric_tags())["source_id"].set_static_("app-guid");
  return lrp;
}

models::TaskDefinition ValidTaskDefinition() {
  models::TaskDefinition definition;
  definition.set_root_fs("docker:///busybox");
  *definition.mutable_action() = RunAction();
  return definition;
}

// A rule for `protocol` to `destination`, nothing else set.
models::SecurityGroupRule Rule(const std::string& protocol, const std::string& destination) {
  models::SecurityGroupRule rule;
  rule.set_protocol(protocol);
  rule.add_destinations(destination);
  return rule;
}

models::SecurityGroupRule TcpRule() {
  models::SecurityGroupRule rule = Rule("tcp", "10.0.0.1");
  rule.add_ports(80);
  return rule;
}

models::ImageLayer SharedLayer() {
  models::ImageLayer layer;
  layer.set_url("http://example.com/layer.tgz");
  layer.set_destination_path("/layer");
  layer.set_layer_type(models::ImageLayer::SHARED);
  layer.set_media_type(models::ImageLayer::TGZ);
  return layer;
}

// An exclusive layer: SharedLayer() with a digest.
models::ImageLayer ExclusiveLayer(models::ImageLayer::DigestAlgorithm algorithm) {
  models::ImageLayer layer = SharedLayer();
  layer.set_layer_type(models::ImageLayer::EXCLUSIVE);
  layer.set_digest_algorithm(algorithm);
  layer.set_digest_value("abc");
  return layer;
}

models::ActualLRPKey ValidKey() {
  models::ActualLRPKey key;
  key.set_process_guid("pg");
  key.set_index(0);
  key.set_domain("d");
  return key;
}

models::ActualLRPInstanceKey ValidInstanceKey() {
  models::ActualLRPInstanceKey key;
  key.set_instance_guid("ig");
  key.set_cell_id("cell");
  return key;
}

// --- the verdicts: one row per case -----------------------------------------------------------

// One case: what validating a model or request built for it returns, and what upstream returns:
// "" for OK, otherwise InvalidRequest with exactly this (Go's) message.
struct Case {
  std::string name;
  std::function<Status()> validate;
  std::string expected;
};

class ValidationTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidationTest, GivesUpstreamsVerdict) {
  const Status status = GetParam().validate();
  if (GetParam().expected.empty()) {
    EXPECT_TRUE(IsOk(status));
  } else {
    EXPECT_TRUE(IsInvalid(status, GetParam().expected));
  }
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// All the cases of `parts`, in order.
std::vector<Case> Join(std::initializer_list<std::vector<Case>> parts) {
  std::vector<Case> cases;
  for (const std::vector<Case>& part : parts) {
    cases.insert(cases.end(), part.begin(), part.end());
  }
  return cases;
}

// Validates a default `Request` after `fill`.
template <typename Request>
std::function<Status()> Req(std::function<void(Request&)> fill = [](Request&) {}) {
  return [fill] {
    Request request;
    fill(request);
    return Validate(request);
  };
}

// A row of a model's table: the model is the table's starting one after `change`.
template <typename Model>
struct Row {
  const char* name;
  std::function<void(Model&)> change;
  const char* expected;
};

// The cases of a model's table: each row's change applied to a copy of `start`, then `validate`.
template <typename Model>
std::vector<Case> Cases(const Model& start, Status (*validate)(const Model&),
                        std::vector<Row<Model>> rows) {
  std::vector<Case> cases;
  for (Row<Model>& row : rows) {
    cases.push_back({row.name,
                     [start, validate, change = std::move(row.change)] {
                       Model model = start;
                       change(model);
                       return validate(model);
                     },
                     row.expected});
  }
  return cases;
}

// --- guids and URLs ----------------------------------------------------------------------------

TEST(GuidTest, AcceptsLettersDigitsUnderscoreAndDash) {
  EXPECT_TRUE(IsValidGuid("aZ09_-"));
  for (const char* guid : {"", "a.b", "a b"}) {
    EXPECT_FALSE(IsValidGuid(guid)) << guid;
  }
}

TEST(UrlWithSchemeTest, AcceptsUpstreamRootfsExamples) {
  for (const char* rootfs :
       {"preloaded:cflinuxfs4", "preloaded+layer:cflinuxfs4?layer=http://x/y.tgz&z=%zz",
        "docker:///busybox", "docker://registry:5000/img#tag", "docker://user:p%40ss@registry/img",
        "scheme:", "docker://[::1]:80/img"}) {
    EXPECT_TRUE(IsUrlWithScheme(rootfs)) << rootfs;
  }
}

TEST(UrlWithSchemeTest, RejectsStringsWithoutASchemeAndWhatGoUrlParseRejects) {
  for (const char* rootfs :
       {"", "cflinuxfs4", "/path/only", ":nothing", "1abc:x", "ab_c:x", "docker:///bad\x01path",
        "docker:///bad%zzescape", "docker:///trailing%4", "docker://host:port/img",
        "docker://ho st/img", "docker://[::1/img", "docker:///img#bad%"}) {
    EXPECT_FALSE(IsUrlWithScheme(rootfs)) << rootfs;
  }
}

// --- simple requests (§7.1) ----------------------------------------------------------------------

// The three verdicts on a request that names an instance by both keys: `kind` names the request.
template <typename Request>
std::vector<Case> BothKeysCases(const std::string& kind) {
  return {
      {kind + "WithoutKeys", Req<Request>(),
       "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key"},
      {kind + "WithoutInstanceGuid", Req<Request>([](auto& r) {
         *r.mutable_actual_lrp_key() = ValidKey();
         r.mutable_actual_lrp_instance_key()->set_cell_id("cell");
       }),
       "Invalid field: instance_guid"},
      {kind + "WithBothKeys", Req<Request>([](auto& r) {
         *r.mutable_actual_lrp_key() = ValidKey();
         *r.mutable_actual_lrp_instance_key() = ValidInstanceKey();
       }),
       ""},
  };
}

// Both valid keys on a request.
void SetKeys(auto& request) {
  *request.mutable_actual_lrp_key() = ValidKey();
  *request.mutable_actual_lrp_instance_key() = ValidInstanceKey();
}

template <typename Request>
using Fill = std::function<void(Request&)>;

// The two cases of a rule that needs something: `rule`_Invalid, the request after `start`, fails
// with `message`; `rule`_Valid, the request after `start` and `fill`, passes.
template <typename Request>
std::vector<Case> Required(
    const std::string& rule, const std::string& message, Fill<Request> fill,
    Fill<Request> start = [](Request&) {}) {
  return {{rule + "_Invalid", Req<Request>(start), message},
          {rule + "_Valid", Req<Request>([start, fill](Request& request) {
             start(request);
             fill(request);
           }),
           ""}};
}

void SetTaskGuid(auto& request) { request.set_task_guid("t"); }

void SetTaskGuidAndCell(auto& request) {
  request.set_task_guid("t");
  request.set_cell_id("cell");
}

void SetProcessGuid(auto& request) { request.set_process_guid("pg"); }

void SetProcessGuidAndIndexZero(auto& request) {
  request.set_process_guid("pg");
  request.set_index(0);
}

void SetAnAddress(auto& request) { request.mutable_actual_lrp_net_info()->set_address("10.0.0.1"); }

std::vector<Case> RequestCases() {
  using models::ActualLRPGroupByProcessGuidAndIndexRequest;
  std::vector<Case> multi_step = {
      {"ClaimWithoutGuidAndInstanceKey", Req<models::ClaimActualLRPRequest>(),
       "Invalid field: process_guid, Invalid field: actual_lrp_instance_key"},
      {"ClaimWithAnEmptyInstanceKey", Req<models::ClaimActualLRPRequest>([](auto& r) {
         r.set_process_guid("pg");
         r.mutable_actual_lrp_instance_key();
       }),
       "Invalid field: cell_id, Invalid field: instance_guid"},
      {"ClaimWithGuidAndInstanceKeyIgnoresTheIndex",
       Req<models::ClaimActualLRPRequest>([](auto& r) {
         r.set_process_guid("pg");
         *r.mutable_actual_lrp_instance_key() = ValidInstanceKey();
         r.set_index(-5);
       }),
       ""},
      {"StartWithoutKeysAndNetInfo", Req<models::StartActualLRPRequest>(),
       "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key, "
       "Invalid field: actual_lrp_net_info"},
      {"StartWithABadKeyAndNoAddress", Req<models::StartActualLRPRequest>([](auto& r) {
         r.mutable_actual_lrp_key()->set_index(-1);
         *r.mutable_actual_lrp_instance_key() = ValidInstanceKey();
         r.mutable_actual_lrp_net_info();
       }),
       "Invalid field: process_guid, Invalid field: index, Invalid field: domain, "
       "Invalid field: address"},
      {"StartWithKeysAndAddress", Req<models::StartActualLRPRequest>([](auto& r) {
         SetKeys(r);
         SetAnAddress(r);
       }),
       ""},
      {"RetireWithoutKey", Req<models::RetireActualLRPRequest>(), "Invalid field: actual_lrp_key"},
      {"RetireWithAKeyWithoutDomain", Req<models::RetireActualLRPRequest>([](auto& r) {
         *r.mutable_actual_lrp_key() = ValidKey();
         r.mutable_actual_lrp_key()->clear_domain();
       }),
       "Invalid field: domain"},
      {"RetireWithKey", Req<models::RetireActualLRPRequest>([](auto& r) {
         *r.mutable_actual_lrp_key() = ValidKey();
       }),
       ""},
      {"UpdateWithoutGuidAndUpdateIsRejectedInsteadOfCrashing",
       Req<models::UpdateDesiredLRPRequest>(),
       "Invalid field: process_guid, Invalid field: update"},
      {"UpdateToNegativeInstances", Req<models::UpdateDesiredLRPRequest>([](auto& r) {
         r.set_process_guid("pg");
         r.mutable_update()->set_instances(-1);
       }),
       "Invalid field: instances"},
      {"UpdateToTwoInstances", Req<models::UpdateDesiredLRPRequest>([](auto& r) {
         r.set_process_guid("pg");
         r.mutable_update()->set_instances(2);
       }),
       ""},
      {"DesireTaskWithABadGuidAndNothingElse",
       Req<models::DesireTaskRequest>([](auto& r) { r.set_task_guid("bad guid"); }),
       "Invalid field: task_guid, Invalid field: domain, Invalid field: task_definition"},
      {"DesireTaskWithAnEmptyDefinition", Req<models::DesireTaskRequest>([](auto& r) {
         r.set_task_guid("task-1");
         r.set_domain("cf-tasks");
         r.mutable_task_definition();
       }),
       "Invalid field: rootfs, invalid action type"},
      {"DesireTaskWithAValidDefinition", Req<models::DesireTaskRequest>([](auto& r) {
         r.set_task_guid("task-1");
         r.set_domain("cf-tasks");
         *r.mutable_task_definition() = ValidTaskDefinition();
       }),
       ""},
  };
  std::vector<Case> filters = {
      {"ActualLrpsFilterIsAlwaysValid", Req<models::ActualLRPsRequest>(), ""},
      {"ActualLrpGroupsFilterIsAlwaysValid", Req<models::ActualLRPGroupsRequest>(), ""},
      {"DesiredLrpsFilterIsAlwaysValid", Req<models::DesiredLRPsRequest>(), ""},
      {"TasksFilterIsAlwaysValid", Req<models::TasksRequest>(), ""},
      {"EventsByCellIdIsAlwaysValid", Req<models::EventsByCellId>(), ""},
  };
  return Join({
      filters,
      multi_step,
      Required<models::UpsertDomainRequest>("UpsertDomainRequiresADomain", "Invalid field: domain",
                                            [](auto& r) { r.set_domain("cf-apps"); }),
      Required<models::ActualLRPsByProcessGuidsRequest>(
          "ActualLrpsByProcessGuidsNeedsAtLeastOneGuid", "process_guids must not be empty",
          [](auto& r) { r.add_process_guids("pg"); }),
      Required<models::ActualLRPGroupsByProcessGuidRequest>(
          "GroupsByProcessGuidNeedAProcessGuid", "Invalid field: process_guid",
          SetProcessGuid<models::ActualLRPGroupsByProcessGuidRequest>),
      Required<ActualLRPGroupByProcessGuidAndIndexRequest>(
          "GroupByIndexNeedsAProcessGuidAndANonNegativeIndex",
          "Invalid field: process_guid, Invalid field: index",
          SetProcessGuidAndIndexZero<ActualLRPGroupByProcessGuidAndIndexRequest>,
          [](auto& r) { r.set_index(-1); }),
      Required<models::RemoveActualLRPRequest>(
          "RemoveActualLrpNeedsAGuidAndNonNegativeIndexOnly",
          "Invalid field: process_guid, Invalid field: index",
          [](auto& r) {
            SetProcessGuidAndIndexZero(r);
            r.mutable_actual_lrp_instance_key();  // present but empty: unchecked
          },
          [](auto& r) { r.set_index(-1); }),
      Required<models::EvacuateRunningActualLRPRequest>(
          "EvacuateRunningNeedsNetInfoWithAnAddress", "Invalid field: actual_lrp_net_info",
          SetAnAddress<models::EvacuateRunningActualLRPRequest>,
          SetKeys<models::EvacuateRunningActualLRPRequest>),
      BothKeysCases<models::CrashActualLRPRequest>("Crash"),
      BothKeysCases<models::EvacuateClaimedActualLRPRequest>("EvacuateClaimed"),
      BothKeysCases<models::EvacuateStoppedActualLRPRequest>("EvacuateStopped"),
      BothKeysCases<models::RemoveEvacuatingActualLRPRequest>("RemoveEvacuating"),
      Required<models::EvacuateCrashedActualLRPRequest>(
          "EvacuateCrashedAlsoNeedsAnErrorMessage", "Invalid field: error_message",
          [](auto& r) { r.set_error_message("boom"); },
          SetKeys<models::EvacuateCrashedActualLRPRequest>),
      Required<models::FailActualLRPRequest>(
          "FailNeedsAKeyAndAnErrorMessage",
          "Invalid field: actual_lrp_key, Invalid field: error_message",
          [](auto& r) {
            *r.mutable_actual_lrp_key() = ValidKey();
            r.set_error_message("no capacity");
          }),
      Required<models::DesiredLRPByProcessGuidRequest>(
          "DesiredLrpByProcessGuidNeedsAProcessGuid", "Invalid field: process_guid",
          SetProcessGuid<models::DesiredLRPByProcessGuidRequest>),
      Required<models::RemoveDesiredLRPRequest>("RemoveDesiredLrpNeedsAProcessGuid",
                                                "Invalid field: process_guid",
                                                SetProcessGuid<models::RemoveDesiredLRPRequest>),
      Required<models::DesireLRPRequest>("DesireLrpNeedsADesiredLrp", "Invalid field: desired_lrp",
                                         [](auto& r) { *r.mutable_desired_lrp() = ValidLrp(); }),
      Required<models::TaskByGuidRequest>("TaskByGuidNeedsANonEmptyGuidOfAnyShape",
                                          "Invalid field: task_guid",
                                          [](auto& r) { r.set_task_guid("not a pattern guid!"); }),
      Required<models::TaskGuidRequest>("TaskGuidNeedsANonEmptyGuid", "Invalid field: task_guid",
                                        SetTaskGuid<models::TaskGuidRequest>),
      Required<models::StartTaskRequest>(
          "StartTaskNeedsAPatternGuidAndCell", "Invalid field: task_guid, Invalid field: cell_id",
          SetTaskGuidAndCell<models::StartTaskRequest>, [](auto& r) { r.set_task_guid("a/b"); }),
      Required<models::CompleteTaskRequest>("CompleteTaskNeedsAPatternGuidAndCell",
                                            "Invalid field: task_guid, Invalid field: cell_id",
                                            SetTaskGuidAndCell<models::CompleteTaskRequest>),
      Required<models::FailTaskRequest>(
          "FailTaskNeedsAFailureReason", "Invalid field: failure_reason",
          [](auto& r) { r.set_failure_reason("why"); }, SetTaskGuid<models::FailTaskRequest>),
      Required<models::RejectTaskRequest>(
          "RejectTaskReportsAMissingReasonAsFailureReason", "Invalid field: failure_reason",
          [](auto& r) { r.set_rejection_reason("full"); }, SetTaskGuid<models::RejectTaskRequest>),
  });
}

INSTANTIATE_TEST_SUITE_P(SimpleRequests, ValidationTest, ::testing::ValuesIn(RequestCases()),
                         CaseName);

// --- keys (§7.2) ---------------------------------------------------------------------------------

std::vector<Case> KeyCases() {
  return Join({
      Cases(models::ActualLRPKey(), ValidateActualLrpKey,
            {
                {"ActualLrpKeyNeedsGuidIndexAndDomain", [](auto& key) { key.set_index(-1); },
                 "Invalid field: process_guid, Invalid field: index, Invalid field: domain"},
                {"ActualLrpKeyTakesAGuidOfAnyCharacters",
                 [](auto& key) {
                   key = ValidKey();
                   key.set_process_guid("any thing/goes");
                 },
                 ""},
            }),
      Cases(models::ActualLRPInstanceKey(), ValidateActualLrpInstanceKey,
            {
                {"InstanceKeyNeedsCellAndInstanceGuid", [](auto&) {},
                 "Invalid field: cell_id, Invalid field: instance_guid"},
                {"InstanceKeyWithCellAndInstanceGuid", [](auto& key) { key = ValidInstanceKey(); },
                 ""},
            }),
  });
}

INSTANTIATE_TEST_SUITE_P(Keys, ValidationTest, ::testing::ValuesIn(KeyCases()), CaseName);

// --- DesiredLRP (§7.3) ---------------------------------------------------------------------------

// Volume-mounted files with these contents.
void AddFiles(models::DesiredLRP& lrp, std::initializer_list<std::string> contents) {
  for (const std::string& content : contents) {
    lrp.add_volume_mounted_files()->set_content(content);
  }
}

// Route values of 131072 bytes in total (the keys do not count), the most upstream allows.
void AddRoutesAtTheLimit(models::DesiredLRP& lrp) {
  auto& routes = *lrp.mutable_routes()->mutable_routes();
  routes["cf-router"] = std::string(131072 - 10, ' ');
  routes["long-key-not-counted"] = std::string(10, ' ');
}

void AddDynamicMetricTags(models::DesiredLRP& lrp) {
  (*lrp.mutable_metric_tags())["index"].set_dynamic(models::MetricTagValue::INDEX);
  (*lrp.mutable_metric_tags())["guid"].set_dynamic(models::MetricTagValue::INSTANCE_GUID);
}

void AddCachedDependency(models::DesiredLRP& lrp) {
  models::CachedDependency* dependency = lrp.add_cached_dependencies();
  dependency->set_from("http://x");
  dependency->set_to("/y");
}

void AddTwoExclusiveLayers(models::DesiredLRP& lrp) {
  *lrp.add_image_layers() = ExclusiveLayer(models::ImageLayer::SHA256);
  *lrp.add_image_layers() = ExclusiveLayer(models::ImageLayer::SHA256);
}

models::VolumeMount* AddNfsMount(models::DesiredLRP& lrp) {
  models::VolumeMount* mount = lrp.add_volume_mounts();
  mount->set_driver("nfs");
  mount->set_mode("rw");
  return mount;
}

std::vector<Case> DesiredLrpCases() {
  return Cases(
      ValidLrp(), ValidateDesiredLrp,
      {
          {"AcceptsAMinimalLrp", [](auto&) {}, ""},
          {"ReportsEveryProblemOfAnEmptyLrpInUpstreamOrder",
           [](auto& lrp) { lrp = models::DesiredLRP(); },
           "Invalid field: domain, Invalid field: rootfs, Invalid field: rootfs, "
           "Invalid field: metric_tags, Invalid field: domain, Invalid field: process_guid, "
           "invalid action type"},
          {"VolumeMountedFilesUpToOneMebibyte",
           [](auto& lrp) {
             AddFiles(lrp, {std::string(1024 * 1024 - 1, 'x'), "y"});
           },
           ""},
          {"VolumeMountedFilesOverOneMebibyte",
           [](auto& lrp) {
             AddFiles(lrp, {std::string(1024 * 1024 - 1, 'x'), "y", "z"});
           },
           "Invalid field: volumeMountedFiles, Invalid field: volumeMountedFiles"},
          {"RootfsMustBeAUrlWithAScheme", [](auto& lrp) { lrp.set_root_fs("cflinuxfs4"); },
           "Invalid field: rootfs"},
          {"CountsAndSizesMustNotBeNegative",
           [](auto& lrp) {
             lrp.set_instances(-1);
             lrp.set_memory_mb(-1);
             lrp.set_disk_mb(-1);
             lrp.set_max_pids(-1);
           },
           "Invalid field: instances, Invalid field: memory_mb, Invalid field: disk_mb, "
           "Invalid field: max_pids"},
          {"ZeroInstancesAndPids",
           [](auto& lrp) {
             lrp.set_instances(0);
             lrp.set_max_pids(0);
           },
           ""},
          {"LogRateLimitOfMinusOne",
           [](auto& lrp) { lrp.mutable_log_rate_limit()->set_bytes_per_second(-1); }, ""},
          {"LogRateLimitBelowMinusOneIsReportedTwice",
           [](auto& lrp) { lrp.mutable_log_rate_limit()->set_bytes_per_second(-2); },
           "Invalid field: log_rate_limit_bytes_per_second, Invalid field: log_rate_limit"},
          {"AnnotationOf10240Bytes", [](auto& lrp) { lrp.set_annotation(std::string(10240, 'a')); },
           ""},
          {"AnnotationOf10241Bytes", [](auto& lrp) { lrp.set_annotation(std::string(10241, 'a')); },
           "Invalid field: annotation"},
          {"RouteValuesOf131072BytesInTotal", AddRoutesAtTheLimit, ""},
          {"RouteValuesOver131072BytesInTotal",
           [](auto& lrp) {
             AddRoutesAtTheLimit(lrp);
             (*lrp.mutable_routes()->mutable_routes())["x"] = " ";
           },
           "Invalid field: routes"},
          {"DynamicMetricTags", AddDynamicMetricTags, ""},
          {"AMetricTagWithBothStaticAndDynamic",
           [](auto& lrp) {
             AddDynamicMetricTags(lrp);
             models::MetricTagValue both;
             both.set_static_("s");
             both.set_dynamic(models::MetricTagValue::INDEX);
             (*lrp.mutable_metric_tags())["both"] = both;
           },
           "Invalid field: metric_tags, Invalid field: static, Invalid field: dynamic"},
          {"AMetricTagEntryWithoutValueIsInvalidInsteadOfCrashing",
           [](auto& lrp) { (*lrp.mutable_metric_tags())["empty"]; },
           "Invalid field: metric_tags, Invalid field: static, Invalid field: dynamic"},
          {"MetricsGuidMatchingTheSourceIdTag", [](auto& lrp) { lrp.set_metrics_guid("app-guid"); },
           ""},
          {"MetricsGuidNotMatchingTheSourceIdTag", [](auto& lrp) { lrp.set_metrics_guid("other"); },
           "Invalid field: metric_tags, Invalid field: source_id should match metrics_guid"},
          {"ProcessGuidMustMatchThePattern", [](auto& lrp) { lrp.set_process_guid("has.dot"); },
           "Invalid field: process_guid"},
          {"SetupActionAndMonitorAreValidatedWithDetails",
           [](auto& lrp) {
             lrp.mutable_setup()->mutable_run_action();
             lrp.mutable_action()->mutable_run_action()->clear_user();
             lrp.mutable_monitor();
           },
           "Invalid field: setup, Invalid field: path, Invalid field: user, "
           "Invalid field: action, Invalid field: user, "
           "Invalid field: monitor, Invalid field: inner-action"},
          {"AnEnvironmentVariableWithAName",
           [](auto& lrp) { lrp.add_environment_variables()->set_name("A"); }, ""},
          {"AnEnvironmentVariableWithoutAName",
           [](auto& lrp) {
             lrp.add_environment_variables()->set_name("A");
             lrp.add_environment_variables()->set_value("v");
           },
           "invalid field: name cannot be blank"},
          {"AValidEgressRule", [](auto& lrp) { *lrp.add_egress_rules() = TcpRule(); }, ""},
          {"EgressRulesAreReportedWithDetails",
           [](auto& lrp) {
             *lrp.add_egress_rules() = TcpRule();
             lrp.mutable_egress_rules(0)->set_protocol("sctp");
           },
           "Invalid field: egress_rules, Invalid field: protocol"},
          {"AValidCachedDependency", AddCachedDependency, ""},
          {"CachedDependenciesAreReportedWithDetails",
           [](auto& lrp) {
             AddCachedDependency(lrp);
             lrp.mutable_cached_dependencies(0)->clear_to();
           },
           "Invalid field: cached_dependency, Invalid field: to"},
          {"ExclusiveLayersNeedALegacyDownloadUserOnce", AddTwoExclusiveLayers,
           "Invalid field: legacy_download_user"},
          {"ExclusiveLayersWithALegacyDownloadUser",
           [](auto& lrp) {
             AddTwoExclusiveLayers(lrp);
             lrp.set_legacy_download_user("vcap");
           },
           ""},
          {"ImageLayersAreReportedWithDetails",
           [](auto& lrp) {
             AddTwoExclusiveLayers(lrp);
             lrp.set_legacy_download_user("vcap");
             lrp.mutable_image_layers(1)->clear_url();
           },
           "Invalid field: image_layer, Invalid field: url"},
          {"AValidSidecar", [](auto& lrp) { *lrp.add_sidecars()->mutable_action() = RunAction(); },
           ""},
          {"SidecarsAreReportedWithDetails",
           [](auto& lrp) {
             models::Sidecar* sidecar = lrp.add_sidecars();
             *sidecar->mutable_action() = RunAction();
             sidecar->set_memory_mb(-1);
           },
           "Invalid field: sidecars, Invalid field: memory_mb"},
          {"AValidVolumeMount", AddNfsMount, ""},
          {"VolumeMountsAreReportedWithoutAFieldPrefix",
           [](auto& lrp) { AddNfsMount(lrp)->set_mode("w"); }, "invalid volume_mount mode"},
          {"AnImagePasswordWithoutUsername", [](auto& lrp) { lrp.set_image_password("secret"); },
           "Invalid field: image_username"},
          {"ImageCredentialsTogether",
           [](auto& lrp) {
             lrp.set_image_password("secret");
             lrp.set_image_username("user");
           },
           ""},
          {"AnImageUsernameWithoutPassword", [](auto& lrp) { lrp.set_image_username("user"); },
           "Invalid field: image_password"},
          {"AValidCheckDefinition",
           [](auto& lrp) {
             lrp.mutable_check_definition()->add_checks()->mutable_tcp_check()->set_port(8080);
           },
           ""},
          {"CheckDefinitionIsReportedWithDetails",
           [](auto& lrp) {
             models::CheckDefinition* checks = lrp.mutable_check_definition();
             checks->add_checks()->mutable_tcp_check()->set_port(8080);
             checks->add_readiness_checks()->mutable_http_check()->set_port(70000);
           },
           "Invalid field: check_definition, Invalid field: port"},
      });
}

INSTANTIATE_TEST_SUITE_P(DesiredLrp, ValidationTest, ::testing::ValuesIn(DesiredLrpCases()),
                         CaseName);

// --- DesiredLRPUpdate (§7.4) ---------------------------------------------------------------------

void SetUpdateAtTheLimits(models::DesiredLRPUpdate& update) {
  update.set_instances(0);
  update.set_annotation(std::string(10240, 'a'));
  (*update.mutable_routes()->mutable_routes())["r"] = std::string(131072, ' ');
}

std::vector<Case> DesiredLrpUpdateCases() {
  return Cases(
      models::DesiredLRPUpdate(), ValidateDesiredLrpUpdate,
      {
          {"AnEmptyUpdateIsValid", [](auto&) {}, ""},
          {"InstancesAnnotationAndRoutesAtTheLimits", SetUpdateAtTheLimits, ""},
          {"InstancesAnnotationAndRoutesBeyondTheLimits",
           [](auto& update) {
             SetUpdateAtTheLimits(update);
             update.set_instances(-1);
             update.set_annotation(std::string(10241, 'a'));
             (*update.mutable_routes()->mutable_routes())["s"] = " ";
           },
           "Invalid field: instances, Invalid field: annotation, Invalid field: routes"},
          {"AStaticMetricTag",
           [](auto& update) { (*update.mutable_metric_tags())["x"].set_static_("y"); }, ""},
          {"ChecksMetricTagValuesWithoutTheSourceIdRule",
           [](auto& update) {
             (*update.mutable_metric_tags())["x"].set_static_("y");
             (*update.mutable_metric_tags())["bad"];
           },
           "Invalid field: metric_tags, Invalid field: static, Invalid field: dynamic"},
          {"AnEmptyImageUsernameNeedsAPassword",
           [](auto& update) { update.set_image_username(""); }, "Invalid field: image_password"},
          {"ImageCredentialsPairByPresenceEvenWhenEmpty",
           [](auto& update) {
             update.set_image_username("");
             update.set_image_password("");
           },
           ""},
          {"AnEmptyImagePasswordNeedsAUsername",
           [](auto& update) { update.set_image_password(""); }, "Invalid field: image_username"},
      });
}

INSTANTIATE_TEST_SUITE_P(DesiredLrpUpdate, ValidationTest,
                         ::testing::ValuesIn(DesiredLrpUpdateCases()), CaseName);

// --- TaskDefinition (§7.5) -----------------------------------------------------------------------

std::vector<Case> TaskDefinitionCases() {
  return Cases(
      ValidTaskDefinition(), ValidateTaskDefinition,
      {
          {"AcceptsAMinimalDefinition", [](auto&) {}, ""},
          {"ReportsAnEmptyRootfsOnce", [](auto& definition) { definition.clear_root_fs(); },
           "Invalid field: rootfs"},
          {"ReportsARootfsWithoutScheme",
           [](auto& definition) { definition.set_root_fs("no-scheme"); }, "Invalid field: rootfs"},
          {"ActionIsRequired", [](auto& definition) { definition.clear_action(); },
           "invalid action type"},
          {"ActionIsValidated",
           [](auto& definition) {
             definition.clear_action();
             definition.mutable_action()->mutable_upload_action();
           },
           "Invalid field: action, Invalid field: to, Invalid field: from, Invalid field: user"},
          {"ChecksLimitsInUpstreamOrder",
           [](auto& definition) {
             definition.set_memory_mb(-1);
             definition.set_disk_mb(-1);
             definition.mutable_log_rate_limit()->set_bytes_per_second(-2);
             definition.set_max_pids(-1);
             definition.set_annotation(std::string(10241, 'a'));
           },
           "Invalid field: memory_mb, Invalid field: disk_mb, Invalid field: log_rate_limit, "
           "Invalid field: max_pids, Invalid field: annotation"},
          {"AValidEgressRule", [](auto& definition) { *definition.add_egress_rules() = TcpRule(); },
           ""},
          {"EgressRulesAreReportedWithoutDetails",
           [](auto& definition) {
             *definition.add_egress_rules() = TcpRule();
             definition.mutable_egress_rules(0)->clear_ports();
           },
           "Invalid field: egress_rules"},
          {"ChecksCredentialsDependenciesAndLayers",
           [](auto& definition) {
             definition.set_image_username("u");
             definition.add_cached_dependencies();
             *definition.add_image_layers() = ExclusiveLayer(models::ImageLayer::SHA512);
           },
           "Invalid field: image_password, Invalid field: cached_dependency, "
           "Invalid field: from, Invalid field: to, Invalid field: legacy_download_user"},
          {"DoesNotValidateEnvironmentVolumesOrMetricTags",
           [](auto& definition) {
             definition.add_environment_variables();
             definition.add_volume_mounts();
             (*definition.mutable_metric_tags())["bad"];
             definition.add_volume_mounted_files()->set_content(
                 std::string(size_t{2} * 1024 * 1024, 'x'));
           },
           ""},
      });
}

INSTANTIATE_TEST_SUITE_P(TaskDefinition, ValidationTest, ::testing::ValuesIn(TaskDefinitionCases()),
                         CaseName);

// --- actions (§7.6) ------------------------------------------------------------------------------

// A download action with from, to and user.
models::DownloadAction* AddDownload(models::Action& action) {
  models::DownloadAction* download = action.mutable_download_action();
  download->set_from("http://x");
  download->set_to("/x");
  download->set_user("vcap");
  return download;
}

// A download with a checksum value "abc" and `algorithm`.
void AddChecksummedDownload(models::Action& action, const std::string& algorithm) {
  models::DownloadAction* download = AddDownload(action);
  download->set_checksum_value("abc");
  download->set_checksum_algorithm(algorithm);
}

// An upload from /x as vcap to `to`.
void AddUpload(models::Action& action, const std::string& to) {
  action.mutable_upload_action()->set_from("/x");
  action.mutable_upload_action()->set_to(to);
  action.mutable_upload_action()->set_user("vcap");
}

std::vector<Case> ActionCases() {
  return Cases(
      models::Action(), ValidateAction,
      {
          {"AnActionWithNoMemberIsAnInvalidInnerAction", [](auto&) {},
           "Invalid field: inner-action"},
          {"DownloadNeedsFromToAndUser", [](auto& action) { action.mutable_download_action(); },
           "Invalid field: from, Invalid field: to, Invalid field: user"},
          {"DownloadWithFromToAndUser", AddDownload, ""},
          {"DownloadChecksumValueWithoutAlgorithm",
           [](auto& action) { AddChecksummedDownload(action, ""); },
           "Invalid field: checksum algorithm"},
          {"DownloadChecksumSha256UpperCase",
           [](auto& action) { AddChecksummedDownload(action, "SHA256"); }, ""},
          {"DownloadChecksumMd5", [](auto& action) { AddChecksummedDownload(action, "md5"); }, ""},
          {"DownloadChecksumSha1", [](auto& action) { AddChecksummedDownload(action, "sha1"); },
           ""},
          {"DownloadChecksumOfAnUnknownAlgorithm",
           [](auto& action) { AddChecksummedDownload(action, "sha512"); },
           "Invalid field: invalid algorithm"},
          {"DownloadChecksumAlgorithmWithoutValue",
           [](auto& action) { AddDownload(action)->set_checksum_algorithm("sha512"); },
           "Invalid field: checksum value"},
          {"UploadNeedsTo", [](auto& action) { AddUpload(action, ""); }, "Invalid field: to"},
          {"UploadWithToFromAndUser", [](auto& action) { AddUpload(action, "http://x"); }, ""},
          {"RunNeedsPathAndUser", [](auto& action) { action.mutable_run_action(); },
           "Invalid field: path, Invalid field: user"},
          {"RunWithPathAndUser", [](auto& action) { action = RunAction(); }, ""},
          {"TimeoutNeedsAChildAndAPositiveTimeout",
           [](auto& action) { action.mutable_timeout_action(); },
           "Invalid field: action, Invalid field: timeout_ms"},
          {"TimeoutNeedsAValidChild",
           [](auto& action) {
             action.mutable_timeout_action()->mutable_action();
             action.mutable_timeout_action()->set_timeout_ms(1);
           },
           "Invalid field: action, Invalid field: inner-action"},
          {"TimeoutWithAValidChild",
           [](auto& action) {
             *action.mutable_timeout_action()->mutable_action() = RunAction();
             action.mutable_timeout_action()->set_timeout_ms(1);
           },
           ""},
          {"EmitProgressNeedsAChild", [](auto& action) { action.mutable_emit_progress_action(); },
           "Invalid field: action"},
          {"EmitProgressWithAValidChild",
           [](auto& action) {
             *action.mutable_emit_progress_action()->mutable_action() = RunAction();
           },
           ""},
          {"TryNeedsAValidChild",
           [](auto& action) {
             action.mutable_try_action()->mutable_action()->mutable_run_action()->set_path("/x");
           },
           "Invalid field: action, Invalid field: user"},
          {"TryWithAValidChild",
           [](auto& action) { *action.mutable_try_action()->mutable_action() = RunAction(); }, ""},
          {"ParallelNeedsChildren", [](auto& action) { action.mutable_parallel_action(); },
           "Invalid field: actions"},
          {"SerialNeedsValidChildren",
           [](auto& action) {
             *action.mutable_serial_action()->add_actions() = RunAction();
             action.mutable_serial_action()->add_actions();
           },
           "Invalid field: action at index 1, Invalid field: inner-action"},
          {"CodependentWithAValidChild",
           [](auto& action) { *action.mutable_codependent_action()->add_actions() = RunAction(); },
           ""},
          {"OnlyTheFirstMemberSetIsValidated",
           [](auto& action) {
             action = RunAction();
             action.mutable_timeout_action();  // invalid, but run comes first
           },
           ""},
      });
}

INSTANTIATE_TEST_SUITE_P(Action, ValidationTest, ::testing::ValuesIn(ActionCases()), CaseName);

// --- egress rules (§7.7) -------------------------------------------------------------------------

void UseUdpWithPortRange(models::SecurityGroupRule& rule) {
  rule.set_protocol("udp");
  rule.mutable_port_range()->set_start(1);
  rule.mutable_port_range()->set_end(2);
}

// Ports replaced by the range start-end.
void UsePortRange(models::SecurityGroupRule& rule, uint32_t start, uint32_t end) {
  rule.clear_ports();
  rule.mutable_port_range()->set_start(start);
  rule.mutable_port_range()->set_end(end);
}

void UseIcmpType8(models::SecurityGroupRule& rule) {
  rule.set_protocol("icmp");
  rule.clear_ports();
  rule.mutable_icmp_info()->set_type(8);
}

void SetDestinations(models::SecurityGroupRule& rule,
                     std::initializer_list<const char*> destinations) {
  rule.clear_destinations();
  for (const char* destination : destinations) {
    rule.add_destinations(destination);
  }
}

std::vector<Case> EgressRuleCases() {
  return Cases(
      TcpRule(), ValidateSecurityGroupRule,
      {
          {"TcpWithPorts", [](auto&) {}, ""},
          {"UdpWithPortsAndPortRange", UseUdpWithPortRange,
           "Invalid: ports and port_range provided"},
          {"UdpWithPortRange",
           [](auto& rule) {
             UseUdpWithPortRange(rule);
             rule.clear_ports();
           },
           ""},
          {"UdpWithNeitherPortsNorPortRange",
           [](auto& rule) {
             rule.set_protocol("udp");
             rule.clear_ports();
           },
           "Missing required field: ports or port_range"},
          {"PortRangeMustStartFromOne", [](auto& rule) { UsePortRange(rule, 0, 10); },
           "Invalid field: port_range"},
          {"PortRangeMustBeAscending", [](auto& rule) { UsePortRange(rule, 11, 10); },
           "Invalid field: port_range"},
          {"PortRangeOfOnePort", [](auto& rule) { UsePortRange(rule, 10, 10); }, ""},
          {"PortsMustBePositiveAndIcmpInfoAbsent",
           [](auto& rule) {
             rule.add_ports(0);
             rule.mutable_icmp_info();
           },
           "Invalid field: ports, Invalid field: icmp_info"},
          {"IcmpNeedsIcmpInfoAndNoPorts", [](auto& rule) { rule.set_protocol("icmp"); },
           "Invalid field: ports, Invalid field: icmp_info"},
          {"IcmpWithIcmpInfo", UseIcmpType8, ""},
          {"IcmpWithAPortRange",
           [](auto& rule) {
             UseIcmpType8(rule);
             rule.mutable_port_range();
           },
           "Invalid field: port_range"},
          {"Icmpv6ReportsAMissingInfoAsIcmpv6Info",
           [](auto& rule) { rule = Rule("icmpv6", "::1"); }, "Invalid field: icmpv6_info"},
          {"Icmpv6WithIcmpInfo",
           [](auto& rule) {
             rule = Rule("icmpv6", "::1");
             rule.mutable_icmp_info();
           },
           ""},
          {"AllWithoutPortsAndIcmpInfo", [](auto& rule) { rule = Rule("all", "0.0.0.0/0"); }, ""},
          {"AllForbidsPortsAndIcmpInfo",
           [](auto& rule) {
             rule = Rule("all", "0.0.0.0/0");
             rule.add_ports(1);
             rule.mutable_port_range();
             rule.mutable_icmp_info();
           },
           "Invalid field: port_range, Invalid field: ports, Invalid field: icmp_info"},
          {"UnknownProtocolsAreRejected", [](auto& rule) { rule.set_protocol("TCP"); },
           "Invalid field: protocol"},
          {"NeedsAtLeastOneDestination", [](auto& rule) { rule.clear_destinations(); },
           "Invalid field: destinations [ Must have at least 1 destination ]"},
          {"AcceptsIpsCidrsAndAscendingRangesInCommaLists",
           [](auto& rule) {
             SetDestinations(rule,
                             {"10.0.0.1,10.0.0.0/8,10.0.0.1-10.0.0.9", "2001:db8::1",
                              "2001:db8::/32,::1-::2,10.0.0.0/008", "1.2.3.4-::ffff:1.2.3.5"});
           },
           ""},
          {"RejectsMalformedDestinationsWithDetails",
           [](auto& rule) {
             SetDestinations(rule, {"10.0.0.256,10.0.0.0/33,10.0.0.9-10.0.0.1", "01.2.3.4",
                                    "::/129,example.com,1.2.3.4/"});
           },
           "Invalid field: destinations [ Invalid IP: 10.0.0.256, Invalid CIDR: 10.0.0.0/33, "
           "Invalid IP range: 10.0.0.9-10.0.0.1, Invalid IP: 01.2.3.4, Invalid CIDR: ::/129, "
           "Invalid IP: example.com, Invalid CIDR: 1.2.3.4/ ]"},
          {"AnEmptyPieceOfACommaListIsInvalid",
           [](auto& rule) { SetDestinations(rule, {"10.0.0.1,"}); },
           "Invalid field: destinations [ Invalid IP:  ]"},
      });
}

INSTANTIATE_TEST_SUITE_P(EgressRule, ValidationTest, ::testing::ValuesIn(EgressRuleCases()),
                         CaseName);

// --- other nested models (§7.8) ------------------------------------------------------------------

void SetFromAndTo(models::CachedDependency& dependency) {
  dependency.set_from("http://x");
  dependency.set_to("/x");
  dependency.set_checksum_algorithm("sha1");
}

// A cell that passes every check but the disk's, which is `disk_mb`.
void FillCell(models::CellPresence& cell, int32_t disk_mb) {
  cell.set_cell_id("cell");
  cell.set_rep_address("http://10.0.0.1:1800");
  cell.set_rep_url("https://cell.service.cf.internal:1801");
  cell.mutable_capacity()->set_memory_mb(1024);
  cell.mutable_capacity()->set_containers(10);
  cell.mutable_capacity()->set_disk_mb(disk_mb);
  (*cell.mutable_annotations())["k"] = "v";
}

std::vector<Case> NestedModelCases() {
  using models::ImageLayer;
  return Join({
      Cases(models::CachedDependency(), ValidateCachedDependency,
            {
                {"CachedDependencyNeedsFromAndTo", [](auto&) {},
                 "Invalid field: from, Invalid field: to"},
                {"CachedDependencyNeedsAPairedChecksum", SetFromAndTo,
                 "Invalid field: checksum value"},
                {"CachedDependencyWithAChecksum",
                 [](auto& dependency) {
                   SetFromAndTo(dependency);
                   dependency.set_checksum_value("abc");
                 },
                 ""},
            }),
      Cases(SharedLayer(), ValidateImageLayer,
            {
                {"ImageLayerShared", [](auto&) {}, ""},
                {"ImageLayerNeedsUrlDestinationAndKnownEnums",
                 [](auto& layer) { layer = ImageLayer(); },
                 "Invalid field: url, Invalid field: destination_path, "
                 "Invalid field: layer_type, Invalid field: media_type"},
                {"ImageLayerZip", [](auto& layer) { layer.set_media_type(ImageLayer::ZIP); }, ""},
                {"ImageLayerOfUnknownEnums",
                 [](auto& layer) {
                   layer.set_media_type(static_cast<ImageLayer::MediaType>(9));
                   layer.set_layer_type(static_cast<ImageLayer::Type>(7));
                 },
                 "Invalid field: layer_type, Invalid field: media_type"},
                {"ImageLayerDigestValueWithoutAlgorithm",
                 [](auto& layer) { layer.set_digest_value("abc"); },
                 "Invalid field: digest_algorithm"},
                {"ImageLayerDigestAlgorithmWithoutValue",
                 [](auto& layer) { layer.set_digest_algorithm(ImageLayer::SHA256); },
                 "Invalid field: digest_value"},
                {"ImageLayerWithADigest",
                 [](auto& layer) {
                   layer.set_digest_algorithm(ImageLayer::SHA256);
                   layer.set_digest_value("abc");
                 },
                 ""},
                {"ImageLayerDigestOfAnUnknownAlgorithm",
                 [](auto& layer) {
                   layer.set_digest_algorithm(static_cast<ImageLayer::DigestAlgorithm>(3));
                   layer.set_digest_value("abc");
                 },
                 "Invalid field: digest_algorithm"},
                {"ImageLayerExclusiveNeedsADigest",
                 [](auto& layer) { layer.set_layer_type(ImageLayer::EXCLUSIVE); },
                 "Invalid field: digest_algorithm, Invalid field: digest_value"},
            }),
      Cases(models::VolumeMount(), ValidateVolumeMount,
            {
                {"VolumeMountNeedsDriverModeAndDeviceIds",
                 [](auto& mount) {
                   mount.mutable_shared();
                   mount.mutable_dedicated();
                 },
                 "invalid volume_mount driver, invalid volume_mount mode, "
                 "invalid volume_mount volume id, invalid volume_mount mounter id"},
                {"VolumeMountWithDriverModeAndDeviceIds",
                 [](auto& mount) {
                   mount.set_driver("nfs");
                   mount.set_mode("r");
                   mount.mutable_shared()->set_volume_id("v");
                   mount.mutable_dedicated()->set_mounter_id("m");
                 },
                 ""},
            }),
      Cases(models::CheckDefinition(), ValidateCheckDefinition,
            {
                {"ChecksWithPortsInRange",
                 [](auto& checks) {
                   checks.add_checks()->mutable_http_check()->set_port(65535);
                   checks.add_readiness_checks()->mutable_tcp_check()->set_port(1);
                 },
                 ""},
                {"ACheckWithTwoMembers",
                 [](auto& checks) {
                   models::Check* check = checks.add_checks();
                   check->mutable_tcp_check()->set_port(1);
                   check->mutable_http_check()->set_port(1);
                 },
                 "Invalid field: check"},
                {"ACheckWithNoMember", [](auto& checks) { checks.add_checks(); },
                 "Invalid field: port"},
                {"AReadinessCheckOnPortZero",
                 [](auto& checks) { checks.add_readiness_checks()->mutable_tcp_check(); },
                 "Invalid field: port"},
            }),
      Cases(models::Sidecar(), ValidateSidecar,
            {
                {"SidecarNeedsAnActionAndNonNegativeResources",
                 [](auto& sidecar) { sidecar.set_disk_mb(-1); },
                 "invalid action type, Invalid field: disk_mb"},
                {"SidecarNeedsAValidAction", [](auto& sidecar) { sidecar.mutable_action(); },
                 "Invalid field: action, Invalid field: inner-action"},
                {"SidecarWithAValidAction",
                 [](auto& sidecar) { *sidecar.mutable_action() = RunAction(); }, ""},
            }),
      Cases(models::MetricTagValue(), ValidateMetricTagValue,
            {
                {"MetricTagValueStatic", [](auto& value) { value.set_static_("s"); }, ""},
                {"MetricTagValueOfAnUnknownDynamicValue",
                 [](auto& value) {
                   value.set_dynamic(static_cast<models::MetricTagValue::DynamicValue>(3));
                 },
                 "Invalid field: static, Invalid field: dynamic"},
                {"MetricTagValueInstanceGuid",
                 [](auto& value) { value.set_dynamic(models::MetricTagValue::INSTANCE_GUID); }, ""},
            }),
      Cases(models::CellPresence(), ValidateCellPresence,
            {
                {"CellNeedsIdsHttpUrlPositiveCapacityAndNonEmptyAnnotations",
                 [](auto& cell) {
                   cell.set_rep_url("ftp://rep");
                   (*cell.mutable_annotations())["k"] = "";
                 },
                 "Invalid field: cell_id, Invalid field: rep_address, Invalid field: rep_url, "
                 "Invalid field: memory_mb, Invalid field: containers, "
                 "Invalid field: annotations"},
                {"CellWithEverything", [](auto& cell) { FillCell(cell, 0); }, ""},
                {"CellWithANegativeDiskCapacity", [](auto& cell) { FillCell(cell, -1); },
                 "Invalid field: disk_mb"},
            }),
  });
}

INSTANTIATE_TEST_SUITE_P(NestedModels, ValidationTest, ::testing::ValuesIn(NestedModelCases()),
                         CaseName);

}  // namespace
}  // namespace bbs::wire
