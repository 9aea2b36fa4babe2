// End-to-end tests of the actual LRP lifecycle and tasks: the real bbs binary with a fake
// auctioneer, a fake rep and a fake callback receiver (real HTTP servers on loopback).

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "bbs/clients/fake_peers.h"
#include "bbs/http/test_client.h"
#include "bbs/models/models.h"
#include "bbs/testing/bbs_process.h"

namespace bbs::testing {
namespace {

using namespace std::chrono_literals;

template <typename Resp>
Resp Call(http::TestClient& client, const std::string& path, const google::protobuf::Message& req) {
  auto r = client.Send("POST", path, req.SerializeAsString(),
                       {{"Content-Type", "application/x-protobuf"}, {"X-Vcap-Request-Id", "t-1"}});
  Resp resp;
  EXPECT_TRUE(r.ok()) << path;
  if (!r.ok()) return resp;
  EXPECT_EQ(r->status, 200) << path;
  EXPECT_TRUE(resp.ParseFromString(r->body)) << path;
  return resp;
}

models::DesiredLRP NewLrp(const std::string& guid, int instances) {
  models::DesiredLRP lrp;
  lrp.set_process_guid(guid);
  lrp.set_domain("cf-apps");
  lrp.set_root_fs("preloaded:cflinuxfs4");
  lrp.set_instances(instances);
  lrp.set_memory_mb(128);
  lrp.set_disk_mb(256);
  lrp.mutable_action()->mutable_run_action()->set_path("/bin/app");
  lrp.mutable_action()->mutable_run_action()->set_user("vcap");
  (*lrp.mutable_metric_tags())["source_id"].set_static_("app");
  return lrp;
}

models::ActualLRPKey Key(const std::string& guid, int index) {
  models::ActualLRPKey k;
  k.set_process_guid(guid);
  k.set_index(index);
  k.set_domain("cf-apps");
  return k;
}

models::ActualLRPInstanceKey Ik(const std::string& ig, const std::string& cell) {
  models::ActualLRPInstanceKey k;
  k.set_instance_guid(ig);
  k.set_cell_id(cell);
  return k;
}

// In TLS mode the fake auctioneer and rep serve https and demand a client certificate from
// the shared test CA, and bbs is configured with upstream's client TLS keys for both.
clients::FakePeerOptions PeerOptions() {
  clients::FakePeerOptions options;
  if (!TlsRequestedByEnvironment()) return options;
  const clients::TestPki* pki = SharedTestPki();
  if (pki == nullptr) return options;
  options.cert_file = pki->server_cert_file;
  options.key_file = pki->server_key_file;
  options.client_ca_file = pki->ca_file;
  return options;
}

class LifecycleE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(auctioneer_.Start().ok());
    ASSERT_TRUE(rep_.Start().ok());
    auctioneer_.SetDefaultReply(clients::FakeReply::Respond(202, "{}", "application/json"));
    rep_.SetDefaultReply(clients::FakeReply::Respond(202));
    bbs_ = std::make_unique<BbsProcess>(
        BBS_BINARY, dir_.path(),
        std::vector<std::string>{"-auctioneerAddress=" + auctioneer_.url(),
                                 "-repUrlTemplate=" + rep_.url()});
    if (TlsRequestedByEnvironment()) {
      std::string error;
      const clients::TestPki* pki = SharedTestPki(&error);
      ASSERT_NE(pki, nullptr) << error;
      ASSERT_EQ(auctioneer_.url().rfind("https://", 0), 0u);
      for (const char* peer : {"auctioneer", "rep"}) {
        bbs_->SetConfigKey(std::string(peer) + "_ca_cert", pki->ca_file);
        bbs_->SetConfigKey(std::string(peer) + "_client_cert", pki->client_cert_file);
        bbs_->SetConfigKey(std::string(peer) + "_client_key", pki->client_key_file);
      }
      bbs_->SetConfigKey("auctioneer_require_tls", true);
    }
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    client_ = bbs_->NewClient();
  }

  void Desire(const models::DesiredLRP& lrp) {
    models::DesireLRPRequest req;
    *req.mutable_desired_lrp() = lrp;
    auto resp =
        Call<models::DesiredLRPLifecycleResponse>(*client_, "/v1/desired_lrp/desire.r2", req);
    ASSERT_FALSE(resp.has_error()) << resp.error().message();
  }

  models::Error Claim(const std::string& guid, int index, const models::ActualLRPInstanceKey& ik,
                      http::TestClient* client = nullptr) {
    models::ClaimActualLRPRequest req;
    req.set_process_guid(guid);
    req.set_index(index);
    *req.mutable_actual_lrp_instance_key() = ik;
    return Call<models::ActualLRPLifecycleResponse>(client ? *client : *client_,
                                                    "/v1/actual_lrps/claim", req)
        .error();
  }

  void StartRunning(const std::string& guid, int index, const models::ActualLRPInstanceKey& ik) {
    EXPECT_EQ(Claim(guid, index, ik).type(), models::Error::UnknownError);
    models::StartActualLRPRequest start;
    *start.mutable_actual_lrp_key() = Key(guid, index);
    *start.mutable_actual_lrp_instance_key() = ik;
    start.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
    auto resp =
        Call<models::ActualLRPLifecycleResponse>(*client_, "/v1/actual_lrps/start.r1", start);
    ASSERT_FALSE(resp.has_error()) << resp.error().message();
  }

  models::ActualLRP Ordinary(const std::string& guid, int index) {
    models::ActualLRPsRequest req;
    req.set_process_guid(guid);
    req.set_index(index);
    auto resp = Call<models::ActualLRPsResponse>(*client_, "/v1/actual_lrps/list", req);
    for (const auto& lrp : resp.actual_lrps()) {
      if (lrp.presence() == models::ActualLRP::ORDINARY) return lrp;
    }
    return {};
  }

  // LRP start requests for `guid` received so far, each as its list of indices.
  std::vector<std::vector<int>> AuctionsFor(const std::string& guid) {
    std::vector<std::vector<int>> out;
    for (const auto& r : auctioneer_.lrp_requests()) {
      for (const auto& entry : r.json) {
        if (entry["process_guid"] == guid) out.push_back(entry["indices"].get<std::vector<int>>());
      }
    }
    return out;
  }

  clients::FakeAuctioneer auctioneer_{PeerOptions()};
  clients::FakeRep rep_{PeerOptions()};
  TempDir dir_;
  std::unique_ptr<BbsProcess> bbs_;
  std::unique_ptr<http::TestClient> client_;
};

TEST_F(LifecycleE2eTest, DesireSendsOneAuctionRequestWithEveryIndex) {
  Desire(NewLrp("pg-1", 3));
  ASSERT_TRUE(auctioneer_.WaitForRequests(1, 10s));
  auto requests = auctioneer_.lrp_requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& body = requests[0].json;
  ASSERT_TRUE(body.is_array());
  ASSERT_EQ(body.size(), 1u);
  auto indices = body[0]["indices"].get<std::vector<int>>();
  std::sort(indices.begin(), indices.end());
  EXPECT_EQ(indices, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(body[0]["domain"], "cf-apps");
  EXPECT_EQ(body[0]["RootFs"], "preloaded:cflinuxfs4");
  EXPECT_EQ(body[0]["MemoryMB"], 128);
  EXPECT_EQ(body[0]["DiskMB"], 256);
  EXPECT_EQ(requests[0].Header("X-Vcap-Request-Id"), "t-1");
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/json");
}

TEST_F(LifecycleE2eTest, FirstTwoCrashesReAuctionAtOnceAndTheThirdWaitsCrashed) {
  Desire(NewLrp("pg-1", 1));
  ASSERT_TRUE(auctioneer_.WaitForRequests(1, 10s));
  for (int crash = 1; crash <= 3; ++crash) {
    auto ik = Ik("ig-" + std::to_string(crash), "cell-1");
    StartRunning("pg-1", 0, ik);
    models::CrashActualLRPRequest req;
    *req.mutable_actual_lrp_key() = Key("pg-1", 0);
    *req.mutable_actual_lrp_instance_key() = ik;
    req.set_error_message("exit status 1");
    auto resp = Call<models::ActualLRPLifecycleResponse>(*client_, "/v1/actual_lrps/crash", req);
    ASSERT_FALSE(resp.has_error()) << resp.error().message();
    auto lrp = Ordinary("pg-1", 0);
    EXPECT_EQ(lrp.crash_count(), crash);
    EXPECT_EQ(lrp.crash_reason(), "exit status 1");
    if (crash < 3) {
      EXPECT_EQ(lrp.state(), "UNCLAIMED");
      ASSERT_TRUE(auctioneer_.WaitForRequests(static_cast<size_t>(1 + crash), 10s));
    } else {
      EXPECT_EQ(lrp.state(), "CRASHED");
    }
  }
  // A later auction (another app) is a barrier: the crashed instance must not have asked.
  Desire(NewLrp("pg-barrier", 1));
  ASSERT_TRUE(auctioneer_.WaitForRequests(4, 10s));
  EXPECT_EQ(AuctionsFor("pg-1"), (std::vector<std::vector<int>>{{0}, {0}, {0}}));
}

TEST_F(LifecycleE2eTest, RetiringARunningInstanceCallsItsRepToStopIt) {
  Desire(NewLrp("pg-1", 1));
  StartRunning("pg-1", 0, Ik("ig-1", "cell-1"));
  models::RetireActualLRPRequest req;
  *req.mutable_actual_lrp_key() = Key("pg-1", 0);
  auto resp = Call<models::ActualLRPLifecycleResponse>(*client_, "/v1/actual_lrps/retire", req);
  ASSERT_FALSE(resp.has_error()) << resp.error().message();
  ASSERT_TRUE(rep_.WaitForRequests(1, 10s));
  auto requests = rep_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/v1/lrps/pg-1/instances/ig-1/stop");
  EXPECT_EQ(requests[0].Header("X-Vcap-Request-Id"), "t-1");
}

TEST_F(LifecycleE2eTest, EvacuatingARunningInstanceAuctionsAReplacementAndKeepsTheContainer) {
  Desire(NewLrp("pg-1", 1));
  ASSERT_TRUE(auctioneer_.WaitForRequests(1, 10s));
  StartRunning("pg-1", 0, Ik("ig-1", "cell-1"));
  models::EvacuateRunningActualLRPRequest req;
  *req.mutable_actual_lrp_key() = Key("pg-1", 0);
  *req.mutable_actual_lrp_instance_key() = Ik("ig-1", "cell-1");
  req.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
  auto resp =
      Call<models::EvacuationResponse>(*client_, "/v1/actual_lrps/evacuate_running.r1", req);
  ASSERT_FALSE(resp.has_error()) << resp.error().message();
  EXPECT_TRUE(resp.keep_container());
  ASSERT_TRUE(auctioneer_.WaitForRequests(2, 10s));
  EXPECT_EQ(AuctionsFor("pg-1").back(), (std::vector<int>{0}));
  EXPECT_EQ(Ordinary("pg-1", 0).state(), "UNCLAIMED");

  // The replacement starts elsewhere; the evacuating cell is then told to let go.
  StartRunning("pg-1", 0, Ik("ig-2", "cell-2"));
  auto again =
      Call<models::EvacuationResponse>(*client_, "/v1/actual_lrps/evacuate_running.r1", req);
  EXPECT_FALSE(again.keep_container());
}

TEST_F(LifecycleE2eTest, ConcurrentClaimsOfOneInstanceHaveExactlyOneWinner) {
  Desire(NewLrp("pg-1", 1));
  constexpr int kClaimers = 12;
  std::atomic<int> wins{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClaimers; ++i) {
    threads.emplace_back([&, i] {
      http::TestClient client(static_cast<uint16_t>(bbs_->port()), bbs_->client_tls());
      auto error =
          Claim("pg-1", 0, Ik("ig-" + std::to_string(i), "cell-" + std::to_string(i)), &client);
      if (error.type() == models::Error::UnknownError && error.message().empty()) ++wins;
      if (error.type() == models::Error::ActualLRPCannotBeClaimed) ++refused;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(refused.load(), kClaimers - 1);
}

class TaskE2eTest : public LifecycleE2eTest {
 protected:
  // Opens the task event stream; events are then awaited with WaitForEvents.
  void SubscribeToTaskEvents() {
    events_ = bbs_->NewClient(20s);
    ASSERT_TRUE(events_->StartRequest("POST", "/v1/events/tasks.r1").ok());
    auto head = events_->ReadUntil("\r\n\r\n");
    ASSERT_TRUE(head.ok());
    ASSERT_NE(head->find("200 OK"), std::string::npos) << *head;
  }

  // Reads the stream until `n` events named `name` arrived in total.
  void WaitForEvents(const std::string& name, int n) {
    std::string needle = "event: " + name + "\n";
    auto count = [&] {
      int c = 0;
      for (size_t pos = seen_.find(needle); pos != std::string::npos;
           pos = seen_.find(needle, pos + 1)) {
        ++c;
      }
      return c;
    };
    while (count() < n) {
      auto more = events_->ReadSome();
      ASSERT_TRUE(more.ok()) << more.status().ToString();
      ASSERT_FALSE(more->empty()) << "stream ended";
      seen_ += *more;
    }
  }

  std::unique_ptr<http::TestClient> events_;
  std::string seen_;

  void DesireTask(const std::string& guid, const std::string& callback_url) {
    models::DesireTaskRequest req;
    req.set_task_guid(guid);
    req.set_domain("cf-tasks");
    auto* def = req.mutable_task_definition();
    def->set_root_fs("docker:///busybox");
    def->mutable_action()->mutable_run_action()->set_path("/bin/true");
    def->mutable_action()->mutable_run_action()->set_user("root");
    def->set_completion_callback_url(callback_url);
    def->set_memory_mb(64);
    auto resp = Call<models::TaskLifecycleResponse>(*client_, "/v1/tasks/desire.r2", req);
    ASSERT_FALSE(resp.has_error()) << resp.error().message();
  }

  void StartAndComplete(const std::string& guid) {
    models::StartTaskRequest start;
    start.set_task_guid(guid);
    start.set_cell_id("cell-1");
    ASSERT_TRUE(Call<models::StartTaskResponse>(*client_, "/v1/tasks/start", start).should_start());
    models::CompleteTaskRequest complete;
    complete.set_task_guid(guid);
    complete.set_cell_id("cell-1");
    complete.set_result("the result");
    auto resp = Call<models::TaskLifecycleResponse>(*client_, "/v1/tasks/complete", complete);
    ASSERT_FALSE(resp.has_error()) << resp.error().message();
  }

  models::TaskResponse Get(const std::string& guid) {
    models::TaskByGuidRequest req;
    req.set_task_guid(guid);
    return Call<models::TaskResponse>(*client_, "/v1/tasks/get_by_task_guid.r3", req);
  }
};

TEST_F(TaskE2eTest, DesireSendsATaskAuctionRequest) {
  DesireTask("tg-1", "");
  ASSERT_TRUE(auctioneer_.WaitForRequests(1, 10s));
  auto requests = auctioneer_.task_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].json[0]["TaskGuid"], "tg-1");
  EXPECT_EQ(requests[0].json[0]["state"], "Invalid");
  EXPECT_EQ(requests[0].json[0]["MemoryMB"], 64);
}

TEST_F(TaskE2eTest, CancellingARunningTaskCallsItsRep) {
  DesireTask("tg-1", "");
  models::StartTaskRequest start;
  start.set_task_guid("tg-1");
  start.set_cell_id("cell-1");
  Call<models::StartTaskResponse>(*client_, "/v1/tasks/start", start);
  models::TaskGuidRequest cancel;
  cancel.set_task_guid("tg-1");
  auto resp = Call<models::TaskLifecycleResponse>(*client_, "/v1/tasks/cancel", cancel);
  ASSERT_FALSE(resp.has_error()) << resp.error().message();
  ASSERT_TRUE(rep_.WaitForRequests(1, 10s));
  EXPECT_EQ(rep_.requests()[0].path, "/v1/tasks/tg-1/cancel");
  EXPECT_EQ(Get("tg-1").task().failure_reason(), "task was cancelled");
}

TEST_F(TaskE2eTest, ACallbackThatFailsTwiceThenSucceedsDeletesTheTask) {
  clients::FakeCallbackReceiver receiver;
  ASSERT_TRUE(receiver.Start().ok());
  receiver.Script({clients::FakeReply::Respond(503), clients::FakeReply::Respond(503),
                   clients::FakeReply::Respond(200)});
  SubscribeToTaskEvents();
  DesireTask("tg-1", receiver.url() + "/callback");
  StartAndComplete("tg-1");
  ASSERT_TRUE(receiver.WaitForRequests(3, 10s));
  auto requests = receiver.requests();
  EXPECT_EQ(requests[0].path, "/callback");
  EXPECT_EQ(requests[0].json["task_guid"], "tg-1");
  EXPECT_EQ(requests[0].json["result"], "the result");
  EXPECT_EQ(requests[0].json["failed"], false);
  WaitForEvents("task_removed", 1);
  EXPECT_EQ(Get("tg-1").error().type(), models::Error::ResourceNotFound);
}

TEST_F(TaskE2eTest, ACallbackReceiverThatIsDownLeavesTheTaskResolving) {
  clients::FakeCallbackReceiver receiver;
  ASSERT_TRUE(receiver.Start().ok());
  std::string url = receiver.url() + "/callback";
  receiver.Stop();  // nothing listens there any more: connection refused
  SubscribeToTaskEvents();
  DesireTask("tg-1", url);
  StartAndComplete("tg-1");
  // start, complete, then the callback worker's COMPLETED -> RESOLVING.
  WaitForEvents("task_changed", 3);
  EXPECT_EQ(Get("tg-1").task().state(), models::Task::Resolving);
  // A later task's full cycle is a barrier: the first one was neither deleted nor retried.
  DesireTask("tg-2", "");
  StartAndComplete("tg-2");
  WaitForEvents("task_changed", 5);
  EXPECT_EQ(Get("tg-1").task().state(), models::Task::Resolving);
}

}  // namespace
}  // namespace bbs::testing
