#include "bbs/models/model_json.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "bbs/models/models.h"

namespace bbs::wire {
namespace {

models::ActualLRP RunningLrp() {
  models::ActualLRP lrp;
  lrp.mutable_actual_lrp_key()->set_process_guid("pg");
  lrp.mutable_actual_lrp_key()->set_index(1);
  lrp.mutable_actual_lrp_key()->set_domain("d");
  lrp.mutable_actual_lrp_instance_key()->set_instance_guid("ig");
  lrp.mutable_actual_lrp_instance_key()->set_cell_id("cell");
  lrp.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
  auto* port = lrp.mutable_actual_lrp_net_info()->add_ports();
  port->set_container_port(8080);
  port->set_host_port(61000);
  lrp.set_state("RUNNING");
  lrp.set_since(42);
  lrp.mutable_modification_tag()->set_epoch("e");
  lrp.mutable_modification_tag()->set_index(2);
  return lrp;
}

TEST(ModelJsonTest, ActualLrpIsFlatWithUpstreamsKeysInGoFieldOrder) {
  EXPECT_EQ(ModelJson(RunningLrp()),
            R"({"process_guid":"pg","index":1,"domain":"d","instance_guid":"ig","cell_id":"cell",)"
            R"("address":"10.0.0.1","ports":[{"container_port":8080,"host_port":61000,)"
            R"("container_tls_proxy_port":0,"host_tls_proxy_port":0}],)"
            R"("preferred_address":"UNKNOWN","crash_count":0,"state":"RUNNING","since":42,)"
            R"("modification_tag":{"epoch":"e","index":2},"presence":"ORDINARY",)"
            R"("OptionalRoutable":null,"availability_zone":""})");
}

TEST(ModelJsonTest, OmitemptyFieldsAppearOnlyWhenSet) {
  models::ActualLRP lrp = RunningLrp();
  lrp.set_crash_reason("boom");
  lrp.set_placement_error("no room");
  lrp.set_routable(true);
  (*lrp.mutable_metric_tags())["z"] = "1";
  (*lrp.mutable_metric_tags())["a"] = "2";
  std::string json = ModelJson(lrp);
  EXPECT_NE(json.find(R"("crash_count":0,"crash_reason":"boom","state")"), std::string::npos);
  EXPECT_NE(json.find(R"("placement_error":"no room","since")"), std::string::npos);
  EXPECT_NE(json.find(R"("metric_tags":{"a":"2","z":"1"},"OptionalRoutable":{"Routable":true})"),
            std::string::npos)
      << json;
}

TEST(ModelJsonTest, AnEmptyAlwaysWrittenListIsNull) {
  models::ActualLRP lrp;
  std::string json = ModelJson(lrp);
  EXPECT_NE(json.find(R"("ports":null)"), std::string::npos);
  // A value-type part that is absent is its zero value, as a Go struct field would be.
  EXPECT_NE(json.find(R"("modification_tag":{"epoch":"","index":0})"), std::string::npos);
}

TEST(ModelJsonTest, TaskEmbedsItsDefinitionAndNamesItsState) {
  models::Task task;
  task.set_task_guid("t");
  task.set_state(models::Task::Running);
  task.mutable_task_definition()->set_root_fs("preloaded:x");
  task.mutable_task_definition()->set_completion_callback_url("http://cb");
  std::string json = ModelJson(task);
  EXPECT_EQ(json.rfind(R"({"rootfs":"preloaded:x","disk_mb":0)", 0), 0u) << json;
  EXPECT_NE(json.find(R"("completion_callback_url":"http://cb")"), std::string::npos);
  EXPECT_NE(json.find(R"("task_guid":"t")"), std::string::npos);
  EXPECT_NE(json.find(R"("state":"Running")"), std::string::npos);
  EXPECT_EQ(json.find("task_definition"), std::string::npos);
  EXPECT_EQ(json.find("\"env\""), std::string::npos);  // env,omitempty on tasks
}

TEST(ModelJsonTest, DesiredLrpKeepsUpstreamsDeclarationOrderAndRawRoutes) {
  models::DesiredLRP lrp;
  lrp.set_process_guid("pg");
  lrp.mutable_action()->mutable_run_action()->set_path("/x");
  lrp.set_start_timeout_ms(5000);
  (*lrp.mutable_routes()->mutable_routes())["cf-router"] = R"([ {"hostnames": ["a<b"]} ])";
  std::string json = ModelJson(lrp);
  EXPECT_NE(json.find(R"("action":{"run":{"path":"/x","user":"","suppress_log_output":false}},)"
                      R"("start_timeout_ms":5000,"disk_mb":0)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("routes":{"cf-router":[{"hostnames":["a\u003cb"]}]})"), std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("env":null)"), std::string::npos);
  EXPECT_EQ(json.find("deprecated_timeout_ns"), std::string::npos);
}

TEST(ModelJsonTest, StringsAreEscapedAsGoEscapesThem) {
  models::DesiredLRP lrp;
  lrp.set_annotation("<a & b>\n");
  EXPECT_NE(ModelJson(lrp).find(R"("annotation":"\u003ca \u0026 b\u003e\n")"), std::string::npos);
}

TEST(ModelJsonTest, ParsesASpecWithUpstreamsKeysCaseInsensitively) {
  models::DesiredLRP lrp;
  ASSERT_TRUE(
      ParseModelJson(R"({"Process_Guid":"pg","rootfs":"r","instances":3,)"
                     R"("env":[{"name":"A","value":"1"}],"unknown":true,)"
                     R"("action":{"run":{"path":"/x","args":["a"]}},)"
                     R"("routes":{"r":{"port": 1}},"metric_tags":{"s":{"dynamic":"INDEX"}}})",
                     &lrp)
          .ok());
  EXPECT_EQ(lrp.process_guid(), "pg");
  EXPECT_EQ(lrp.root_fs(), "r");
  EXPECT_EQ(lrp.instances(), 3);
  ASSERT_EQ(lrp.environment_variables_size(), 1);
  EXPECT_EQ(lrp.action().run_action().args(0), "a");
  EXPECT_EQ(lrp.routes().routes().at("r"), R"({"port":1})");
  EXPECT_EQ(lrp.metric_tags().at("s").dynamic(), models::MetricTagValue::INDEX);
}

TEST(ModelJsonTest, RejectingUnknownKeysFailsOnOneAtAnyDepth) {
  models::DesiredLRP lrp;
  EXPECT_TRUE(ParseModelJson(R"({"process_guid":"pg","rootfs":"r"})", &lrp, true).ok());
  Status top = ParseModelJson(R"({"process_guid":"pg","unknown":true})", &lrp, true);
  EXPECT_EQ(top.code(), ErrorCode::kInvalidJson);
  EXPECT_EQ(top.message(), R"(unknown field "unknown" in DesiredLRP)");
  EXPECT_FALSE(ParseModelJson(R"({"action":{"run":{"pth":"/x"}}})", &lrp, true).ok());
  // Embedded parts still take their keys flat.
  models::Task task;
  EXPECT_TRUE(ParseModelJson(R"({"task_guid":"t","rootfs":"r"})", &task, true).ok());
  EXPECT_EQ(task.task_definition().root_fs(), "r");
}

TEST(ModelJsonTest, ParsesAFlatTaskIntoItsEmbeddedDefinition) {
  models::Task task;
  ASSERT_TRUE(
      ParseModelJson(R"({"task_guid":"t","domain":"d","rootfs":"r","memory_mb":5})", &task).ok());
  EXPECT_EQ(task.task_guid(), "t");
  EXPECT_EQ(task.task_definition().root_fs(), "r");
  EXPECT_EQ(task.task_definition().memory_mb(), 5);
}

TEST(ModelJsonTest, ParsesUpstreamsDesiredLrpUpdateShape) {
  models::DesiredLRPUpdate update;
  ASSERT_TRUE(
      ParseModelJson(R"({"instances":0,"annotation":"x","routes":{"r":[]}})", &update).ok());
  ASSERT_TRUE(update.has_instances());
  EXPECT_EQ(update.instances(), 0);
  EXPECT_EQ(update.annotation(), "x");
  EXPECT_EQ(update.routes().routes().at("r"), "[]");
  models::DesiredLRPUpdate empty;
  ASSERT_TRUE(ParseModelJson("{}", &empty).ok());
  EXPECT_FALSE(empty.has_instances());
  EXPECT_FALSE(empty.has_annotation());
}

TEST(ModelJsonTest, RejectsMalformedJsonAndWrongTypes) {
  models::DesiredLRP lrp;
  Status s = ParseModelJson("{", &lrp);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidJson);
  EXPECT_EQ(ParseModelJson(R"({"instances":"two"})", &lrp).code(), ErrorCode::kInvalidJson);
  EXPECT_EQ(ParseModelJson(R"({"instances":4294967296})", &lrp).code(), ErrorCode::kInvalidJson);
  EXPECT_EQ(ParseModelJson(R"({"action":{"run":{"path":7}}})", &lrp).code(),
            ErrorCode::kInvalidJson);
}

TEST(ModelJsonTest, WhatItPrintsItParsesBack) {
  models::DesiredLRP lrp;
  ASSERT_TRUE(ParseModelJson(R"({"process_guid":"pg","domain":"d","rootfs":"r","instances":2,)"
                             R"("env":[{"name":"A","value":"b"}],"ports":[8080,9090],)"
                             R"("setup":{"serial":{"actions":[{"download":{"from":"u","to":"/t",)"
                             R"("cache_key":"k","user":"v"}}]}},)"
                             R"("monitor":{"timeout":{"action":{"run":{"path":"/c"}},)"
                             R"("timeout_ms":1000}},"privileged":true,"cpu_weight":5,)"
                             R"("egress_rules":[{"protocol":"tcp","destinations":["0.0.0.0/0"],)"
                             R"("port_range":{"start":1,"end":2},"log":true}],)"
                             R"("placement_tags":["a"],"max_pids":10,)"
                             R"("image_layers":[{"url":"u","layer_type":"SHARED",)"
                             R"("media_type":"TGZ"}]})",
                             &lrp)
                  .ok());
  models::DesiredLRP back;
  ASSERT_TRUE(ParseModelJson(ModelJson(lrp), &back).ok()) << ModelJson(lrp);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(lrp, back))
      << ModelJson(lrp) << "\n"
      << ModelJson(back);
  EXPECT_EQ(lrp.placementtags(0), "a");
  EXPECT_EQ(lrp.image_layers(0).layer_type(), models::ImageLayer::SHARED);
}

}  // namespace
}  // namespace bbs::wire
