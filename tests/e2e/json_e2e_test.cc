// End-to-end tests of the API's JSON face: the real bbs binary, JSON over HTTP on loopback.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbs/http/test_client.h"
#include "bbs/models/models.h"
#include "bbs/testing/bbs_process.h"

namespace bbs::testing {
namespace {

class JsonE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bbs_ = std::make_unique<BbsProcess>(BBS_BINARY, dir_.path());
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    client_ = bbs_->NewClient();
  }

  // POSTs `json` to `path` as curl would with -H for both headers; returns the parsed answer.
  nlohmann::json PostJson(const std::string& path, const std::string& json) {
    auto r = client_->Send("POST", path, json,
                           {{"Content-Type", "application/json"}, {"Accept", "application/json"}});
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      return nullptr;
    }
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->Header("Content-Type"), "application/json") << path;
    return nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  }

  TempDir dir_;
  std::unique_ptr<BbsProcess> bbs_;
  std::unique_ptr<http::TestClient> client_;
};

TEST_F(JsonE2eTest, AnLrpDesiredInJsonIsListedInJsonAndInProtobuf) {
  nlohmann::json desired = PostJson("/v1/desired_lrp/desire.r2", R"({"desired_lrp": {
      "process_guid": "pg-json", "domain": "cf-apps", "rootfs": "preloaded:cflinuxfs4",
      "instances": 2, "memory_mb": 256, "disk_mb": 1024, "log_guid": "log-pg-json",
      "action": {"run": {"path": "/bin/sleep", "args": ["1000"], "user": "vcap"}},
      "metric_tags": {"source_id": {"static": "app-guid"}}}})");
  ASSERT_TRUE(desired.is_object()) << desired.dump();
  EXPECT_TRUE(desired.value("error", nlohmann::json()).is_null()) << desired.dump();

  nlohmann::json listed = PostJson("/v1/desired_lrps/list.r3", R"({"domain": "cf-apps"})");
  ASSERT_TRUE(listed.contains("desired_lrps")) << listed.dump();
  ASSERT_EQ(listed["desired_lrps"].size(), 1u);
  const auto& lrp = listed["desired_lrps"][0];
  EXPECT_EQ(lrp["process_guid"], "pg-json");
  EXPECT_EQ(lrp["instances"], 2);
  EXPECT_EQ(lrp["rootfs"], "preloaded:cflinuxfs4");
  EXPECT_EQ(lrp["action"]["run"]["args"], nlohmann::json::array({"1000"}));

  nlohmann::json actuals = PostJson("/v1/actual_lrps/list", R"({"process_guid": "pg-json"})");
  ASSERT_EQ(actuals["actual_lrps"].size(), 2u) << actuals.dump();
  EXPECT_EQ(actuals["actual_lrps"][0]["state"], "UNCLAIMED");

  // The same list without JSON headers is the protobuf it always was.
  auto plain = client_->Send("POST", "/v1/desired_lrps/list.r3", "",
                             {{"Content-Type", "application/x-protobuf"}});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->Header("Content-Type"), "application/x-protobuf");
  models::DesiredLRPsResponse resp;
  ASSERT_TRUE(resp.ParseFromString(plain->body));
  ASSERT_EQ(resp.desired_lrps_size(), 1);
  EXPECT_EQ(resp.desired_lrps(0).process_guid(), "pg-json");
  EXPECT_EQ(resp.desired_lrps(0).memory_mb(), 256);
}

TEST_F(JsonE2eTest, ErrorsAreTheErrorMessageInJson) {
  nlohmann::json missing =
      PostJson("/v1/desired_lrps/get_by_process_guid.r3", R"({"process_guid": "nope"})");
  EXPECT_EQ(missing["error"]["type"], "ResourceNotFound") << missing.dump();
  EXPECT_EQ(missing["error"]["message"], "the requested resource could not be found");

  nlohmann::json unknown_field = PostJson("/v1/desired_lrp/desire.r2", R"({"desiredlrp": {}})");
  EXPECT_EQ(unknown_field["error"]["type"], "InvalidRequest") << unknown_field.dump();
  EXPECT_EQ(unknown_field["error"]["message"], "the request received is invalid");
}

}  // namespace
}  // namespace bbs::testing
