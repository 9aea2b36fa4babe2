// End-to-end tests: the real bbs binary, protobuf over HTTP on loopback.

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "bbs/http/test_client.h"
#include "bbs/models/models.h"
#include "bbs/testing/bbs_process.h"

namespace bbs::testing {
namespace {

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
};

// One keep-alive connection to the server under test.
class Client {
 public:
  explicit Client(int port, const std::optional<http::TestClientTls>& tls = std::nullopt)
      : client_(static_cast<uint16_t>(port), tls) {}

  Reply Send(const std::string& method, const std::string& path, const std::string& body,
             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    auto r = client_.Send(method, path, body, headers);
    Reply reply;
    if (!r.ok()) {
      ADD_FAILURE() << "request failed: " << r.status().ToString();
      return reply;
    }
    reply.status = r->status;
    reply.content_type = r->Header("Content-Type");
    reply.body = r->body;
    return reply;
  }

  template <typename Resp>
  Resp Call(const std::string& path, const google::protobuf::Message& req,
            const std::string& trace = "") {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/x-protobuf"}, {"X-Vcap-Request-Id", trace}};
    Reply reply = Send("POST", path, req.SerializeAsString(), headers);
    EXPECT_EQ(reply.status, 200) << path;
    EXPECT_EQ(reply.content_type, "application/x-protobuf") << path;
    Resp resp;
    EXPECT_TRUE(resp.ParseFromString(reply.body)) << path;
    return resp;
  }

 private:
  http::TestClient client_;
};

models::DesiredLRP NewLrp(const std::string& guid, int instances) {
  models::DesiredLRP lrp;
  lrp.set_process_guid(guid);
  lrp.set_domain("cf-apps");
  lrp.set_root_fs("preloaded:cflinuxfs4");
  lrp.set_instances(instances);
  lrp.set_log_guid("log-" + guid);
  lrp.set_memory_mb(256);
  lrp.set_disk_mb(1024);
  auto* run = lrp.mutable_action()->mutable_run_action();
  run->set_path("/bin/sleep");
  run->add_args("1000");
  run->set_user("vcap");
  (*lrp.mutable_metric_tags())["source_id"].set_static_("app-guid");
  (*lrp.mutable_routes()->mutable_routes())["cf-router"] =
      R"([{"hostnames":["app.example.com"],"port":8080}])";
  return lrp;
}

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bbs_ = std::make_unique<BbsProcess>(BBS_BINARY, dir_.path());
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    client_ = std::make_unique<Client>(bbs_->port(), bbs_->client_tls());
  }

  void Restart(bool kill9) {
    client_.reset();
    if (kill9) {
      bbs_->Kill();
    } else {
      EXPECT_EQ(bbs_->Stop(), 0);
    }
    bbs_ = std::make_unique<BbsProcess>(BBS_BINARY, dir_.path());
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    client_ = std::make_unique<Client>(bbs_->port(), bbs_->client_tls());
  }

  models::DesiredLRPLifecycleResponse Desire(const models::DesiredLRP& lrp) {
    models::DesireLRPRequest req;
    *req.mutable_desired_lrp() = lrp;
    return client_->Call<models::DesiredLRPLifecycleResponse>("/v1/desired_lrp/desire.r2", req);
  }

  std::vector<models::ActualLRP> Actuals(const std::string& guid) {
    models::ActualLRPsRequest req;
    req.set_process_guid(guid);
    auto resp = client_->Call<models::ActualLRPsResponse>("/v1/actual_lrps/list", req);
    EXPECT_FALSE(resp.has_error());
    return {resp.actual_lrps().begin(), resp.actual_lrps().end()};
  }

  TempDir dir_;
  std::unique_ptr<BbsProcess> bbs_;
  std::unique_ptr<Client> client_;
};

TEST_F(E2eTest, PingAnswersAvailableTrue) {
  Reply r = client_->Send("POST", "/v1/ping", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/x-protobuf");
  EXPECT_EQ(r.body, std::string("\x08\x01", 2));
}

TEST_F(E2eTest, UnknownPathIs404AndWrongMethodIs405) {
  Reply missing = client_->Send("POST", "/v1/nope", "");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "404 page not found\n");
  EXPECT_EQ(missing.content_type, "text/plain; charset=utf-8");
  Reply wrong = client_->Send("GET", "/v1/ping", "");
  EXPECT_EQ(wrong.status, 405);
}

TEST_F(E2eTest, HealthListenerAnswers200ToAnything) {
  Client health(bbs_->health_port());
  EXPECT_EQ(health.Send("GET", "/ping", "").status, 200);
  EXPECT_EQ(health.Send("POST", "/anything", "").status, 200);
}

TEST_F(E2eTest, UndecodableBodyIsInvalidRequestAndTheServerStaysUp) {
  Reply r = client_->Send("POST", "/v1/desired_lrp/desire.r2", std::string("\x0a\xff\xff", 3));
  ASSERT_EQ(r.status, 200);
  models::DesiredLRPLifecycleResponse resp;
  ASSERT_TRUE(resp.ParseFromString(r.body));
  EXPECT_EQ(resp.error().type(), models::Error::InvalidRequest);
  EXPECT_EQ(resp.error().message(), "the request received is invalid");
  EXPECT_EQ(client_->Send("POST", "/v1/ping", "").status, 200);
}

TEST_F(E2eTest, ValidationFailuresNameTheFields) {
  auto lrp = NewLrp("pg-1", 1);
  lrp.clear_domain();
  lrp.clear_root_fs();
  auto resp = Desire(lrp);
  EXPECT_EQ(resp.error().type(), models::Error::InvalidRequest);
  EXPECT_NE(resp.error().message().find("domain"), std::string::npos) << resp.error().message();
  EXPECT_NE(resp.error().message().find("rootfs"), std::string::npos) << resp.error().message();
}

TEST_F(E2eTest, DomainsUpsertAndList) {
  models::UpsertDomainRequest req;
  req.set_domain("cf-apps");
  req.set_ttl(0);
  auto resp = client_->Call<models::UpsertDomainResponse>("/v1/domains/upsert", req);
  EXPECT_FALSE(resp.has_error());
  models::UpsertDomainRequest empty;
  auto bad = client_->Call<models::UpsertDomainResponse>("/v1/domains/upsert", empty);
  EXPECT_EQ(bad.error().type(), models::Error::InvalidRequest);
  Reply list = client_->Send("POST", "/v1/domains/list", "");
  models::DomainsResponse domains;
  ASSERT_TRUE(domains.ParseFromString(list.body));
  ASSERT_EQ(domains.domains_size(), 1);
  EXPECT_EQ(domains.domains(0), "cf-apps");
}

TEST_F(E2eTest, DesireCreatesUnclaimedInstancesAndReadsAgree) {
  ASSERT_FALSE(Desire(NewLrp("pg-1", 3)).has_error());
  EXPECT_EQ(Desire(NewLrp("pg-1", 3)).error().type(), models::Error::ResourceExists);

  auto actuals = Actuals("pg-1");
  ASSERT_EQ(actuals.size(), 3u);
  for (const auto& a : actuals) EXPECT_EQ(a.state(), "UNCLAIMED");

  models::DesiredLRPByProcessGuidRequest get;
  get.set_process_guid("pg-1");
  auto got =
      client_->Call<models::DesiredLRPResponse>("/v1/desired_lrps/get_by_process_guid.r3", get);
  ASSERT_FALSE(got.has_error());
  EXPECT_EQ(got.desired_lrp().instances(), 3);
  EXPECT_EQ(got.desired_lrp().metrics_guid(), "app-guid");  // metrics-guid fix-up
  EXPECT_TRUE(got.desired_lrp().has_modification_tag());

  models::DesiredLRPsRequest all;
  auto list = client_->Call<models::DesiredLRPsResponse>("/v1/desired_lrps/list.r3", all);
  EXPECT_EQ(list.desired_lrps_size(), 1);
  auto infos = client_->Call<models::DesiredLRPSchedulingInfosResponse>(
      "/v1/desired_lrp_scheduling_infos/list", all);
  ASSERT_EQ(infos.desired_lrp_scheduling_infos_size(), 1);
  EXPECT_EQ(infos.desired_lrp_scheduling_infos(0).desired_lrp_resource().memory_mb(), 256);
  auto routing =
      client_->Call<models::DesiredLRPsResponse>("/v1/desired_lrp_routing_infos/list", all);
  ASSERT_EQ(routing.desired_lrps_size(), 1);
  EXPECT_FALSE(routing.desired_lrps(0).has_action());
  EXPECT_EQ(routing.desired_lrps(0).routes().routes_size(), 1);

  get.set_process_guid("missing");
  auto missing =
      client_->Call<models::DesiredLRPResponse>("/v1/desired_lrps/get_by_process_guid.r3", get);
  EXPECT_EQ(missing.error().type(), models::Error::ResourceNotFound);
}

TEST_F(E2eTest, UpdateScalesAndRemoveDeletesUnclaimedInstances) {
  ASSERT_FALSE(Desire(NewLrp("pg-1", 2)).has_error());
  models::UpdateDesiredLRPRequest update;
  update.set_process_guid("pg-1");
  update.mutable_update()->set_instances(5);
  auto resp = client_->Call<models::DesiredLRPLifecycleResponse>("/v1/desired_lrp/update", update);
  ASSERT_FALSE(resp.has_error()) << resp.error().message();
  EXPECT_EQ(Actuals("pg-1").size(), 5u);
  update.mutable_update()->set_instances(1);
  client_->Call<models::DesiredLRPLifecycleResponse>("/v1/desired_lrp/update", update);
  EXPECT_EQ(Actuals("pg-1").size(), 1u);

  models::RemoveDesiredLRPRequest remove;
  remove.set_process_guid("pg-1");
  auto removed =
      client_->Call<models::DesiredLRPLifecycleResponse>("/v1/desired_lrp/remove", remove);
  EXPECT_FALSE(removed.has_error());
  EXPECT_TRUE(Actuals("pg-1").empty());
}

TEST_F(E2eTest, DeprecatedGroupRoutesFoldInstances) {
  ASSERT_FALSE(Desire(NewLrp("pg-1", 2)).has_error());
  models::ActualLRPGroupsByProcessGuidRequest by_guid;
  by_guid.set_process_guid("pg-1");
  auto groups = client_->Call<models::ActualLRPGroupsResponse>(
      "/v1/actual_lrp_groups/list_by_process_guid", by_guid);
  EXPECT_EQ(groups.actual_lrp_groups_size(), 2);
  models::ActualLRPGroupByProcessGuidAndIndexRequest one;
  one.set_process_guid("pg-1");
  one.set_index(1);
  auto group = client_->Call<models::ActualLRPGroupResponse>(
      "/v1/actual_lrp_groups/get_by_process_guid_and_index", one);
  EXPECT_EQ(group.actual_lrp_group().instance().actual_lrp_key().index(), 1);
  one.set_index(7);
  auto none = client_->Call<models::ActualLRPGroupResponse>(
      "/v1/actual_lrp_groups/get_by_process_guid_and_index", one);
  EXPECT_EQ(none.error().type(), models::Error::ResourceNotFound);
}

TEST_F(E2eTest, AcknowledgedWritesSurviveKillDashNine) {
  constexpr int kWriters = 8;
  constexpr int kPerWriter = 10;
  std::atomic<int> acked{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Client c(bbs_->port(), bbs_->client_tls());
      for (int i = 0; i < kPerWriter; ++i) {
        models::DesireLRPRequest req;
        *req.mutable_desired_lrp() = NewLrp("pg-" + std::to_string(w) + "-" + std::to_string(i), 2);
        auto resp = c.Call<models::DesiredLRPLifecycleResponse>("/v1/desired_lrp/desire.r2", req);
        if (!resp.has_error()) ++acked;
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(acked.load(), kWriters * kPerWriter);

  Restart(/*kill9=*/true);

  models::DesiredLRPsRequest all;
  auto list = client_->Call<models::DesiredLRPsResponse>("/v1/desired_lrps/list.r3", all);
  EXPECT_EQ(list.desired_lrps_size(), kWriters * kPerWriter);
  auto actuals = client_->Call<models::ActualLRPsResponse>("/v1/actual_lrps/list",
                                                           models::ActualLRPsRequest());
  EXPECT_EQ(actuals.actual_lrps_size(), kWriters * kPerWriter * 2);
}

TEST_F(E2eTest, GracefulRestartKeepsData) {
  ASSERT_FALSE(Desire(NewLrp("pg-1", 1)).has_error());
  Restart(/*kill9=*/false);
  EXPECT_EQ(Actuals("pg-1").size(), 1u);
}

TEST_F(E2eTest, TasksAreDesiredListedAndResolved) {
  models::DesireTaskRequest desire;
  desire.set_task_guid("tg-1");
  desire.set_domain("cf-tasks");
  auto* def = desire.mutable_task_definition();
  def->set_root_fs("docker:///busybox");
  def->mutable_action()->mutable_run_action()->set_path("/bin/true");
  def->mutable_action()->mutable_run_action()->set_user("root");
  auto desired = client_->Call<models::TaskLifecycleResponse>("/v1/tasks/desire.r2", desire);
  ASSERT_FALSE(desired.has_error()) << desired.error().message();

  models::StartTaskRequest start;
  start.set_task_guid("tg-1");
  start.set_cell_id("cell-1");
  auto started = client_->Call<models::StartTaskResponse>("/v1/tasks/start", start);
  EXPECT_TRUE(started.should_start());
  auto again = client_->Call<models::StartTaskResponse>("/v1/tasks/start", start);
  EXPECT_FALSE(again.has_error());
  EXPECT_FALSE(again.should_start());

  models::CompleteTaskRequest complete;
  complete.set_task_guid("tg-1");
  complete.set_cell_id("cell-1");
  complete.set_result("42");
  EXPECT_FALSE(
      client_->Call<models::TaskLifecycleResponse>("/v1/tasks/complete", complete).has_error());

  models::TasksRequest list;
  list.set_domain("cf-tasks");
  auto tasks = client_->Call<models::TasksResponse>("/v1/tasks/list.r3", list);
  ASSERT_EQ(tasks.tasks_size(), 1);
  EXPECT_EQ(tasks.tasks(0).state(), models::Task::Completed);
  EXPECT_EQ(tasks.tasks(0).result(), "42");

  models::TaskGuidRequest guid;
  guid.set_task_guid("tg-1");
  auto bad = client_->Call<models::TaskLifecycleResponse>("/v1/tasks/delete", guid);
  EXPECT_EQ(bad.error().type(), models::Error::InvalidStateTransition);
  EXPECT_FALSE(
      client_->Call<models::TaskLifecycleResponse>("/v1/tasks/resolving", guid).has_error());
  EXPECT_FALSE(client_->Call<models::TaskLifecycleResponse>("/v1/tasks/delete", guid).has_error());
  auto gone = client_->Call<models::TaskResponse>("/v1/tasks/get_by_task_guid.r3", guid);
  EXPECT_EQ(gone.error().type(), models::Error::ResourceNotFound);
}

}  // namespace
}  // namespace bbs::testing
