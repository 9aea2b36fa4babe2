#include "bbs/models/validation.h"

#include <string>

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

models::SecurityGroupRule TcpRule() {
  models::SecurityGroupRule rule;
  rule.set_protocol("tcp");
  rule.add_destinations("10.0.0.1");
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

// --- guids and URLs ----------------------------------------------------------------------------

TEST(GuidTest, AcceptsLettersDigitsUnderscoreAndDash) {
  EXPECT_TRUE(IsValidGuid("aZ09_-"));
  EXPECT_FALSE(IsValidGuid(""));
  EXPECT_FALSE(IsValidGuid("a.b"));
  EXPECT_FALSE(IsValidGuid("a b"));
}

TEST(UrlWithSchemeTest, AcceptsUpstreamRootfsExamples) {
  EXPECT_TRUE(IsUrlWithScheme("preloaded:cflinuxfs4"));
  EXPECT_TRUE(IsUrlWithScheme("preloaded+layer:cflinuxfs4?layer=http://x/y.tgz&z=%zz"));
  EXPECT_TRUE(IsUrlWithScheme("docker:///busybox"));
  EXPECT_TRUE(IsUrlWithScheme("docker://registry:5000/img#tag"));
  EXPECT_TRUE(IsUrlWithScheme("docker://user:p%40ss@registry/img"));
  EXPECT_TRUE(IsUrlWithScheme("scheme:"));
}

TEST(UrlWithSchemeTest, RejectsStringsWithoutAScheme) {
  EXPECT_FALSE(IsUrlWithScheme(""));
  EXPECT_FALSE(IsUrlWithScheme("cflinuxfs4"));
  EXPECT_FALSE(IsUrlWithScheme("/path/only"));
  EXPECT_FALSE(IsUrlWithScheme(":nothing"));
  EXPECT_FALSE(IsUrlWithScheme("1abc:x"));
  EXPECT_FALSE(IsUrlWithScheme("ab_c:x"));
}

TEST(UrlWithSchemeTest, RejectsWhatGoUrlParseRejects) {
  EXPECT_FALSE(IsUrlWithScheme("docker:///bad\x01path"));
  EXPECT_FALSE(IsUrlWithScheme("docker:///bad%zzescape"));
  EXPECT_FALSE(IsUrlWithScheme("docker:///trailing%4"));
  EXPECT_FALSE(IsUrlWithScheme("docker://host:port/img"));
  EXPECT_FALSE(IsUrlWithScheme("docker://ho st/img"));
  EXPECT_FALSE(IsUrlWithScheme("docker://[::1/img"));
  EXPECT_FALSE(IsUrlWithScheme("docker:///img#bad%"));
  EXPECT_TRUE(IsUrlWithScheme("docker://[::1]:80/img"));
}

// --- simple requests (§7.1) ----------------------------------------------------------------------

TEST(SimpleRequestValidationTest, UpsertDomainRequiresADomain) {
  models::UpsertDomainRequest request;
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: domain"));
  request.set_domain("cf-apps");
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, FilterRequestsAreAlwaysValid) {
  EXPECT_TRUE(IsOk(Validate(models::ActualLRPsRequest())));
  EXPECT_TRUE(IsOk(Validate(models::ActualLRPGroupsRequest())));
  EXPECT_TRUE(IsOk(Validate(models::DesiredLRPsRequest())));
  EXPECT_TRUE(IsOk(Validate(models::TasksRequest())));
  EXPECT_TRUE(IsOk(Validate(models::EventsByCellId())));
}

TEST(SimpleRequestValidationTest, ActualLrpsByProcessGuidsNeedsAtLeastOneGuid) {
  models::ActualLRPsByProcessGuidsRequest request;
  EXPECT_TRUE(IsInvalid(Validate(request), "process_guids must not be empty"));
  request.add_process_guids("pg");
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, GroupRequestsNeedAProcessGuidAndANonNegativeIndex) {
  models::ActualLRPGroupsByProcessGuidRequest by_guid;
  EXPECT_TRUE(IsInvalid(Validate(by_guid), "Invalid field: process_guid"));
  by_guid.set_process_guid("pg");
  EXPECT_TRUE(IsOk(Validate(by_guid)));

  models::ActualLRPGroupByProcessGuidAndIndexRequest by_index;
  by_index.set_index(-1);
  EXPECT_TRUE(IsInvalid(Validate(by_index), "Invalid field: process_guid, Invalid field: index"));
  by_index.set_process_guid("pg");
  by_index.set_index(0);
  EXPECT_TRUE(IsOk(Validate(by_index)));
}

TEST(SimpleRequestValidationTest, ClaimNeedsAProcessGuidAndAValidInstanceKey) {
  models::ClaimActualLRPRequest request;
  EXPECT_TRUE(IsInvalid(Validate(request),
                        "Invalid field: process_guid, Invalid field: actual_lrp_instance_key"));
  request.set_process_guid("pg");
  request.mutable_actual_lrp_instance_key();
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: cell_id, Invalid field: instance_guid"));
  *request.mutable_actual_lrp_instance_key() = ValidInstanceKey();
  request.set_index(-5);  // not validated
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, StartNeedsKeysAndNetInfoWithAnAddress) {
  models::StartActualLRPRequest request;
  EXPECT_TRUE(IsInvalid(Validate(request),
                        "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key, "
                        "Invalid field: actual_lrp_net_info"));
  request.mutable_actual_lrp_key()->set_index(-1);
  *request.mutable_actual_lrp_instance_key() = ValidInstanceKey();
  request.mutable_actual_lrp_net_info();
  EXPECT_TRUE(IsInvalid(Validate(request),
                        "Invalid field: process_guid, Invalid field: index, Invalid field: "
                        "domain, Invalid field: address"));
  *request.mutable_actual_lrp_key() = ValidKey();
  request.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, EvacuateRunningNeedsKeysAndNetInfoWithAnAddress) {
  models::EvacuateRunningActualLRPRequest request;
  *request.mutable_actual_lrp_key() = ValidKey();
  *request.mutable_actual_lrp_instance_key() = ValidInstanceKey();
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: actual_lrp_net_info"));
  request.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
  EXPECT_TRUE(IsOk(Validate(request)));
}

template <typename Request>
void ExpectNeedsBothKeys() {
  Request request;
  EXPECT_TRUE(IsInvalid(Validate(request),
                        "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key"));
  *request.mutable_actual_lrp_key() = ValidKey();
  request.mutable_actual_lrp_instance_key()->set_cell_id("cell");
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: instance_guid"));
  *request.mutable_actual_lrp_instance_key() = ValidInstanceKey();
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, CrashAndEvacuationRequestsNeedBothKeys) {
  ExpectNeedsBothKeys<models::CrashActualLRPRequest>();
  ExpectNeedsBothKeys<models::EvacuateClaimedActualLRPRequest>();
  ExpectNeedsBothKeys<models::EvacuateStoppedActualLRPRequest>();
  ExpectNeedsBothKeys<models::RemoveEvacuatingActualLRPRequest>();
}

TEST(SimpleRequestValidationTest, EvacuateCrashedAlsoNeedsAnErrorMessage) {
  models::EvacuateCrashedActualLRPRequest request;
  *request.mutable_actual_lrp_key() = ValidKey();
  *request.mutable_actual_lrp_instance_key() = ValidInstanceKey();
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: error_message"));
  request.set_error_message("boom");
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, FailNeedsAKeyAndAnErrorMessage) {
  models::FailActualLRPRequest request;
  EXPECT_TRUE(
      IsInvalid(Validate(request), "Invalid field: actual_lrp_key, Invalid field: error_message"));
  *request.mutable_actual_lrp_key() = ValidKey();
  request.set_error_message("no capacity");
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, RetireNeedsAValidKey) {
  models::RetireActualLRPRequest request;
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: actual_lrp_key"));
  *request.mutable_actual_lrp_key() = ValidKey();
  request.mutable_actual_lrp_key()->clear_domain();
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: domain"));
  *request.mutable_actual_lrp_key() = ValidKey();
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, RemoveActualLrpNeedsAGuidAndNonNegativeIndexOnly) {
  models::RemoveActualLRPRequest request;
  request.set_index(-1);
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: process_guid, Invalid field: index"));
  request.set_process_guid("pg");
  request.set_index(0);
  request.mutable_actual_lrp_instance_key();  // present but empty: unchecked
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, DesiredLrpGuidRequestsNeedAProcessGuid) {
  models::DesiredLRPByProcessGuidRequest get;
  EXPECT_TRUE(IsInvalid(Validate(get), "Invalid field: process_guid"));
  get.set_process_guid("pg");
  EXPECT_TRUE(IsOk(Validate(get)));
  models::RemoveDesiredLRPRequest remove;
  EXPECT_TRUE(IsInvalid(Validate(remove), "Invalid field: process_guid"));
  remove.set_process_guid("pg");
  EXPECT_TRUE(IsOk(Validate(remove)));
}

TEST(SimpleRequestValidationTest, UpdateWithoutUpdateIsRejectedInsteadOfCrashing) {
  models::UpdateDesiredLRPRequest request;
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: process_guid, Invalid field: update"));
  request.set_process_guid("pg");
  request.mutable_update()->set_instances(-1);
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: instances"));
  request.mutable_update()->set_instances(2);
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, DesireLrpNeedsADesiredLrp) {
  models::DesireLRPRequest request;
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: desired_lrp"));
  *request.mutable_desired_lrp() = ValidLrp();
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, TaskGuidRequestsNeedANonEmptyGuidOfAnyShape) {
  models::TaskByGuidRequest by_guid;
  EXPECT_TRUE(IsInvalid(Validate(by_guid), "Invalid field: task_guid"));
  by_guid.set_task_guid("not a pattern guid!");
  EXPECT_TRUE(IsOk(Validate(by_guid)));
  models::TaskGuidRequest guid;
  EXPECT_TRUE(IsInvalid(Validate(guid), "Invalid field: task_guid"));
  guid.set_task_guid("t");
  EXPECT_TRUE(IsOk(Validate(guid)));
}

TEST(SimpleRequestValidationTest, DesireTaskChecksGuidPatternDomainAndDefinition) {
  models::DesireTaskRequest request;
  request.set_task_guid("bad guid");
  EXPECT_TRUE(IsInvalid(Validate(request),
                        "Invalid field: task_guid, Invalid field: domain, "
                        "Invalid field: task_definition"));
  request.set_task_guid("task-1");
  request.set_domain("cf-tasks");
  request.mutable_task_definition();
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: rootfs, invalid action type"));
  *request.mutable_task_definition() = ValidTaskDefinition();
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, StartAndCompleteTaskNeedPatternGuidAndCell) {
  models::StartTaskRequest start;
  start.set_task_guid("a/b");
  EXPECT_TRUE(IsInvalid(Validate(start), "Invalid field: task_guid, Invalid field: cell_id"));
  start.set_task_guid("t");
  start.set_cell_id("cell");
  EXPECT_TRUE(IsOk(Validate(start)));

  models::CompleteTaskRequest complete;
  EXPECT_TRUE(IsInvalid(Validate(complete), "Invalid field: task_guid, Invalid field: cell_id"));
  complete.set_task_guid("t");
  complete.set_cell_id("cell");
  EXPECT_TRUE(IsOk(Validate(complete)));
}

TEST(SimpleRequestValidationTest, FailTaskNeedsAFailureReason) {
  models::FailTaskRequest request;
  request.set_task_guid("t");
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: failure_reason"));
  request.set_failure_reason("why");
  EXPECT_TRUE(IsOk(Validate(request)));
}

TEST(SimpleRequestValidationTest, RejectTaskReportsAMissingReasonAsFailureReason) {
  models::RejectTaskRequest request;
  request.set_task_guid("t");
  EXPECT_TRUE(IsInvalid(Validate(request), "Invalid field: failure_reason"));
  request.set_rejection_reason("full");
  EXPECT_TRUE(IsOk(Validate(request)));
}

// --- keys (§7.2) ---------------------------------------------------------------------------------

TEST(KeyValidationTest, ActualLrpKeyNeedsGuidIndexAndDomainButNoCharacterSet) {
  models::ActualLRPKey key;
  key.set_index(-1);
  EXPECT_TRUE(IsInvalid(ValidateActualLrpKey(key),
                        "Invalid field: process_guid, Invalid field: index, "
                        "Invalid field: domain"));
  key = ValidKey();
  key.set_process_guid("any thing/goes");
  EXPECT_TRUE(IsOk(ValidateActualLrpKey(key)));
}

TEST(KeyValidationTest, InstanceKeyNeedsCellAndInstanceGuid) {
  EXPECT_TRUE(IsInvalid(ValidateActualLrpInstanceKey(models::ActualLRPInstanceKey()),
                        "Invalid field: cell_id, Invalid field: instance_guid"));
  EXPECT_TRUE(IsOk(ValidateActualLrpInstanceKey(ValidInstanceKey())));
}

// --- DesiredLRP (§7.3) ---------------------------------------------------------------------------

TEST(DesiredLrpValidationTest, AcceptsAMinimalLrp) {
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(ValidLrp())));
}

TEST(DesiredLrpValidationTest, ReportsEveryProblemOfAnEmptyLrpInUpstreamOrder) {
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(models::DesiredLRP()),
                        "Invalid field: domain, Invalid field: rootfs, Invalid field: rootfs, "
                        "Invalid field: metric_tags, Invalid field: domain, "
                        "Invalid field: process_guid, invalid action type"));
}

TEST(DesiredLrpValidationTest, LimitsTheTotalVolumeMountedFileContent) {
  models::DesiredLRP lrp = ValidLrp();
  lrp.add_volume_mounted_files()->set_content(std::string(1024 * 1024 - 1, 'x'));
  lrp.add_volume_mounted_files()->set_content("y");
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  lrp.add_volume_mounted_files()->set_content("z");
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp),
                        "Invalid field: volumeMountedFiles, Invalid field: volumeMountedFiles"));
}

TEST(DesiredLrpValidationTest, RootfsMustBeAUrlWithAScheme) {
  models::DesiredLRP lrp = ValidLrp();
  lrp.set_root_fs("cflinuxfs4");
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: rootfs"));
}

TEST(DesiredLrpValidationTest, CountsAndSizesMustNotBeNegative) {
  models::DesiredLRP lrp = ValidLrp();
  lrp.set_instances(-1);
  lrp.set_memory_mb(-1);
  lrp.set_disk_mb(-1);
  lrp.set_max_pids(-1);
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp),
                        "Invalid field: instances, Invalid field: memory_mb, "
                        "Invalid field: disk_mb, Invalid field: max_pids"));
  lrp = ValidLrp();
  lrp.set_instances(0);
  lrp.set_max_pids(0);
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
}

TEST(DesiredLrpValidationTest, LogRateLimitBelowMinusOneIsReportedTwice) {
  models::DesiredLRP lrp = ValidLrp();
  lrp.mutable_log_rate_limit()->set_bytes_per_second(-1);
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  lrp.mutable_log_rate_limit()->set_bytes_per_second(-2);
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp),
                        "Invalid field: log_rate_limit_bytes_per_second, "
                        "Invalid field: log_rate_limit"));
}

TEST(DesiredLrpValidationTest, AnnotationIsLimitedTo10240Bytes) {
  models::DesiredLRP lrp = ValidLrp();
  lrp.set_annotation(std::string(10240, 'a'));
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  lrp.set_annotation(std::string(10241, 'a'));
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: annotation"));
}

TEST(DesiredLrpValidationTest, RouteValuesAreLimitedTo131072BytesInTotal) {
  models::DesiredLRP lrp = ValidLrp();
  auto& routes = *lrp.mutable_routes()->mutable_routes();
  routes["cf-router"] = std::string(131072 - 10, ' ');
  routes["long-key-not-counted"] = std::string(10, ' ');
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  routes["x"] = " ";
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: routes"));
}

TEST(DesiredLrpValidationTest, EachMetricTagNeedsExactlyOneOfStaticAndDynamic) {
  models::DesiredLRP lrp = ValidLrp();
  (*lrp.mutable_metric_tags())["index"].set_dynamic(models::MetricTagValue::INDEX);
  (*lrp.mutable_metric_tags())["guid"].set_dynamic(models::MetricTagValue::INSTANCE_GUID);
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));

  models::MetricTagValue both;
  both.set_static_("s");
  both.set_dynamic(models::MetricTagValue::INDEX);
  (*lrp.mutable_metric_tags())["both"] = both;
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp),
                        "Invalid field: metric_tags, Invalid field: static, "
                        "Invalid field: dynamic"));
}

TEST(DesiredLrpValidationTest, AMetricTagEntryWithoutValueIsInvalidInsteadOfCrashing) {
  models::DesiredLRP lrp = ValidLrp();
  (*lrp.mutable_metric_tags())["empty"];
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp),
                        "Invalid field: metric_tags, Invalid field: static, "
                        "Invalid field: dynamic"));
}

TEST(DesiredLrpValidationTest, MetricsGuidMustMatchTheSourceIdTag) {
  models::DesiredLRP lrp = ValidLrp();
  lrp.set_metrics_guid("app-guid");
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  lrp.set_metrics_guid("other");
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp),
                        "Invalid field: metric_tags, "
                        "Invalid field: source_id should match metrics_guid"));
}

TEST(DesiredLrpValidationTest, ProcessGuidMustMatchThePattern) {
  models::DesiredLRP lrp = ValidLrp();
  lrp.set_process_guid("has.dot");
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: process_guid"));
}

TEST(DesiredLrpValidationTest, SetupActionAndMonitorAreValidatedWithDetails) {
  models::DesiredLRP lrp = ValidLrp();
  lrp.mutable_setup()->mutable_run_action();
  lrp.mutable_action()->mutable_run_action()->clear_user();
  lrp.mutable_monitor();
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp),
                        "Invalid field: setup, Invalid field: path, Invalid field: user, "
                        "Invalid field: action, Invalid field: user, "
                        "Invalid field: monitor, Invalid field: inner-action"));
}

TEST(DesiredLrpValidationTest, EnvironmentVariablesNeedANonEmptyName) {
  models::DesiredLRP lrp = ValidLrp();
  lrp.add_environment_variables()->set_name("A");
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  lrp.add_environment_variables()->set_value("v");
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp), "invalid field: name cannot be blank"));
}

TEST(DesiredLrpValidationTest, EgressRulesAreReportedWithDetails) {
  models::DesiredLRP lrp = ValidLrp();
  *lrp.add_egress_rules() = TcpRule();
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  lrp.mutable_egress_rules(0)->set_protocol("sctp");
  EXPECT_TRUE(
      IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: egress_rules, Invalid field: protocol"));
}

TEST(DesiredLrpValidationTest, CachedDependenciesAreReportedWithDetails) {
  models::DesiredLRP lrp = ValidLrp();
  models::CachedDependency* dependency = lrp.add_cached_dependencies();
  dependency->set_from("http://x");
  dependency->set_to("/y");
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  dependency->clear_to();
  EXPECT_TRUE(
      IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: cached_dependency, Invalid field: to"));
}

TEST(DesiredLrpValidationTest, ExclusiveLayersNeedALegacyDownloadUserOnce) {
  models::DesiredLRP lrp = ValidLrp();
  models::ImageLayer exclusive = SharedLayer();
  exclusive.set_layer_type(models::ImageLayer::EXCLUSIVE);
  exclusive.set_digest_algorithm(models::ImageLayer::SHA256);
  exclusive.set_digest_value("abc");
  *lrp.add_image_layers() = exclusive;
  *lrp.add_image_layers() = exclusive;
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: legacy_download_user"));
  lrp.set_legacy_download_user("vcap");
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  lrp.mutable_image_layers(1)->clear_url();
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: image_layer, Invalid field: url"));
}

TEST(DesiredLrpValidationTest, SidecarsAreReportedWithDetails) {
  models::DesiredLRP lrp = ValidLrp();
  models::Sidecar* sidecar = lrp.add_sidecars();
  *sidecar->mutable_action() = RunAction();
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  sidecar->set_memory_mb(-1);
  EXPECT_TRUE(
      IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: sidecars, Invalid field: memory_mb"));
}

TEST(DesiredLrpValidationTest, VolumeMountsAreReportedWithoutAFieldPrefix) {
  models::DesiredLRP lrp = ValidLrp();
  models::VolumeMount* mount = lrp.add_volume_mounts();
  mount->set_driver("nfs");
  mount->set_mode("rw");
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  mount->set_mode("w");
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp), "invalid volume_mount mode"));
}

TEST(DesiredLrpValidationTest, ImageCredentialsMustComeTogether) {
  models::DesiredLRP lrp = ValidLrp();
  lrp.set_image_password("secret");
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: image_username"));
  lrp.set_image_username("user");
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  lrp.clear_image_password();
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: image_password"));
}

TEST(DesiredLrpValidationTest, CheckDefinitionIsReportedWithDetails) {
  models::DesiredLRP lrp = ValidLrp();
  lrp.mutable_check_definition()->add_checks()->mutable_tcp_check()->set_port(8080);
  EXPECT_TRUE(IsOk(ValidateDesiredLrp(lrp)));
  lrp.mutable_check_definition()->add_readiness_checks()->mutable_http_check()->set_port(70000);
  EXPECT_TRUE(
      IsInvalid(ValidateDesiredLrp(lrp), "Invalid field: check_definition, Invalid field: port"));
}

// --- DesiredLRPUpdate (§7.4) ---------------------------------------------------------------------

TEST(DesiredLrpUpdateValidationTest, AnEmptyUpdateIsValid) {
  EXPECT_TRUE(IsOk(ValidateDesiredLrpUpdate(models::DesiredLRPUpdate())));
}

TEST(DesiredLrpUpdateValidationTest, ChecksInstancesAnnotationAndRoutes) {
  models::DesiredLRPUpdate update;
  update.set_instances(0);
  update.set_annotation(std::string(10240, 'a'));
  (*update.mutable_routes()->mutable_routes())["r"] = std::string(131072, ' ');
  EXPECT_TRUE(IsOk(ValidateDesiredLrpUpdate(update)));
  update.set_instances(-1);
  update.set_annotation(std::string(10241, 'a'));
  (*update.mutable_routes()->mutable_routes())["s"] = " ";
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrpUpdate(update),
                        "Invalid field: instances, Invalid field: annotation, "
                        "Invalid field: routes"));
}

TEST(DesiredLrpUpdateValidationTest, ChecksMetricTagValuesWithoutTheSourceIdRule) {
  models::DesiredLRPUpdate update;
  (*update.mutable_metric_tags())["x"].set_static_("y");
  EXPECT_TRUE(IsOk(ValidateDesiredLrpUpdate(update)));
  (*update.mutable_metric_tags())["bad"];
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrpUpdate(update),
                        "Invalid field: metric_tags, Invalid field: static, "
                        "Invalid field: dynamic"));
}

TEST(DesiredLrpUpdateValidationTest, ImageCredentialsPairByPresenceEvenWhenEmpty) {
  models::DesiredLRPUpdate update;
  update.set_image_username("");
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrpUpdate(update), "Invalid field: image_password"));
  update.set_image_password("");
  EXPECT_TRUE(IsOk(ValidateDesiredLrpUpdate(update)));
  update.clear_image_username();
  EXPECT_TRUE(IsInvalid(ValidateDesiredLrpUpdate(update), "Invalid field: image_username"));
}

// --- TaskDefinition (§7.5) -----------------------------------------------------------------------

TEST(TaskDefinitionValidationTest, AcceptsAMinimalDefinition) {
  EXPECT_TRUE(IsOk(ValidateTaskDefinition(ValidTaskDefinition())));
}

TEST(TaskDefinitionValidationTest, ReportsAnEmptyRootfsOnce) {
  models::TaskDefinition definition = ValidTaskDefinition();
  definition.clear_root_fs();
  EXPECT_TRUE(IsInvalid(ValidateTaskDefinition(definition), "Invalid field: rootfs"));
  definition.set_root_fs("no-scheme");
  EXPECT_TRUE(IsInvalid(ValidateTaskDefinition(definition), "Invalid field: rootfs"));
}

TEST(TaskDefinitionValidationTest, ActionIsRequiredAndValidated) {
  models::TaskDefinition definition = ValidTaskDefinition();
  definition.clear_action();
  EXPECT_TRUE(IsInvalid(ValidateTaskDefinition(definition), "invalid action type"));
  definition.mutable_action()->mutable_upload_action();
  EXPECT_TRUE(IsInvalid(ValidateTaskDefinition(definition),
                        "Invalid field: action, Invalid field: to, Invalid field: from, "
                        "Invalid field: user"));
}

TEST(TaskDefinitionValidationTest, ChecksLimitsInUpstreamOrder) {
  models::TaskDefinition definition = ValidTaskDefinition();
  definition.set_memory_mb(-1);
  definition.set_disk_mb(-1);
  definition.mutable_log_rate_limit()->set_bytes_per_second(-2);
  definition.set_max_pids(-1);
  definition.set_annotation(std::string(10241, 'a'));
  EXPECT_TRUE(IsInvalid(ValidateTaskDefinition(definition),
                        "Invalid field: memory_mb, Invalid field: disk_mb, "
                        "Invalid field: log_rate_limit, Invalid field: max_pids, "
                        "Invalid field: annotation"));
}

TEST(TaskDefinitionValidationTest, EgressRulesAreReportedWithoutDetails) {
  models::TaskDefinition definition = ValidTaskDefinition();
  *definition.add_egress_rules() = TcpRule();
  EXPECT_TRUE(IsOk(ValidateTaskDefinition(definition)));
  definition.mutable_egress_rules(0)->clear_ports();
  EXPECT_TRUE(IsInvalid(ValidateTaskDefinition(definition), "Invalid field: egress_rules"));
}

TEST(TaskDefinitionValidationTest, ChecksCredentialsDependenciesAndLayers) {
  models::TaskDefinition definition = ValidTaskDefinition();
  definition.set_image_username("u");
  definition.add_cached_dependencies();
  models::ImageLayer exclusive = SharedLayer();
  exclusive.set_layer_type(models::ImageLayer::EXCLUSIVE);
  exclusive.set_digest_algorithm(models::ImageLayer::SHA512);
  exclusive.set_digest_value("d");
  *definition.add_image_layers() = exclusive;
  EXPECT_TRUE(IsInvalid(ValidateTaskDefinition(definition),
                        "Invalid field: image_password, Invalid field: cached_dependency, "
                        "Invalid field: from, Invalid field: to, "
                        "Invalid field: legacy_download_user"));
}

TEST(TaskDefinitionValidationTest, DoesNotValidateEnvironmentVolumesOrMetricTags) {
  models::TaskDefinition definition = ValidTaskDefinition();
  definition.add_environment_variables();
  definition.add_volume_mounts();
  (*definition.mutable_metric_tags())["bad"];
  definition.add_volume_mounted_files()->set_content(std::string(size_t{2} * 1024 * 1024, 'x'));
  EXPECT_TRUE(IsOk(ValidateTaskDefinition(definition)));
}

// --- actions (§7.6) ------------------------------------------------------------------------------

TEST(ActionValidationTest, AnActionWithNoMemberIsAnInvalidInnerAction) {
  EXPECT_TRUE(IsInvalid(ValidateAction(models::Action()), "Invalid field: inner-action"));
}

TEST(ActionValidationTest, DownloadNeedsFromToAndUser) {
  models::Action action;
  models::DownloadAction* download = action.mutable_download_action();
  EXPECT_TRUE(IsInvalid(ValidateAction(action),
                        "Invalid field: from, Invalid field: to, Invalid field: user"));
  download->set_from("http://x");
  download->set_to("/x");
  download->set_user("vcap");
  EXPECT_TRUE(IsOk(ValidateAction(action)));
}

TEST(ActionValidationTest, DownloadChecksumsArePairedAndOfAKnownAlgorithm) {
  models::Action action;
  models::DownloadAction* download = action.mutable_download_action();
  download->set_from("http://x");
  download->set_to("/x");
  download->set_user("vcap");
  download->set_checksum_value("abc");
  EXPECT_TRUE(IsInvalid(ValidateAction(action), "Invalid field: checksum algorithm"));
  download->set_checksum_algorithm("SHA256");
  EXPECT_TRUE(IsOk(ValidateAction(action)));
  download->set_checksum_algorithm("md5");
  EXPECT_TRUE(IsOk(ValidateAction(action)));
  download->set_checksum_algorithm("sha1");
  EXPECT_TRUE(IsOk(ValidateAction(action)));
  download->set_checksum_algorithm("sha512");
  EXPECT_TRUE(IsInvalid(ValidateAction(action), "Invalid field: invalid algorithm"));
  download->clear_checksum_value();
  EXPECT_TRUE(IsInvalid(ValidateAction(action), "Invalid field: checksum value"));
}

TEST(ActionValidationTest, UploadNeedsToFromAndUser) {
  models::Action action;
  models::UploadAction* upload = action.mutable_upload_action();
  upload->set_from("/x");
  upload->set_user("vcap");
  EXPECT_TRUE(IsInvalid(ValidateAction(action), "Invalid field: to"));
  upload->set_to("http://x");
  EXPECT_TRUE(IsOk(ValidateAction(action)));
}

TEST(ActionValidationTest, RunNeedsPathAndUser) {
  models::Action action;
  action.mutable_run_action();
  EXPECT_TRUE(IsInvalid(ValidateAction(action), "Invalid field: path, Invalid field: user"));
  EXPECT_TRUE(IsOk(ValidateAction(RunAction())));
}

TEST(ActionValidationTest, TimeoutNeedsAValidChildAndAPositiveTimeout) {
  models::Action action;
  models::TimeoutAction* timeout = action.mutable_timeout_action();
  EXPECT_TRUE(
      IsInvalid(ValidateAction(action), "Invalid field: action, Invalid field: timeout_ms"));
  timeout->mutable_action();
  timeout->set_timeout_ms(1);
  EXPECT_TRUE(
      IsInvalid(ValidateAction(action), "Invalid field: action, Invalid field: inner-action"));
  *timeout->mutable_action() = RunAction();
  EXPECT_TRUE(IsOk(ValidateAction(action)));
}

TEST(ActionValidationTest, EmitProgressAndTryNeedAValidChild) {
  models::Action emit;
  emit.mutable_emit_progress_action();
  EXPECT_TRUE(IsInvalid(ValidateAction(emit), "Invalid field: action"));
  *emit.mutable_emit_progress_action()->mutable_action() = RunAction();
  EXPECT_TRUE(IsOk(ValidateAction(emit)));

  models::Action attempt;
  attempt.mutable_try_action()->mutable_action()->mutable_run_action()->set_path("/x");
  EXPECT_TRUE(IsInvalid(ValidateAction(attempt), "Invalid field: action, Invalid field: user"));
  *attempt.mutable_try_action()->mutable_action() = RunAction();
  EXPECT_TRUE(IsOk(ValidateAction(attempt)));
}

TEST(ActionValidationTest, CompositeActionsNeedValidNonEmptyChildren) {
  models::Action parallel;
  parallel.mutable_parallel_action();
  EXPECT_TRUE(IsInvalid(ValidateAction(parallel), "Invalid field: actions"));

  models::Action serial;
  *serial.mutable_serial_action()->add_actions() = RunAction();
  serial.mutable_serial_action()->add_actions();
  EXPECT_TRUE(IsInvalid(ValidateAction(serial),
                        "Invalid field: action at index 1, Invalid field: inner-action"));

  models::Action codependent;
  *codependent.mutable_codependent_action()->add_actions() = RunAction();
  EXPECT_TRUE(IsOk(ValidateAction(codependent)));
}

TEST(ActionValidationTest, OnlyTheFirstMemberSetIsValidated) {
  models::Action action = RunAction();
  action.mutable_timeout_action();  // invalid, but run comes first
  EXPECT_TRUE(IsOk(ValidateAction(action)));
}

// --- egress rules (§7.7) -------------------------------------------------------------------------

TEST(EgressRuleValidationTest, TcpAndUdpNeedExactlyOneOfPortsAndPortRange) {
  models::SecurityGroupRule rule = TcpRule();
  EXPECT_TRUE(IsOk(ValidateSecurityGroupRule(rule)));
  rule.set_protocol("udp");
  rule.mutable_port_range()->set_start(1);
  rule.mutable_port_range()->set_end(2);
  EXPECT_TRUE(IsInvalid(ValidateSecurityGroupRule(rule), "Invalid: ports and port_range provided"));
  rule.clear_ports();
  EXPECT_TRUE(IsOk(ValidateSecurityGroupRule(rule)));
  rule.clear_port_range();
  EXPECT_TRUE(
      IsInvalid(ValidateSecurityGroupRule(rule), "Missing required field: ports or port_range"));
}

TEST(EgressRuleValidationTest, PortRangeMustBeAscendingFromOne) {
  models::SecurityGroupRule rule = TcpRule();
  rule.clear_ports();
  rule.mutable_port_range()->set_start(0);
  rule.mutable_port_range()->set_end(10);
  EXPECT_TRUE(IsInvalid(ValidateSecurityGroupRule(rule), "Invalid field: port_range"));
  rule.mutable_port_range()->set_start(11);
  EXPECT_TRUE(IsInvalid(ValidateSecurityGroupRule(rule), "Invalid field: port_range"));
  rule.mutable_port_range()->set_start(10);
  EXPECT_TRUE(IsOk(ValidateSecurityGroupRule(rule)));
}

TEST(EgressRuleValidationTest, PortsMustBePositiveAndIcmpInfoAbsent) {
  models::SecurityGroupRule rule = TcpRule();
  rule.add_ports(0);
  rule.mutable_icmp_info();
  EXPECT_TRUE(
      IsInvalid(ValidateSecurityGroupRule(rule), "Invalid field: ports, Invalid field: icmp_info"));
}

TEST(EgressRuleValidationTest, IcmpNeedsIcmpInfoAndNoPorts) {
  models::SecurityGroupRule rule = TcpRule();
  rule.set_protocol("icmp");
  EXPECT_TRUE(
      IsInvalid(ValidateSecurityGroupRule(rule), "Invalid field: ports, Invalid field: icmp_info"));
  rule.clear_ports();
  rule.mutable_icmp_info()->set_type(8);
  EXPECT_TRUE(IsOk(ValidateSecurityGroupRule(rule)));
  rule.mutable_port_range();
  EXPECT_TRUE(IsInvalid(ValidateSecurityGroupRule(rule), "Invalid field: port_range"));
}

TEST(EgressRuleValidationTest, Icmpv6ReportsAMissingInfoAsIcmpv6Info) {
  models::SecurityGroupRule rule;
  rule.set_protocol("icmpv6");
  rule.add_destinations("::1");
  EXPECT_TRUE(IsInvalid(ValidateSecurityGroupRule(rule), "Invalid field: icmpv6_info"));
  rule.mutable_icmp_info();
  EXPECT_TRUE(IsOk(ValidateSecurityGroupRule(rule)));
}

TEST(EgressRuleValidationTest, AllForbidsPortsAndIcmpInfo) {
  models::SecurityGroupRule rule;
  rule.set_protocol("all");
  rule.add_destinations("0.0.0.0/0");
  EXPECT_TRUE(IsOk(ValidateSecurityGroupRule(rule)));
  rule.add_ports(1);
  rule.mutable_port_range();
  rule.mutable_icmp_info();
  EXPECT_TRUE(IsInvalid(ValidateSecurityGroupRule(rule),
                        "Invalid field: port_range, Invalid field: ports, "
                        "Invalid field: icmp_info"));
}

TEST(EgressRuleValidationTest, UnknownProtocolsAreRejected) {
  models::SecurityGroupRule rule = TcpRule();
  rule.set_protocol("TCP");
  EXPECT_TRUE(IsInvalid(ValidateSecurityGroupRule(rule), "Invalid field: protocol"));
}

TEST(EgressRuleValidationTest, NeedsAtLeastOneDestination) {
  models::SecurityGroupRule rule = TcpRule();
  rule.clear_destinations();
  EXPECT_TRUE(IsInvalid(ValidateSecurityGroupRule(rule),
                        "Invalid field: destinations [ Must have at least 1 destination ]"));
}

TEST(EgressRuleValidationTest, AcceptsIpsCidrsAndAscendingRangesInCommaLists) {
  models::SecurityGroupRule rule = TcpRule();
  rule.set_destinations(0, "10.0.0.1,10.0.0.0/8,10.0.0.1-10.0.0.9");
  rule.add_destinations("2001:db8::1");
  rule.add_destinations("2001:db8::/32,::1-::2,10.0.0.0/008");
  rule.add_destinations("1.2.3.4-::ffff:1.2.3.5");
  EXPECT_TRUE(IsOk(ValidateSecurityGroupRule(rule)));
}

TEST(EgressRuleValidationTest, RejectsMalformedDestinationsWithDetails) {
  models::SecurityGroupRule rule = TcpRule();
  rule.set_destinations(0, "10.0.0.256,10.0.0.0/33,10.0.0.9-10.0.0.1");
  rule.add_destinations("01.2.3.4");
  rule.add_destinations("::/129,example.com,1.2.3.4/");
  EXPECT_TRUE(IsInvalid(ValidateSecurityGroupRule(rule),
                        "Invalid field: destinations [ Invalid IP: 10.0.0.256, "
                        "Invalid CIDR: 10.0.0.0/33, Invalid IP range: 10.0.0.9-10.0.0.1, "
                        "Invalid IP: 01.2.3.4, Invalid CIDR: ::/129, Invalid IP: example.com, "
                        "Invalid CIDR: 1.2.3.4/ ]"));
}

TEST(EgressRuleValidationTest, AnEmptyPieceOfACommaListIsInvalid) {
  models::SecurityGroupRule rule = TcpRule();
  rule.set_destinations(0, "10.0.0.1,");
  EXPECT_TRUE(
      IsInvalid(ValidateSecurityGroupRule(rule), "Invalid field: destinations [ Invalid IP:  ]"));
}

// --- other nested models (§7.8) ------------------------------------------------------------------

TEST(CachedDependencyValidationTest, NeedsFromToAndPairedChecksum) {
  models::CachedDependency dependency;
  EXPECT_TRUE(
      IsInvalid(ValidateCachedDependency(dependency), "Invalid field: from, Invalid field: to"));
  dependency.set_from("http://x");
  dependency.set_to("/x");
  dependency.set_checksum_algorithm("sha1");
  EXPECT_TRUE(IsInvalid(ValidateCachedDependency(dependency), "Invalid field: checksum value"));
  dependency.set_checksum_value("abc");
  EXPECT_TRUE(IsOk(ValidateCachedDependency(dependency)));
}

TEST(ImageLayerValidationTest, NeedsUrlDestinationAndKnownEnums) {
  EXPECT_TRUE(IsOk(ValidateImageLayer(SharedLayer())));
  EXPECT_TRUE(IsInvalid(ValidateImageLayer(models::ImageLayer()),
                        "Invalid field: url, Invalid field: destination_path, "
                        "Invalid field: layer_type, Invalid field: media_type"));
  models::ImageLayer layer = SharedLayer();
  layer.set_media_type(models::ImageLayer::ZIP);
  EXPECT_TRUE(IsOk(ValidateImageLayer(layer)));
  layer.set_media_type(static_cast<models::ImageLayer::MediaType>(9));
  layer.set_layer_type(static_cast<models::ImageLayer::Type>(7));
  EXPECT_TRUE(
      IsInvalid(ValidateImageLayer(layer), "Invalid field: layer_type, Invalid field: media_type"));
}

TEST(ImageLayerValidationTest, DigestFieldsArePairedAndExclusiveLayersNeedThem) {
  models::ImageLayer layer = SharedLayer();
  layer.set_digest_value("abc");
  EXPECT_TRUE(IsInvalid(ValidateImageLayer(layer), "Invalid field: digest_algorithm"));
  layer.clear_digest_value();
  layer.set_digest_algorithm(models::ImageLayer::SHA256);
  EXPECT_TRUE(IsInvalid(ValidateImageLayer(layer), "Invalid field: digest_value"));
  layer.set_digest_value("abc");
  EXPECT_TRUE(IsOk(ValidateImageLayer(layer)));
  layer.set_digest_algorithm(static_cast<models::ImageLayer::DigestAlgorithm>(3));
  EXPECT_TRUE(IsInvalid(ValidateImageLayer(layer), "Invalid field: digest_algorithm"));

  models::ImageLayer exclusive = SharedLayer();
  exclusive.set_layer_type(models::ImageLayer::EXCLUSIVE);
  EXPECT_TRUE(IsInvalid(ValidateImageLayer(exclusive),
                        "Invalid field: digest_algorithm, Invalid field: digest_value"));
}

TEST(VolumeMountValidationTest, NeedsDriverModeAndDeviceIds) {
  models::VolumeMount mount;
  mount.mutable_shared();
  mount.mutable_dedicated();
  EXPECT_TRUE(IsInvalid(ValidateVolumeMount(mount),
                        "invalid volume_mount driver, invalid volume_mount mode, "
                        "invalid volume_mount volume id, invalid volume_mount mounter id"));
  mount.set_driver("nfs");
  mount.set_mode("r");
  mount.mutable_shared()->set_volume_id("v");
  mount.mutable_dedicated()->set_mounter_id("m");
  EXPECT_TRUE(IsOk(ValidateVolumeMount(mount)));
}

TEST(CheckDefinitionValidationTest, EachCheckNeedsExactlyOneMemberWithAPortInRange) {
  models::CheckDefinition definition;
  definition.add_checks()->mutable_http_check()->set_port(65535);
  definition.add_readiness_checks()->mutable_tcp_check()->set_port(1);
  EXPECT_TRUE(IsOk(ValidateCheckDefinition(definition)));

  models::CheckDefinition both;
  models::Check* check = both.add_checks();
  check->mutable_tcp_check()->set_port(1);
  check->mutable_http_check()->set_port(1);
  EXPECT_TRUE(IsInvalid(ValidateCheckDefinition(both), "Invalid field: check"));

  models::CheckDefinition neither;
  neither.add_checks();
  EXPECT_TRUE(IsInvalid(ValidateCheckDefinition(neither), "Invalid field: port"));

  models::CheckDefinition zero;
  zero.add_readiness_checks()->mutable_tcp_check();
  EXPECT_TRUE(IsInvalid(ValidateCheckDefinition(zero), "Invalid field: port"));
}

TEST(SidecarValidationTest, NeedsAValidActionAndNonNegativeResources) {
  models::Sidecar sidecar;
  sidecar.set_disk_mb(-1);
  EXPECT_TRUE(IsInvalid(ValidateSidecar(sidecar), "invalid action type, Invalid field: disk_mb"));
  sidecar.mutable_action();
  sidecar.set_disk_mb(0);
  EXPECT_TRUE(
      IsInvalid(ValidateSidecar(sidecar), "Invalid field: action, Invalid field: inner-action"));
  *sidecar.mutable_action() = RunAction();
  EXPECT_TRUE(IsOk(ValidateSidecar(sidecar)));
}

TEST(MetricTagValueValidationTest, NeedsExactlyOneOfStaticAndAKnownDynamicValue) {
  models::MetricTagValue value;
  value.set_static_("s");
  EXPECT_TRUE(IsOk(ValidateMetricTagValue(value)));
  value.clear_static_();
  value.set_dynamic(static_cast<models::MetricTagValue::DynamicValue>(3));
  EXPECT_TRUE(
      IsInvalid(ValidateMetricTagValue(value), "Invalid field: static, Invalid field: dynamic"));
  value.set_dynamic(models::MetricTagValue::INSTANCE_GUID);
  EXPECT_TRUE(IsOk(ValidateMetricTagValue(value)));
}

TEST(CellPresenceValidationTest, NeedsIdsHttpUrlPositiveCapacityAndNonEmptyAnnotations) {
  models::CellPresence cell;
  cell.set_rep_url("ftp://rep");
  (*cell.mutable_annotations())["k"] = "";
  EXPECT_TRUE(IsInvalid(ValidateCellPresence(cell),
                        "Invalid field: cell_id, Invalid field: rep_address, "
                        "Invalid field: rep_url, Invalid field: memory_mb, "
                        "Invalid field: containers, Invalid field: annotations"));
  cell.set_cell_id("cell");
  cell.set_rep_address("http://10.0.0.1:1800");
  cell.set_rep_url("https://cell.service.cf.internal:1801");
  cell.mutable_capacity()->set_memory_mb(1024);
  cell.mutable_capacity()->set_containers(10);
  (*cell.mutable_annotations())["k"] = "v";
  EXPECT_TRUE(IsOk(ValidateCellPresence(cell)));
  cell.mutable_capacity()->set_disk_mb(-1);
  EXPECT_TRUE(IsInvalid(ValidateCellPresence(cell), "Invalid field: disk_mb"));
}

}  // namespace
}  // namespace bbs::wire
