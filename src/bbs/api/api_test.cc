#include "bbs/api/api.h"
#include "bbs/domain/event_testing.h"

#include <future>

#include <gtest/gtest.h>

#include "bbs/api/encoding.h"
#include "bbs/base/status_matchers.h"
#include "bbs/models/models.h"
#include "bbs/storage/memory_store.h"

namespace bbs::api {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  ApiTest()
      : engine_(&store_, &clock_, &guids_, &publisher_, Logger(LogSink::Null(), "t"),
                state::Engine::Options{}),
        api_(&engine_, Logger(LogSink::Null(), "t")),
        router_(api_.Router(&hub_, &pool_)) {
    EXPECT_THAT(engine_.Load(), IsOk());
    engine_.Start();
  }

  // Serves `route` ("METHOD /path") through the router as the server would, and returns the
  // response body.
  std::string Call(const std::string& route, const std::string& body) {
    size_t space = route.find(' ');
    http::Response miss;
    const http::Route* found = router_.Find(route.substr(0, space), route.substr(space + 1), &miss);
    EXPECT_NE(found, nullptr) << route;
    if (found == nullptr) return "";
    http::Request request;
    request.method = route.substr(0, space);
    request.path = route.substr(space + 1);
    request.body = body;
    request.request_id = "trace-1";
    std::promise<http::Response> answered;
    found->handler(std::move(request),
                   http::Responder([&](http::Response r) { answered.set_value(std::move(r)); }));
    http::Response response = answered.get_future().get();
    EXPECT_EQ(response.status, 200) << route;
    EXPECT_EQ(response.content_type, "application/x-protobuf") << route;
    return response.body;
  }

  bool HasRoute(const std::string& method, const std::string& path) {
    http::Response miss;
    return router_.Find(method, path, &miss) != nullptr;
  }

  storage::MemoryStore store_;
  FakeClock clock_;
  SequentialGuidGenerator guids_;
  domain::testing::NullEventPublisher publisher_;
  state::Engine engine_;
  events::Hub hub_;
  WorkerPool pool_{1};
  Api api_;
  http::Router router_;
};

TEST_F(ApiTest, ErrorResponseEncodesTheErrorAsFieldOne) {
  EXPECT_EQ(ErrorResponse(Status::Ok()), "");
  models::DesiredLRPLifecycleResponse resp;
  ASSERT_TRUE(resp.ParseFromString(ErrorResponse(Exists())));
  EXPECT_EQ(resp.error().type(), models::Error::ResourceExists);
  EXPECT_EQ(resp.error().message(), "the requested resource already exists");
}

TEST_F(ApiTest, PingAnswersAvailable) {
  EXPECT_EQ(Call("POST /v1/ping", ""), std::string("\x08\x01", 2));
}

TEST_F(ApiTest, TheRouteTableHasEveryCurrentRoute) {
  // api.md §3.1 lists 50 routes; the seed adds 8 that upstream removed.
  EXPECT_EQ(router_.routes().size(), 58u);
  EXPECT_TRUE(HasRoute("GET", "/v1/events.r1"));
  EXPECT_TRUE(HasRoute("POST", "/v1/events/lrp_instances"));
  EXPECT_TRUE(HasRoute("POST", "/v1/cells/list.r1"));
  EXPECT_TRUE(HasRoute("POST", "/v1/lrps/converge"));
}

TEST_F(ApiTest, ListedActualLrpsEncodeLikeTheResponseMessage) {
  models::DesireLRPRequest req;
  auto* lrp = req.mutable_desired_lrp();
  lrp->set_process_guid("pg-1");
  lrp->set_domain("d");
  lrp->set_root_fs("preloaded:cflinuxfs4");
  lrp->set_instances(2);
  lrp->mutable_action()->mutable_run_action()->set_path("/bin/true");
  lrp->mutable_action()->mutable_run_action()->set_user("vcap");
  (*lrp->mutable_metric_tags())["source_id"].set_static_("x");
  ASSERT_EQ(Call("POST /v1/desired_lrp/desire.r2", req.SerializeAsString()), "");

  std::string body = Call("POST /v1/actual_lrps/list", "");
  models::ActualLRPsResponse resp;
  ASSERT_TRUE(resp.ParseFromString(body));
  ASSERT_EQ(resp.actual_lrps_size(), 2);
  EXPECT_EQ(resp.SerializeAsString(), body);
}

TEST_F(ApiTest, ActualLrpsByProcessGuidsRequiresAGuid) {
  models::ActualLRPsByProcessGuidsResponse resp;
  ASSERT_TRUE(resp.ParseFromString(Call("POST /v1/actual_lrps/list_by_process_guids", "")));
  EXPECT_EQ(resp.error().type(), models::Error::InvalidRequest);
}

TEST_F(ApiTest, WithMetricsEveryRouteIsCountedUnderItsName) {
  metrics::BbsMetrics metrics;
  http::Router router = api_.Router(&hub_, &pool_, &metrics, &clock_);
  http::Response miss;
  const http::Route* ping = router.Find("POST", "/v1/ping", &miss);
  ASSERT_NE(ping, nullptr);
  for (int i = 0; i < 2; ++i) {
    std::promise<http::Response> answered;
    ping->handler(http::Request{},
                  http::Responder([&](http::Response r) { answered.set_value(std::move(r)); }));
    EXPECT_EQ(answered.get_future().get().status, 200);
  }
  metrics::RequestReport report = metrics.TakeRequestReport();
  EXPECT_EQ(report.count, 2u);
  bool found = false;
  for (const auto& route : report.routes) {
    if (route.name == "Ping") {
      found = true;
      EXPECT_EQ(route.count, 2u);
    } else {
      EXPECT_EQ(route.count, 0u) << route.name;
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace bbs::api
