// Logging options end to end: the access log, RFC 3339 timestamps, and no info line for a rep's
// identical start heartbeat (design.md §8).

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbs/http/test_client.h"
#include "bbs/models/models.h"
#include "bbs/testing/bbs_process.h"

namespace bbs {
namespace {

using testing::BbsProcess;
using testing::TempDir;

std::vector<nlohmann::json> ReadJsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    if (!parsed.is_discarded()) out.push_back(parsed);
  }
  return out;
}

class LoggingE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    access_log_ = dir_.path() + "/access.log";
    bbs_ = std::make_unique<BbsProcess>(BBS_BINARY, dir_.path());
    bbs_->SetConfigKey("access_log_path", access_log_);
    bbs_->SetConfigKey("time_format", "rfc3339");
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    client_ = bbs_->NewClient();
  }

  void Post(const std::string& path, const google::protobuf::Message& req) {
    auto r = client_->Send("POST", path, req.SerializeAsString());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    models::DesiredLRPLifecycleResponse resp;  // every lifecycle response: error = field 1
    ASSERT_TRUE(resp.ParseFromString(r->body));
    ASSERT_FALSE(resp.has_error()) << path << ": " << resp.error().message();
  }

  // The access log lines, once there are at least `count` (bounded wait: the line is written
  // right after the response).
  std::vector<nlohmann::json> AccessLines(size_t count) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      auto lines = ReadJsonLines(access_log_);
      if (lines.size() >= count || std::chrono::steady_clock::now() > deadline) return lines;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  TempDir dir_;
  std::string access_log_;
  std::unique_ptr<BbsProcess> bbs_;
  std::unique_ptr<http::TestClient> client_;
};

TEST_F(LoggingE2eTest, IdenticalStartHeartbeatsGoToTheAccessLogButNeverToTheInfoLog) {
  models::DesireLRPRequest desire;
  auto* lrp = desire.mutable_desired_lrp();
  lrp->set_process_guid("pg-1");
  lrp->set_domain("cf-apps");
  lrp->set_root_fs("preloaded:cflinuxfs4");
  lrp->set_instances(1);
  lrp->mutable_action()->mutable_run_action()->set_path("/bin/true");
  lrp->mutable_action()->mutable_run_action()->set_user("vcap");
  (*lrp->mutable_metric_tags())["source_id"].set_static_("app");
  Post("/v1/desired_lrp/desire.r2", desire);
  models::ClaimActualLRPRequest claim;
  claim.set_process_guid("pg-1");
  claim.mutable_actual_lrp_instance_key()->set_instance_guid("ig-1");
  claim.mutable_actual_lrp_instance_key()->set_cell_id("cell-1");
  Post("/v1/actual_lrps/claim", claim);
  models::StartActualLRPRequest start;
  start.mutable_actual_lrp_key()->set_process_guid("pg-1");
  start.mutable_actual_lrp_key()->set_domain("cf-apps");
  *start.mutable_actual_lrp_instance_key() = claim.actual_lrp_instance_key();
  start.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
  Post("/v1/actual_lrps/start.r1", start);
  ASSERT_EQ(AccessLines(3).size(), 3u);

  const size_t stdout_before = bbs_->Lines().size();
  constexpr int kBeats = 20;
  for (int i = 0; i < kBeats; ++i) Post("/v1/actual_lrps/start.r1", start);
  auto lines = AccessLines(3 + kBeats);
  ASSERT_EQ(lines.size(), 3u + kBeats);
  const nlohmann::json& beat = lines.back();
  EXPECT_EQ(beat["level"], "info");
  EXPECT_EQ(beat["message"], "bbs.access.request");
  EXPECT_EQ(beat["data"]["path"], "/v1/actual_lrps/start.r1");
  EXPECT_EQ(beat["data"]["status"], 200);
  EXPECT_EQ(beat["data"]["response_bytes"], 0);
  EXPECT_EQ(beat["data"]["peer"], bbs_->client_tls() ? "/CN=bbs test client" : "");
  EXPECT_NE(beat["timestamp"].get<std::string>().find('T'), std::string::npos);

  // Whatever reached standard output meanwhile (nothing is expected) is not at info level.
  auto stdout_lines = bbs_->Lines();
  for (size_t i = stdout_before; i < stdout_lines.size(); ++i) {
    auto parsed = nlohmann::json::parse(stdout_lines[i], nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << stdout_lines[i];
    EXPECT_NE(parsed["level"], "info") << stdout_lines[i];
  }
}

}  // namespace
}  // namespace bbs
