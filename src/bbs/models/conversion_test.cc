#include "bbs/models/conversion.h"
#include "bbs/base/status_matchers.h"

#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

namespace bbs::wire {
namespace {

using google::protobuf::util::MessageDifferencer;

::testing::AssertionResult SameMessage(const google::protobuf::Message& expected,
                                       const google::protobuf::Message& actual) {
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, actual)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "messages differ:\n" << diff;
}

models::Action RunPath(const std::string& path) {
  models::Action action;
  action.mutable_run_action()->set_path(path);
  action.mutable_run_action()->set_user("vcap");
  return action;
}

models::Action Timeout(models::Action child, int64_t timeout_ms) {
  models::Action action;
  *action.mutable_timeout_action()->mutable_action() = std::move(child);
  action.mutable_timeout_action()->set_timeout_ms(timeout_ms);
  return action;
}

models::Action Download(const std::string& artifact, const std::string& from, const std::string& to,
                        const std::string& cache_key, const std::string& user) {
  models::Action action;
  models::DownloadAction* download = action.mutable_download_action();
  download->set_artifact(artifact);
  download->set_from(from);
  download->set_to(to);
  download->set_cache_key(cache_key);
  download->set_user(user);
  return action;
}

models::Action Parallel(std::vector<models::Action> children) {
  models::Action action;
  for (models::Action& child : children) {
    *action.mutable_parallel_action()->add_actions() = std::move(child);
  }
  return action;
}

models::Action Serial(std::vector<models::Action> children) {
  models::Action action;
  for (models::Action& child : children) {
    *action.mutable_serial_action()->add_actions() = std::move(child);
  }
  return action;
}

models::ImageLayer Layer(const std::string& name, models::ImageLayer::Type type,
                         models::ImageLayer::DigestAlgorithm algorithm, const std::string& digest) {
  models::ImageLayer layer;
  layer.set_name(name);
  layer.set_url("http://layers/" + name);
  layer.set_destination_path("/" + name);
  layer.set_layer_type(type);
  layer.set_media_type(models::ImageLayer::TGZ);
  layer.set_digest_algorithm(algorithm);
  layer.set_digest_value(digest);
  return layer;
}

// A DesiredLRP carrying `layers`, with `user` as its legacy download user ("" for none).
models::DesiredLRP LrpWithLayers(std::vector<models::ImageLayer> layers,
                                 const std::string& user = "") {
  models::DesiredLRP lrp;
  lrp.set_legacy_download_user(user);
  for (models::ImageLayer& layer : layers) {
    *lrp.add_image_layers() = std::move(layer);
  }
  return lrp;
}

models::CachedDependency Dependency(const std::string& name) {
  models::CachedDependency dependency;
  dependency.set_name(name);
  dependency.set_from("http://deps/" + name);
  dependency.set_to("/deps/" + name);
  dependency.set_cache_key("key-" + name);
  dependency.set_log_source("log-" + name);
  dependency.set_checksum_algorithm("sha1");
  dependency.set_checksum_value("sum-" + name);
  return dependency;
}

// --- V3 -> V2 (§3.4.2) -------------------------------------------------------------------------

TEST(DesiredLrpV2ConversionTest, SharedLayersArePrependedAsCachedDependencies) {
  models::DesiredLRP lrp = LrpWithLayers({
      Layer("a", models::ImageLayer::SHARED, models::ImageLayer::SHA256, "d1"),
      Layer("b", models::ImageLayer::SHARED, models::ImageLayer::DigestAlgorithmInvalid, ""),
      Layer("c", models::ImageLayer::SHARED, models::ImageLayer::SHA512, "d3"),
  });
  *lrp.add_cached_dependencies() = Dependency("existing");

  const models::DesiredLRP v2 = DesiredLrpDownTo(lrp, FormatVersion::kV2);

  ASSERT_EQ(v2.cached_dependencies_size(), 4);
  const models::CachedDependency& a = v2.cached_dependencies(0);
  EXPECT_EQ(a.name(), "a");
  EXPECT_EQ(a.from(), "http://layers/a");
  EXPECT_EQ(a.to(), "/a");
  EXPECT_EQ(a.checksum_algorithm(), "sha256");
  EXPECT_EQ(a.checksum_value(), "d1");
  EXPECT_EQ(a.cache_key(), "sha256:d1");
  const models::CachedDependency& b = v2.cached_dependencies(1);
  EXPECT_EQ(b.checksum_algorithm(), "");
  EXPECT_EQ(b.checksum_value(), "");
  EXPECT_EQ(b.cache_key(), "http://layers/b");
  EXPECT_EQ(v2.cached_dependencies(2).cache_key(), "sha512:d3");
  EXPECT_TRUE(SameMessage(Dependency("existing"), v2.cached_dependencies(3)));
  EXPECT_EQ(v2.image_layers_size(), 0);
  EXPECT_FALSE(v2.has_setup());
}

TEST(DesiredLrpV2ConversionTest, ExclusiveLayersBecomeParallelDownloadsBeforeTheSetup) {
  models::DesiredLRP lrp = LrpWithLayers(
      {
          Layer("x", models::ImageLayer::EXCLUSIVE, models::ImageLayer::SHA256, "dx"),
          Layer("y", models::ImageLayer::EXCLUSIVE, models::ImageLayer::SHA512, "dy"),
      },
      "root");
  *lrp.mutable_setup() = RunPath("/setup");

  const models::DesiredLRP v2 = DesiredLrpDownTo(lrp, FormatVersion::kV2);

  models::Action x = Download("x", "http://layers/x", "/x", "sha256:dx", "root");
  x.mutable_download_action()->set_checksum_algorithm("sha256");
  x.mutable_download_action()->set_checksum_value("dx");
  models::Action y = Download("y", "http://layers/y", "/y", "sha512:dy", "root");
  y.mutable_download_action()->set_checksum_algorithm("sha512");
  y.mutable_download_action()->set_checksum_value("dy");
  EXPECT_TRUE(SameMessage(Serial({Parallel({x, y}), RunPath("/setup")}), v2.setup()));
  EXPECT_EQ(v2.cached_dependencies_size(), 0);
  EXPECT_EQ(v2.image_layers_size(), 0);
}

TEST(DesiredLrpV2ConversionTest, ExclusiveLayersWithoutSetupBecomeJustTheParallelDownloads) {
  const models::DesiredLRP v2 = DesiredLrpDownTo(
      LrpWithLayers({Layer("x", models::ImageLayer::EXCLUSIVE, models::ImageLayer::SHA256, "dx")}),
      FormatVersion::kV2);
  ASSERT_TRUE(v2.setup().has_parallel_action());
  EXPECT_EQ(v2.setup().parallel_action().actions_size(), 1);
}

TEST(DesiredLrpV2ConversionTest, ExclusiveLayerWithoutAlgorithmUsesUpstreamsEnumName) {
  const models::DesiredLRP v2 =
      DesiredLrpDownTo(LrpWithLayers({Layer("x", models::ImageLayer::EXCLUSIVE,
                                            models::ImageLayer::DigestAlgorithmInvalid, "")}),
                       FormatVersion::kV2);
  const models::DownloadAction& download =
      v2.setup().parallel_action().actions(0).download_action();
  EXPECT_EQ(download.checksum_algorithm(), "digestalgorithminvalid");
  EXPECT_EQ(download.cache_key(), "digestalgorithminvalid:");
}

TEST(DesiredLrpV2ConversionTest, WithoutLayersNothingChanges) {
  models::DesiredLRP lrp;
  lrp.set_process_guid("pg");
  *lrp.mutable_setup() = RunPath("/setup");
  *lrp.add_cached_dependencies() = Dependency("d");
  EXPECT_TRUE(SameMessage(lrp, DesiredLrpDownTo(lrp, FormatVersion::kV2)));
  EXPECT_TRUE(SameMessage(lrp, DesiredLrpDownTo(lrp, FormatVersion::kV1)));
  EXPECT_TRUE(SameMessage(lrp, DesiredLrpDownTo(lrp, FormatVersion::kV3)));
}

TEST(DesiredLrpV2ConversionTest, DoesNotModifyTheInput) {
  models::DesiredLRP lrp;
  *lrp.add_image_layers() = Layer("x", models::ImageLayer::SHARED, models::ImageLayer::SHA256, "d");
  const models::DesiredLRP before = lrp;
  DesiredLrpDownTo(lrp, FormatVersion::kV0);
  EXPECT_TRUE(SameMessage(before, lrp));
}

// --- V1 -> V0 (§3.4.1) -------------------------------------------------------------------------

TEST(DesiredLrpV0ConversionTest, TimeoutActionsGetDeprecatedNanoseconds) {
  models::DesiredLRP lrp;
  *lrp.mutable_action() = Timeout(RunPath("/a"), 1500);
  *lrp.mutable_monitor() = Parallel({Timeout(RunPath("/m"), 7), RunPath("/n")});
  *lrp.mutable_setup() = Serial({Timeout(RunPath("/s"), 1)});

  const models::DesiredLRP v0 = DesiredLrpDownTo(lrp, FormatVersion::kV0);

  EXPECT_EQ(v0.action().timeout_action().deprecated_timeout_ns(), 1500000000);
  EXPECT_EQ(v0.action().timeout_action().timeout_ms(), 1500);
  EXPECT_EQ(v0.monitor().parallel_action().actions(0).timeout_action().deprecated_timeout_ns(),
            7000000);
  EXPECT_TRUE(SameMessage(RunPath("/n"), v0.monitor().parallel_action().actions(1)));
  EXPECT_EQ(v0.setup().serial_action().actions(0).timeout_action().deprecated_timeout_ns(),
            1000000);
}

TEST(DesiredLrpV0ConversionTest, TheWalkDoesNotDescendIntoATimeoutsChild) {
  models::DesiredLRP lrp;
  *lrp.mutable_action() = Timeout(Timeout(RunPath("/a"), 5), 10);
  const models::DesiredLRP v0 = DesiredLrpDownTo(lrp, FormatVersion::kV0);
  EXPECT_EQ(v0.action().timeout_action().deprecated_timeout_ns(), 10000000);
  EXPECT_EQ(v0.action().timeout_action().action().timeout_action().deprecated_timeout_ns(), 0);
}

TEST(DesiredLrpV0ConversionTest, EmitProgressAndTryWrappersAreDropped) {
  models::DesiredLRP lrp;
  models::Action emit;
  *emit.mutable_emit_progress_action()->mutable_action() = Timeout(RunPath("/a"), 2);
  emit.mutable_emit_progress_action()->set_start_message("starting");
  models::Action attempt;
  *attempt.mutable_try_action()->mutable_action() = RunPath("/t");
  *lrp.mutable_action() = Serial({emit, attempt});

  const models::DesiredLRP v0 = DesiredLrpDownTo(lrp, FormatVersion::kV0);

  models::Action converted_timeout = Timeout(RunPath("/a"), 2);
  converted_timeout.mutable_timeout_action()->set_deprecated_timeout_ns(2000000);
  EXPECT_TRUE(SameMessage(Serial({converted_timeout, RunPath("/t")}), v0.action()));
}

TEST(DesiredLrpV0ConversionTest, AWrapperWithoutChildRemovesTheTopLevelAction) {
  models::DesiredLRP lrp;
  lrp.mutable_setup()->mutable_try_action();
  const models::DesiredLRP v0 = DesiredLrpDownTo(lrp, FormatVersion::kV0);
  EXPECT_FALSE(v0.has_setup());
}

TEST(DesiredLrpV0ConversionTest, CodependentActionsAreRebuiltAndOthersKept) {
  models::DesiredLRP lrp;
  models::Action codependent;
  *codependent.mutable_codependent_action()->add_actions() = Timeout(RunPath("/c"), 3);
  codependent.mutable_codependent_action()->set_log_source("src");
  *lrp.mutable_action() = codependent;
  *lrp.mutable_monitor() = Download("a", "f", "t", "k", "u");

  const models::DesiredLRP v0 = DesiredLrpDownTo(lrp, FormatVersion::kV0);

  EXPECT_EQ(v0.action().codependent_action().log_source(), "src");
  EXPECT_EQ(v0.action().codependent_action().actions(0).timeout_action().deprecated_timeout_ns(),
            3000000);
  EXPECT_TRUE(SameMessage(lrp.monitor(), v0.monitor()));
}

TEST(DesiredLrpV0ConversionTest, StartTimeoutIsTruncatedToUint32ThenDividedBy1000) {
  models::DesiredLRP lrp;
  lrp.set_start_timeout_ms(61999);
  EXPECT_EQ(DesiredLrpDownTo(lrp, FormatVersion::kV0).deprecated_start_timeout_s(), 61u);
  lrp.set_start_timeout_ms((int64_t{1} << 32) + 5000);
  EXPECT_EQ(DesiredLrpDownTo(lrp, FormatVersion::kV0).deprecated_start_timeout_s(), 5u);
  EXPECT_EQ(DesiredLrpDownTo(lrp, FormatVersion::kV1).deprecated_start_timeout_s(), 0u);
}

TEST(DesiredLrpV0ConversionTest, CachedDependenciesBecomeDownloadsBeforeTheSetup) {
  models::DesiredLRP lrp;
  lrp.set_legacy_download_user("vcap");
  *lrp.add_cached_dependencies() = Dependency("one");
  *lrp.add_cached_dependencies() = Dependency("two");
  *lrp.mutable_setup() = RunPath("/setup");

  const models::DesiredLRP v0 = DesiredLrpDownTo(lrp, FormatVersion::kV0);

  models::Action one = Download("one", "http://deps/one", "/deps/one", "key-one", "vcap");
  one.mutable_download_action()->set_log_source("log-one");
  models::Action two = Download("two", "http://deps/two", "/deps/two", "key-two", "vcap");
  two.mutable_download_action()->set_log_source("log-two");
  EXPECT_TRUE(SameMessage(Serial({Parallel({one, two}), RunPath("/setup")}), v0.setup()));
  EXPECT_EQ(v0.cached_dependencies_size(), 0);
}

TEST(DesiredLrpV0ConversionTest, CachedDependenciesWithoutSetupAreWrappedInASerial) {
  models::DesiredLRP lrp;
  *lrp.add_cached_dependencies() = Dependency("one");
  const models::DesiredLRP v0 = DesiredLrpDownTo(lrp, FormatVersion::kV0);
  models::Action one = Download("one", "http://deps/one", "/deps/one", "key-one", "");
  one.mutable_download_action()->set_log_source("log-one");
  EXPECT_TRUE(SameMessage(Serial({Parallel({one})}), v0.setup()));
}

TEST(DesiredLrpV0ConversionTest, ImageLayersEndUpAsSetupDownloadsInV0) {
  const models::DesiredLRP v0 = DesiredLrpDownTo(
      LrpWithLayers(
          {
              Layer("s", models::ImageLayer::SHARED, models::ImageLayer::SHA256, "ds"),
              Layer("e", models::ImageLayer::EXCLUSIVE, models::ImageLayer::SHA256, "de"),
          },
          "u"),
      FormatVersion::kV0);

  // V2 step: setup = Parallel(e); cached deps = [s]. V0 step: Serial(Parallel(s), Parallel(e)).
  const models::Action& setup = v0.setup();
  ASSERT_EQ(setup.serial_action().actions_size(), 2);
  EXPECT_EQ(
      setup.serial_action().actions(0).parallel_action().actions(0).download_action().cache_key(),
      "sha256:ds");
  EXPECT_EQ(
      setup.serial_action().actions(1).parallel_action().actions(0).download_action().artifact(),
      "e");
  EXPECT_EQ(v0.image_layers_size(), 0);
  EXPECT_EQ(v0.cached_dependencies_size(), 0);
}

// --- tasks (§3.4.3) ----------------------------------------------------------------------------

TEST(TaskConversionTest, ImageLayersBecomeDependenciesAndDownloadsBeforeTheAction) {
  models::Task task;
  models::TaskDefinition* definition = task.mutable_task_definition();
  definition->set_legacy_download_user("u");
  *definition->mutable_action() = RunPath("/task");
  *definition->add_cached_dependencies() = Dependency("old");
  *definition->add_image_layers() =
      Layer("s", models::ImageLayer::SHARED, models::ImageLayer::SHA256, "ds");
  *definition->add_image_layers() =
      Layer("e", models::ImageLayer::EXCLUSIVE, models::ImageLayer::SHA512, "de");

  const models::Task v2 = TaskDownTo(task, FormatVersion::kV2);

  const models::TaskDefinition& converted = v2.task_definition();
  ASSERT_EQ(converted.cached_dependencies_size(), 2);
  EXPECT_EQ(converted.cached_dependencies(0).name(), "s");
  EXPECT_EQ(converted.cached_dependencies(1).name(), "old");
  models::Action e = Download("e", "http://layers/e", "/e", "sha512:de", "u");
  e.mutable_download_action()->set_checksum_algorithm("sha512");
  e.mutable_download_action()->set_checksum_value("de");
  EXPECT_TRUE(SameMessage(Serial({Parallel({e}), RunPath("/task")}), converted.action()));
  EXPECT_EQ(converted.image_layers_size(), 0);
  EXPECT_TRUE(SameMessage(task, TaskDownTo(task, FormatVersion::kV3)));
}

TEST(TaskConversionTest, WithoutAnActionTheDownloadsBecomeTheAction) {
  models::Task task;
  *task.mutable_task_definition()->add_image_layers() =
      Layer("e", models::ImageLayer::EXCLUSIVE, models::ImageLayer::SHA256, "de");
  const models::Task v2 = TaskDownTo(task, FormatVersion::kV2);
  EXPECT_TRUE(v2.task_definition().action().has_parallel_action());
}

TEST(TaskConversionTest, TimeoutsAndCachedDependenciesAreNotConvertedForTasks) {
  models::Task task;
  *task.mutable_task_definition()->mutable_action() = Timeout(RunPath("/a"), 5);
  *task.mutable_task_definition()->add_cached_dependencies() = Dependency("d");
  EXPECT_TRUE(SameMessage(task, TaskDownTo(task, FormatVersion::kV0)));
}

// --- metrics guid (§3.4.4) ---------------------------------------------------------------------

TEST(MetricsGuidFixUpTest, FillsMetricsGuidFromTheSourceIdTag) {
  models::DesiredLRP lrp;
  (*lrp.mutable_metric_tags())["source_id"].set_static_("app");
  FixUpMetricsGuid(&lrp);
  EXPECT_EQ(lrp.metrics_guid(), "app");
}

TEST(MetricsGuidFixUpTest, AddsTheSourceIdTagFromMetricsGuid) {
  models::DesiredLRP lrp;
  lrp.set_metrics_guid("legacy");
  FixUpMetricsGuid(&lrp);
  ASSERT_EQ(lrp.metric_tags().count("source_id"), 1u);
  EXPECT_EQ(lrp.metric_tags().at("source_id").static_(), "legacy");
}

TEST(MetricsGuidFixUpTest, LeavesBothAloneWhenBothAreSet) {
  models::DesiredLRP lrp;
  lrp.set_metrics_guid("one");
  (*lrp.mutable_metric_tags())["source_id"].set_static_("two");
  const models::DesiredLRP before = lrp;
  FixUpMetricsGuid(&lrp);
  EXPECT_TRUE(SameMessage(before, lrp));
  models::DesiredLRP neither;
  FixUpMetricsGuid(&neither);
  EXPECT_TRUE(SameMessage(models::DesiredLRP(), neither));
}

// --- split / join (§8.1) -----------------------------------------------------------------------

models::DesiredLRP FullLrp() {
  models::DesiredLRP lrp;
  lrp.set_process_guid("pg");
  lrp.set_domain("d");
  lrp.set_root_fs("preloaded:fs");
  lrp.set_instances(3);
  lrp.add_environment_variables()->set_name("A");
  *lrp.mutable_setup() = RunPath("/setup");
  *lrp.mutable_action() = RunPath("/action");
  *lrp.mutable_monitor() = RunPath("/monitor");
  lrp.set_deprecated_start_timeout_s(9);
  lrp.set_disk_mb(100);
  lrp.set_memory_mb(200);
  lrp.set_cpu_weight(5);
  lrp.set_privileged(true);
  lrp.add_ports(8080);
  lrp.add_ports(9090);
  (*lrp.mutable_routes()->mutable_routes())["cf-router"] = "[]";
  lrp.set_log_source("APP");
  lrp.set_log_guid("lg");
  lrp.set_metrics_guid("mg");
  lrp.set_annotation("note");
  lrp.add_egress_rules()->set_protocol("all");
  lrp.mutable_modification_tag()->set_epoch("e");
  lrp.mutable_modification_tag()->set_index(4);
  *lrp.add_cached_dependencies() = Dependency("c");
  lrp.set_legacy_download_user("u");
  lrp.set_trusted_system_certificates_path("/certs");
  models::VolumeMount* mount = lrp.add_volume_mounts();
  mount->set_driver("nfs");
  mount->set_mode("r");
  lrp.add_volume_mounts()->set_driver("smb");
  (*lrp.mutable_network()->mutable_properties())["k"] = "v";
  lrp.set_start_timeout_ms(60000);
  lrp.add_placementtags("tag");
  lrp.set_max_pids(10);
  lrp.mutable_certificate_properties()->add_organizational_unit("ou");
  lrp.set_image_username("iu");
  lrp.set_image_password("ip");
  lrp.mutable_check_definition()->add_checks()->mutable_tcp_check()->set_port(8080);
  *lrp.add_image_layers() = Layer("l", models::ImageLayer::SHARED, models::ImageLayer::SHA256, "x");
  (*lrp.mutable_metric_tags())["source_id"].set_static_("mg");
  *lrp.add_sidecars()->mutable_action() = RunPath("/sidecar");
  lrp.mutable_log_rate_limit()->set_bytes_per_second(-1);
  lrp.add_volume_mounted_files()->set_path("/f");
  lrp.set_update_strategy(models::DesiredLRP::RECREATE);
  return lrp;
}

TEST(SplitDesiredLrpTest, SchedulingInfoCarriesThePlacementFields) {
  const DesiredLrpParts parts = SplitDesiredLrp(FullLrp(), 1234);
  const models::DesiredLRPSchedulingInfo& info = parts.scheduling_info;
  EXPECT_EQ(info.desired_lrp_key().process_guid(), "pg");
  EXPECT_EQ(info.desired_lrp_key().domain(), "d");
  EXPECT_EQ(info.desired_lrp_key().log_guid(), "lg");
  EXPECT_EQ(info.annotation(), "note");
  EXPECT_EQ(info.instances(), 3);
  EXPECT_EQ(info.desired_lrp_resource().memory_mb(), 200);
  EXPECT_EQ(info.desired_lrp_resource().disk_mb(), 100);
  EXPECT_EQ(info.desired_lrp_resource().root_fs(), "preloaded:fs");
  EXPECT_EQ(info.desired_lrp_resource().max_pids(), 10);
  EXPECT_EQ(info.routes().routes().at("cf-router"), "[]");
  EXPECT_EQ(info.modification_tag().epoch(), "e");
  EXPECT_EQ(info.modification_tag().index(), 4u);
  ASSERT_EQ(info.volume_placement().driver_names_size(), 2);
  EXPECT_EQ(info.volume_placement().driver_names(0), "nfs");
  EXPECT_EQ(info.volume_placement().driver_names(1), "smb");
  ASSERT_EQ(info.placementtags_size(), 1);
  EXPECT_EQ(info.placementtags(0), "tag");
}

TEST(SplitDesiredLrpTest, RunInfoCarriesEverythingElseAndCreatedAt) {
  const models::DesiredLRP lrp = FullLrp();
  const models::DesiredLRPRunInfo& run = SplitDesiredLrp(lrp, 1234).run_info;
  EXPECT_EQ(run.created_at(), 1234);
  EXPECT_EQ(run.desired_lrp_key().process_guid(), "pg");
  EXPECT_TRUE(SameMessage(lrp.setup(), run.setup()));
  EXPECT_TRUE(SameMessage(lrp.action(), run.action()));
  EXPECT_TRUE(SameMessage(lrp.monitor(), run.monitor()));
  EXPECT_EQ(run.ports_size(), 2);
  EXPECT_EQ(run.metrics_guid(), "mg");
  EXPECT_EQ(run.image_username(), "iu");
  EXPECT_EQ(run.image_password(), "ip");
  EXPECT_EQ(run.metric_tags().at("source_id").static_(), "mg");
  EXPECT_EQ(run.log_rate_limit().bytes_per_second(), -1);
  EXPECT_EQ(run.volume_mounted_files_size(), 1);
}

TEST(SplitDesiredLrpTest, RoutesModificationTagAndVolumePlacementAreAlwaysPresent) {
  const DesiredLrpParts parts = SplitDesiredLrp(models::DesiredLRP(), 0);
  const google::protobuf::Reflection& reflection = *parts.scheduling_info.GetReflection();
  for (const char* name : {"routes", "modification_tag", "volume_placement", "desired_lrp_key",
                           "desired_lrp_resource"}) {
    const auto* field = parts.scheduling_info.GetDescriptor()->FindFieldByName(name);
    ASSERT_NE(field, nullptr) << name;
    EXPECT_TRUE(reflection.HasField(parts.scheduling_info, field)) << name;
  }
  EXPECT_FALSE(parts.run_info.has_setup());
  EXPECT_FALSE(parts.run_info.has_network());
}

TEST(JoinDesiredLrpTest, RoundTripsAFullLrp) {
  const models::DesiredLRP lrp = FullLrp();
  const DesiredLrpParts parts = SplitDesiredLrp(lrp, 99);
  const models::DesiredLRP joined = JoinDesiredLrp(parts.scheduling_info, parts.run_info,
                                                   lrp.metric_tags(), lrp.update_strategy());
  EXPECT_TRUE(SameMessage(lrp, joined));
}

TEST(JoinDesiredLrpTest, AlwaysSetsRoutesAndModificationTag) {
  const DesiredLrpParts parts = SplitDesiredLrp(models::DesiredLRP(), 0);
  const models::DesiredLRP joined = JoinDesiredLrp(models::DesiredLRPSchedulingInfo(),
                                                   parts.run_info, {}, models::DesiredLRP::ROLLING);
  EXPECT_TRUE(joined.has_routes());
  EXPECT_TRUE(joined.has_modification_tag());
  EXPECT_FALSE(joined.has_action());
}

TEST(JoinDesiredLrpTest, DeduplicatesPortsKeepingFirstOccurrences) {
  models::DesiredLRPRunInfo run;
  for (uint32_t port : {9090u, 8080u, 9090u, 7070u, 8080u}) {
    run.add_ports(port);
  }
  const models::DesiredLRP joined =
      JoinDesiredLrp(models::DesiredLRPSchedulingInfo(), run, {}, models::DesiredLRP::ROLLING);
  EXPECT_EQ(std::vector<uint32_t>(joined.ports().begin(), joined.ports().end()),
            (std::vector<uint32_t>{9090, 8080, 7070}));
}

TEST(JoinDesiredLrpTest, UsesTheGivenMetricTagsAndUpdateStrategy) {
  models::DesiredLRP lrp = FullLrp();
  const DesiredLrpParts parts = SplitDesiredLrp(lrp, 0);
  google::protobuf::Map<std::string, models::MetricTagValue> tags;
  tags["live"].set_dynamic(models::MetricTagValue::INDEX);
  const models::DesiredLRP joined =
      JoinDesiredLrp(parts.scheduling_info, parts.run_info, tags, models::DesiredLRP::ROLLING);
  EXPECT_EQ(joined.metric_tags().size(), 1u);
  EXPECT_EQ(joined.metric_tags().count("live"), 1u);
  EXPECT_EQ(joined.update_strategy(), models::DesiredLRP::ROLLING);
}

TEST(RoutingInfoTest, KeepsOnlyTheRoutingFields) {
  const models::DesiredLRP lrp = FullLrp();
  models::DesiredLRP expected;
  expected.set_process_guid("pg");
  expected.set_domain("d");
  expected.set_instances(3);
  *expected.mutable_routes() = lrp.routes();
  expected.set_log_guid("lg");
  *expected.mutable_modification_tag() = lrp.modification_tag();
  *expected.mutable_metric_tags() = lrp.metric_tags();
  EXPECT_TRUE(SameMessage(expected, RoutingInfo(lrp)));
  const DesiredLrpParts parts = SplitDesiredLrp(lrp, 0);
  EXPECT_TRUE(SameMessage(expected, RoutingInfo(parts.scheduling_info, lrp.metric_tags())));
}

TEST(RoutingInfoTest, AlwaysHasRoutesAndModificationTag) {
  const models::DesiredLRP info = RoutingInfo(models::DesiredLRP());
  EXPECT_TRUE(info.has_routes());
  EXPECT_TRUE(info.has_modification_tag());
}

// --- metric tags, truncation -------------------------------------------------------------------

TEST(ResolveMetricTagsTest, ResolvesStaticIndexAndInstanceGuid) {
  google::protobuf::Map<std::string, models::MetricTagValue> tags;
  tags["source_id"].set_static_("app");
  tags["instance_id"].set_dynamic(models::MetricTagValue::INDEX);
  tags["instance_guid"].set_dynamic(models::MetricTagValue::INSTANCE_GUID);
  const Result<std::map<std::string, std::string>> resolved = ResolveMetricTags(tags, 7, "ig-1");
  ASSERT_THAT(resolved, IsOk()) << resolved.status().ToString();
  EXPECT_EQ(*resolved, (std::map<std::string, std::string>{
                           {"source_id", "app"}, {"instance_id", "7"}, {"instance_guid", "ig-1"}}));
}

TEST(ResolveMetricTagsTest, RejectsAnUnknownDynamicValue) {
  google::protobuf::Map<std::string, models::MetricTagValue> tags;
  tags["x"].set_dynamic(static_cast<models::MetricTagValue::DynamicValue>(9));
  const Result<std::map<std::string, std::string>> resolved = ResolveMetricTags(tags, 0, "");
  EXPECT_THAT(resolved, StatusIs(ErrorCode::kInvalidRequest));
}

TEST(Truncate1024Test, Keeps1023Bytes) {
  const std::string text(1023, 'a');
  EXPECT_EQ(Truncate1024(text), text);
}

TEST(Truncate1024Test, Truncates1024BytesTo1013PlusSuffix) {
  const std::string truncated = Truncate1024(std::string(1024, 'a'));
  EXPECT_EQ(truncated, std::string(1013, 'a') + "(truncated)");
  EXPECT_EQ(truncated.size(), 1024u);
}

TEST(Truncate1024Test, Truncates1025BytesTo1024) {
  std::string text(1013, 'a');
  text += std::string(12, 'b');
  EXPECT_EQ(Truncate1024(text), std::string(1013, 'a') + "(truncated)");
}

TEST(Truncate1024Test, CutsBytesEvenInsideAUtf8Sequence) {
  std::string text(1012, 'a');
  text += "\xC3\xA9";  // "é" straddles byte 1013
  text += std::string(20, 'z');
  EXPECT_EQ(Truncate1024(text), std::string(1012, 'a') + "\xC3" + "(truncated)");
}

// --- groups (§8.3) -----------------------------------------------------------------------------

models::ActualLRP Lrp(const std::string& guid, int32_t index, const std::string& state,
                      models::ActualLRP::Presence presence, const std::string& cell = "") {
  models::ActualLRP lrp;
  lrp.mutable_actual_lrp_key()->set_process_guid(guid);
  lrp.mutable_actual_lrp_key()->set_index(index);
  lrp.mutable_actual_lrp_key()->set_domain("d");
  lrp.mutable_actual_lrp_instance_key()->set_cell_id(cell);
  lrp.set_state(state);
  lrp.set_presence(presence);
  return lrp;
}

std::vector<models::ActualLRPGroup> Group(const std::vector<models::ActualLRP>& rows) {
  std::vector<const models::ActualLRP*> pointers;
  pointers.reserve(rows.size());
  for (const models::ActualLRP& row : rows) {
    pointers.push_back(&row);
  }
  return GroupActualLrps(pointers);
}

constexpr auto kOrdinary = models::ActualLRP::ORDINARY;
constexpr auto kEvacuating = models::ActualLRP::EVACUATING;
constexpr auto kSuspect = models::ActualLRP::SUSPECT;

TEST(GroupActualLrpsTest, GroupsByProcessGuidAndIndexInOrderOfFirstAppearance) {
  const std::vector<models::ActualLRPGroup> groups = Group({
      Lrp("b", 0, kStateRunning, kOrdinary),
      Lrp("a", 1, kStateRunning, kOrdinary),
      Lrp("b", 0, kStateRunning, kEvacuating),
      Lrp("a", 0, kStateUnclaimed, kOrdinary),
  });
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].instance().actual_lrp_key().process_guid(), "b");
  EXPECT_EQ(groups[0].evacuating().presence(), kEvacuating);
  EXPECT_EQ(groups[1].instance().actual_lrp_key().index(), 1);
  EXPECT_FALSE(groups[1].has_evacuating());
  EXPECT_EQ(groups[2].instance().actual_lrp_key().index(), 0);
}

TEST(GroupActualLrpsTest, AnEvacuatingRowAloneLeavesTheInstanceSlotEmpty) {
  const std::vector<models::ActualLRPGroup> groups =
      Group({Lrp("a", 0, kStateRunning, kEvacuating)});
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_FALSE(groups[0].has_instance());
  EXPECT_TRUE(groups[0].has_evacuating());
}

TEST(GroupActualLrpsTest, OrdinaryRunningBeatsSuspectRunningInEitherOrder) {
  for (bool ordinary_first : {true, false}) {
    std::vector<models::ActualLRP> rows = {Lrp("a", 0, kStateRunning, kOrdinary, "new"),
                                           Lrp("a", 0, kStateRunning, kSuspect, "old")};
    if (!ordinary_first) {
      std::swap(rows[0], rows[1]);
    }
    const std::vector<models::ActualLRPGroup> groups = Group(rows);
    EXPECT_EQ(groups[0].instance().presence(), kOrdinary) << ordinary_first;
  }
}

TEST(GroupActualLrpsTest, SuspectRunningOrClaimedBeatsANonRunningOrdinary) {
  for (const char* suspect_state : {kStateRunning, kStateClaimed}) {
    for (const char* ordinary_state : {kStateUnclaimed, kStateClaimed, kStateCrashed}) {
      for (bool ordinary_first : {true, false}) {
        std::vector<models::ActualLRP> rows = {Lrp("a", 0, ordinary_state, kOrdinary),
                                               Lrp("a", 0, suspect_state, kSuspect)};
        if (!ordinary_first) {
          std::swap(rows[0], rows[1]);
        }
        EXPECT_EQ(Group(rows)[0].instance().presence(), kSuspect)
            << suspect_state << " vs " << ordinary_state << " " << ordinary_first;
      }
    }
  }
}

TEST(GroupActualLrpsTest, OrdinaryClaimedBeatsOnlyNonRunningNonClaimedOccupants) {
  // A suspect that is neither RUNNING nor CLAIMED loses to an ordinary CLAIMED row.
  EXPECT_EQ(Group({Lrp("a", 0, kStateCrashed, kSuspect), Lrp("a", 0, kStateClaimed, kOrdinary)})[0]
                .instance()
                .presence(),
            kOrdinary);
  // Otherwise the row seen first is kept.
  EXPECT_EQ(
      Group({Lrp("a", 0, kStateUnclaimed, kSuspect), Lrp("a", 0, kStateUnclaimed, kOrdinary)})[0]
          .instance()
          .presence(),
      kSuspect);
}

TEST(ResolveGroupTest, ResolvesToTheOnlySlotSet) {
  models::ActualLRPGroup instance_only;
  *instance_only.mutable_instance() = Lrp("a", 0, kStateClaimed, kOrdinary);
  EXPECT_EQ(ResolveGroup(instance_only), &instance_only.instance());
  models::ActualLRPGroup evacuating_only;
  *evacuating_only.mutable_evacuating() = Lrp("a", 0, kStateRunning, kEvacuating);
  EXPECT_EQ(ResolveGroup(evacuating_only), &evacuating_only.evacuating());
  EXPECT_EQ(ResolveGroup(models::ActualLRPGroup()), nullptr);
}

TEST(ResolveGroupTest, WithBothPrefersARunningOrCrashedInstance) {
  for (const char* state : {kStateRunning, kStateCrashed}) {
    models::ActualLRPGroup group;
    *group.mutable_instance() = Lrp("a", 0, state, kOrdinary);
    *group.mutable_evacuating() = Lrp("a", 0, kStateRunning, kEvacuating);
    EXPECT_EQ(ResolveGroup(group), &group.instance()) << state;
  }
  for (const char* state : {kStateUnclaimed, kStateClaimed}) {
    models::ActualLRPGroup group;
    *group.mutable_instance() = Lrp("a", 0, state, kOrdinary);
    *group.mutable_evacuating() = Lrp("a", 0, kStateRunning, kEvacuating);
    EXPECT_EQ(ResolveGroup(group), &group.evacuating()) << state;
  }
}

}  // namespace
}  // namespace bbs::wire
