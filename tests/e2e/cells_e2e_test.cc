// End-to-end test of cell presence and convergence: a rep-like client registers cells through
// bbs's own Locket gRPC API; when a cell's presence expires, convergence makes its instance
// suspect and a replacement is placed on another cell.

#include <thread>

#include <gtest/gtest.h>

#include "bbs/cells/cell_presence_json.h"
#include "bbs/cells/locket_client.h"
#include "bbs/http/test_client.h"
#include "bbs/models/models.h"
#include "bbs/testing/bbs_process.h"

namespace bbs::testing {
namespace {

using namespace std::chrono_literals;

class CellsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bbs_ = std::make_unique<BbsProcess>(
        BBS_BINARY, dir_.path(), std::vector<std::string>{"-locketListenAddress=127.0.0.1:0"});
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    client_ = bbs_->NewClient();
    std::string locket;
    for (const auto& line : bbs_->Lines()) {
      auto pos = line.find("\"locket_listen_address\":\"");
      if (pos == std::string::npos) continue;
      pos += 25;
      locket = line.substr(pos, line.find('"', pos) - pos);
    }
    ASSERT_FALSE(locket.empty());
    cells::LocketClientOptions options;
    options.address = locket;
    // In TLS mode the built-in Locket listener serves mutual TLS with the API's certificate.
    if (const auto& tls = bbs_->client_tls()) {
      options.tls = cells::LocketTls{tls->ca_file, tls->cert_file, tls->key_file};
    }
    auto created = cells::LocketClient::Create(options);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    locket_ = std::move(*created);
    ASSERT_TRUE(locket_->WaitForConnected(10s).ok());
  }

  void Register(const std::string& cell, int64_t ttl) {
    models::CellPresence presence;
    presence.set_cell_id(cell);
    presence.set_rep_address("http://" + cell + ":1800");
    presence.set_rep_url("https://" + cell + ".cell.service.cf.internal:1801");
    presence.set_zone("z1");
    presence.mutable_capacity()->set_memory_mb(1024);
    presence.mutable_capacity()->set_disk_mb(1024);
    presence.mutable_capacity()->set_containers(10);
    cells::LocketResource resource;
    resource.key = cell;
    resource.owner = "rep-" + cell;
    resource.value = cells::EncodeCellPresenceJson(presence);
    resource.type = cells::ResourceType::kPresence;
    ASSERT_TRUE(locket_->Lock(resource, ttl).ok());
  }

  std::vector<std::string> Cells() {
    auto r = client_->Send("POST", "/v1/cells/list.r1", "");
    models::CellsResponse resp;
    EXPECT_TRUE(r.ok() && resp.ParseFromString(r->body));
    std::vector<std::string> out;
    for (const auto& c : resp.cells()) out.push_back(c.cell_id());
    return out;
  }

  template <typename Resp = models::ActualLRPLifecycleResponse>
  Resp Post(const std::string& path, const google::protobuf::Message& req) {
    auto r = client_->Send("POST", path, req.SerializeAsString());
    Resp resp;
    EXPECT_TRUE(r.ok() && resp.ParseFromString(r->body)) << path;
    EXPECT_FALSE(resp.has_error()) << path << ": " << resp.error().message();
    return resp;
  }

  void ClaimAndStart(const std::string& cell) {
    models::ClaimActualLRPRequest claim;
    claim.set_process_guid("pg-1");
    claim.mutable_actual_lrp_instance_key()->set_instance_guid("ig-" + cell);
    claim.mutable_actual_lrp_instance_key()->set_cell_id(cell);
    Post("/v1/actual_lrps/claim", claim);
    models::StartActualLRPRequest start;
    start.mutable_actual_lrp_key()->set_process_guid("pg-1");
    start.mutable_actual_lrp_key()->set_domain("cf-apps");
    *start.mutable_actual_lrp_instance_key() = claim.actual_lrp_instance_key();
    start.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
    Post("/v1/actual_lrps/start.r1", start);
  }

  std::vector<models::ActualLRP> Rows() {
    models::ActualLRPsRequest req;
    req.set_process_guid("pg-1");
    auto resp = Post<models::ActualLRPsResponse>("/v1/actual_lrps/list", req);
    return {resp.actual_lrps().begin(), resp.actual_lrps().end()};
  }

  TempDir dir_;
  std::unique_ptr<BbsProcess> bbs_;
  std::unique_ptr<http::TestClient> client_;
  std::unique_ptr<cells::LocketClient> locket_;
};

TEST_F(CellsE2eTest, AnInstanceOnAnExpiredCellIsReplacedOnAnotherCell) {
  Register("cell-1", 1);
  Register("cell-2", 300);
  auto listed = Cells();
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, (std::vector<std::string>{"cell-1", "cell-2"}));

  models::DesireLRPRequest desire;
  auto* lrp = desire.mutable_desired_lrp();
  lrp->set_process_guid("pg-1");
  lrp->set_domain("cf-apps");
  lrp->set_root_fs("preloaded:cflinuxfs4");
  lrp->set_instances(1);
  lrp->mutable_action()->mutable_run_action()->set_path("/bin/app");
  lrp->mutable_action()->mutable_run_action()->set_user("vcap");
  (*lrp->mutable_metric_tags())["source_id"].set_static_("app");
  Post("/v1/desired_lrp/desire.r2", desire);
  ClaimAndStart("cell-1");

  // cell-1's rep stops refreshing: its presence expires after its 1 s TTL (real time).
  for (int i = 0; i < 100 && Cells().size() != 1; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(Cells(), std::vector<std::string>{"cell-2"});

  http::TestClient events(static_cast<uint16_t>(bbs_->port()), bbs_->client_tls(), 20s);
  ASSERT_TRUE(events.StartRequest("POST", "/v1/events/lrp_instances.r1").ok());
  ASSERT_TRUE(events.ReadUntil("\r\n\r\n").ok());

  Post("/v1/lrps/converge", models::ActualLRPsRequest());
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    if (row.presence() == models::ActualLRP::SUSPECT) {
      EXPECT_EQ(row.state(), "RUNNING");
      EXPECT_EQ(row.actual_lrp_instance_key().cell_id(), "cell-1");
    } else {
      EXPECT_EQ(row.state(), "UNCLAIMED");
    }
  }
  auto changed = events.ReadUntil("event: actual_lrp_instance_changed\n");
  ASSERT_TRUE(changed.ok());
  auto created = events.ReadUntil("event: actual_lrp_instance_created\n");
  ASSERT_TRUE(created.ok());

  ClaimAndStart("cell-2");
  auto removed = events.ReadUntil("event: actual_lrp_instance_removed\n");
  ASSERT_TRUE(removed.ok());
  rows = Rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].presence(), models::ActualLRP::ORDINARY);
  EXPECT_EQ(rows[0].state(), "RUNNING");
  EXPECT_EQ(rows[0].actual_lrp_instance_key().cell_id(), "cell-2");
}

}  // namespace
}  // namespace bbs::testing
