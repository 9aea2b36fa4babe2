#include "bbs/api/api.h"
#include "bbs/domain/event_testing.h"

#include <future>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbs/api/encoding.h"
#include "bbs/api/json_face.h"
#include "bbs/base/status_matchers.h"
#include "bbs/models/model_json.h"
#include "bbs/models/models.h"
#include "bbs/storage/memory_store.h"

namespace bbs::api {
namespace {

// A valid DesiredLRP in domain "d" that runs /bin/true.
models::DesiredLRP RunnableLrp(const std::string& process_guid, int32_t instances) {
  models::DesiredLRP lrp;
  lrp.set_process_guid(process_guid);
  lrp.set_domain("d");
  lrp.set_root_fs("preloaded:cflinuxfs4");
  lrp.set_instances(instances);
  lrp.mutable_action()->mutable_run_action()->set_path("/bin/true");
  lrp.mutable_action()->mutable_run_action()->set_user("vcap");
  (*lrp.mutable_metric_tags())["source_id"].set_static_("x");
  return lrp;
}

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

  // Serves `request` on `route` ("METHOD /path") through the router as the server would, and
  // returns the response.
  http::Response Serve(const std::string& route, http::Request request) {
    size_t space = route.find(' ');
    http::Response miss;
    const http::Route* found = router_.Find(route.substr(0, space), route.substr(space + 1), &miss);
    EXPECT_NE(found, nullptr) << route;
    if (found == nullptr) return miss;
    request.method = route.substr(0, space);
    request.path = route.substr(space + 1);
    std::promise<http::Response> answered;
    found->handler(std::move(request),
                   http::Responder([&](http::Response r) { answered.set_value(std::move(r)); }));
    return answered.get_future().get();
  }

  // Serves a protobuf request for `route` and returns the response body, which must be a
  // protobuf 200.
  std::string Call(const std::string& route, const std::string& body) {
    http::Request request;
    request.body = body;
    request.request_id = "trace-1";
    http::Response response = Serve(route, std::move(request));
    EXPECT_EQ(response.status, 200) << route;
    EXPECT_EQ(response.content_type, "application/x-protobuf") << route;
    return response.body;
  }

  // Serves `route` with the given Content-Type and Accept headers and returns the response.
  http::Response Serve(const std::string& route, const std::string& body,
                       const std::string& content_type, const std::string& accept) {
    http::Request request;
    request.body = body;
    request.content_type = content_type;
    request.accept = accept;
    return Serve(route, std::move(request));
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
  *req.mutable_desired_lrp() = RunnableLrp("pg-1", 2);
  ASSERT_EQ(Call("POST /v1/desired_lrp/desire.r2", req.SerializeAsString()), "");

  std::string body = Call("POST /v1/actual_lrps/list", "");
  models::ActualLRPsResponse resp;
  ASSERT_TRUE(resp.ParseFromString(body));
  ASSERT_EQ(resp.actual_lrps_size(), 2);
  EXPECT_EQ(resp.SerializeAsString(), body);
}

TEST_F(ApiTest, AListOfAMebibyteOrMoreIsStreamedWithTheSameBytesAndJsonStillBuildsItWhole) {
  for (int i = 0; i < 130; ++i) {
    models::DesiredLRP lrp = RunnableLrp("pg-" + std::to_string(i), 0);
    lrp.set_annotation(std::string(9000, static_cast<char>('a' + i % 26)));
    ASSERT_THAT(engine_.desired_lrps().DesireLrp(lrp, ""), IsOk());
  }
  const int field =
      models::DesiredLRPSchedulingInfosResponse::kDesiredLrpSchedulingInfosFieldNumber;
  const std::string expected = engine_.model().EncodedSchedulingInfos({}, field);
  ASSERT_GE(expected.size(), kStreamedListBytes);

  http::Request request;
  http::Response streamed = Serve("POST /v1/desired_lrp_scheduling_infos/list", std::move(request));
  EXPECT_EQ(streamed.status, 200);
  EXPECT_EQ(streamed.content_type, "application/x-protobuf");
  ASSERT_NE(streamed.body_source, nullptr);
  ASSERT_EQ(streamed.body_source->size(), expected.size());
  std::string got(expected.size(), '\0');
  size_t done = 0;
  while (done < got.size()) {
    size_t n =
        streamed.body_source->Read(got.data() + done, std::min<size_t>(65536, got.size() - done));
    ASSERT_GT(n, 0u);
    done += n;
  }
  EXPECT_TRUE(got == expected) << "the streamed body differs";
  models::DesiredLRPSchedulingInfosResponse resp;
  ASSERT_TRUE(resp.ParseFromString(got));
  EXPECT_EQ(resp.desired_lrp_scheduling_infos_size(), 130);

  http::Response json =
      Serve("POST /v1/desired_lrp_scheduling_infos/list", "", "", "application/json");
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.body_source, nullptr);
  EXPECT_EQ(json.body, wire::ModelJson(resp));
}

TEST_F(ApiTest, ActualLrpsByProcessGuidsRequiresAGuid) {
  models::ActualLRPsByProcessGuidsResponse resp;
  ASSERT_TRUE(resp.ParseFromString(Call("POST /v1/actual_lrps/list_by_process_guids", "")));
  EXPECT_EQ(resp.error().type(), models::Error::InvalidRequest);
}

TEST(JsonFaceTest, ContentTypeIsJsonWithAnyParametersAndCase) {
  for (const char* type : {"application/json", "Application/JSON; charset=utf-8"}) {
    EXPECT_TRUE(IsJsonContentType(type)) << type;
  }
  for (const char* type : {"", "application/x-protobuf", "application/jsonx"}) {
    EXPECT_FALSE(IsJsonContentType(type)) << type;
  }
}

TEST(JsonFaceTest, AcceptNamesJsonAmongOtherTypes) {
  for (const char* accept : {"application/json", "text/plain, application/json;q=0.9"}) {
    EXPECT_TRUE(AcceptsJson(accept)) << accept;
  }
  for (const char* accept : {"", "*/*", "application/x-protobuf"}) {
    EXPECT_FALSE(AcceptsJson(accept)) << accept;
  }
}

TEST(JsonFaceTest, AnUnknownFieldDoesNotDecode) {
  models::DesireLRPRequest req;
  EXPECT_TRUE(DecodeJsonRequest(R"({"desired_lrp":{"process_guid":"pg"}})", &req));
  EXPECT_EQ(req.desired_lrp().process_guid(), "pg");
  EXPECT_FALSE(DecodeJsonRequest(R"({"no_such_field":1})", &req));
  EXPECT_FALSE(DecodeJsonRequest(R"({"desired_lrp":{"no_such_field":1}})", &req));
  EXPECT_FALSE(DecodeJsonRequest("not json", &req));
}

TEST(JsonFaceTest, ARequestsUpdateTakesUpstreamsUpdateShape) {
  models::UpdateDesiredLRPRequest req;
  ASSERT_TRUE(DecodeJsonRequest(R"({"process_guid":"pg","update":{"instances":3}})", &req));
  EXPECT_EQ(req.process_guid(), "pg");
  EXPECT_EQ(req.update().instances(), 3);
}

TEST_F(ApiTest, EveryUnaryRouteHasAJsonResponseType) {
  size_t unary = 0;
  for (const auto& route : router_.routes()) {
    if (route->path.find("/v1/events") == 0) continue;
    ++unary;
    EXPECT_FALSE(ResponseTypeOf(route->name).empty()) << route->name;
  }
  EXPECT_EQ(unary, 52u);
}

TEST_F(ApiTest, AJsonRequestDesiresAndAJsonListShowsIt) {
  http::Response desired = Serve("POST /v1/desired_lrp/desire.r2", R"({"desired_lrp": {
      "process_guid": "pg-json", "domain": "d", "rootfs": "preloaded:cflinuxfs4",
      "instances": 1, "action": {"run": {"path": "/bin/true", "user": "vcap"}},
      "metric_tags": {"source_id": {"static": "x"}}}})",
                                 "application/json", "application/json");
  EXPECT_EQ(desired.status, 200);
  EXPECT_EQ(desired.content_type, "application/json");
  auto answer = nlohmann::json::parse(desired.body, nullptr, false);
  ASSERT_TRUE(answer.is_object()) << desired.body;
  EXPECT_TRUE(answer.value("error", nlohmann::json()).is_null()) << desired.body;

  http::Response listed = Serve("POST /v1/desired_lrps/list.r3", R"({"domain": "d"})",
                                "application/json", "application/json");
  EXPECT_EQ(listed.status, 200);
  EXPECT_EQ(listed.content_type, "application/json");
  EXPECT_NE(listed.body.find(R"("process_guid":"pg-json")"), std::string::npos) << listed.body;
  EXPECT_NE(listed.body.find(R"("rootfs":"preloaded:cflinuxfs4")"), std::string::npos)
      << listed.body;
  models::DesiredLRPsResponse resp;
  ASSERT_TRUE(resp.ParseFromString(Call("POST /v1/desired_lrps/list.r3", "")));
  ASSERT_EQ(resp.desired_lrps_size(), 1);
  EXPECT_EQ(resp.desired_lrps(0).process_guid(), "pg-json");
  // The JSON answer is the protobuf answer in bbsctl's shape.
  EXPECT_EQ(listed.body, wire::ModelJson(resp));
}

TEST_F(ApiTest, AJsonRequestWithAnUnknownFieldIsAnInvalidRequestInJson) {
  http::Response r = Serve("POST /v1/desired_lrp/desire.r2", R"({"bogus": true})",
                           "application/json", "application/json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  auto answer = nlohmann::json::parse(r.body, nullptr, false);
  EXPECT_EQ(answer["error"]["type"], "InvalidRequest") << r.body;
  EXPECT_EQ(answer["error"]["message"], "the request received is invalid") << r.body;
}

TEST_F(ApiTest, AnEvacuationErrorInJsonKeepsItsKeepContainer) {
  http::Response r = Serve("POST /v1/actual_lrps/evacuate_claimed", "{oops", "application/json",
                           "application/json");
  models::EvacuationResponse expected;
  ASSERT_TRUE(expected.ParseFromString(
      Call("POST /v1/actual_lrps/evacuate_claimed", std::string("\xff", 1))));
  EXPECT_EQ(expected.error().type(), models::Error::InvalidRequest);
  EXPECT_EQ(r.body, wire::ModelJson(expected));
}

TEST_F(ApiTest, AJsonRequestCanBeAnsweredInProtobuf) {
  http::Response r = Serve("POST /v1/domains/upsert", R"({"domain": "cf-apps", "ttl": 30})",
                           "application/json", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/x-protobuf");
  EXPECT_EQ(r.body, "");
  models::DomainsResponse domains;
  ASSERT_TRUE(domains.ParseFromString(Call("POST /v1/domains/list", "")));
  ASSERT_EQ(domains.domains_size(), 1);
  EXPECT_EQ(domains.domains(0), "cf-apps");
}

TEST_F(ApiTest, AProtobufRequestCanBeAnsweredInJson) {
  http::Response r = Serve("POST /v1/ping", "", "", "application/json");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"available":true})");
}

TEST_F(ApiTest, WithoutJsonHeadersTheAnswerIsTheSameProtobufBytes) {
  models::DesireLRPRequest req;
  *req.mutable_desired_lrp() = RunnableLrp("pg-1", 1);
  ASSERT_EQ(Call("POST /v1/desired_lrp/desire.r2", req.SerializeAsString()), "");

  http::Response plain = Serve("POST /v1/desired_lrps/list.r3", "", "", "");
  EXPECT_EQ(plain.content_type, "application/x-protobuf");
  EXPECT_EQ(plain.body, Call("POST /v1/desired_lrps/list.r3", ""));
  // Other media types leave the protobuf face alone.
  http::Response other =
      Serve("POST /v1/desired_lrps/list.r3", "", "application/x-protobuf", "*/*");
  EXPECT_EQ(other.content_type, "application/x-protobuf");
  EXPECT_EQ(other.body, plain.body);
  http::Response error = Serve("POST /v1/desired_lrp/desire.r2", "{}", "", "");
  EXPECT_EQ(error.content_type, "application/x-protobuf");
  EXPECT_EQ(error.body, ErrorResponse(InvalidRequest()));
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

TEST_F(ApiTest, ClaimsAndStartsAreAnsweredWithoutTheWorkerPoolWhenTheirKeyIsFree) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(RunnableLrp("pg-hb", 1), ""), IsOk());
  pool_.Shutdown();  // from here on, a request that reaches the pool is refused (503)
  models::ClaimActualLRPRequest claim;
  claim.set_process_guid("pg-hb");
  claim.set_index(0);
  claim.mutable_actual_lrp_instance_key()->set_instance_guid("ig-1");
  claim.mutable_actual_lrp_instance_key()->set_cell_id("cell-1");
  EXPECT_EQ(Call("POST /v1/actual_lrps/claim", claim.SerializeAsString()), "");
  auto rows = engine_.model().ActualLrps({"", "", "pg-hb", 0});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]->state(), "CLAIMED");  // memory shows the write before the answer

  models::StartActualLRPRequest start;
  start.mutable_actual_lrp_key()->set_process_guid("pg-hb");
  start.mutable_actual_lrp_key()->set_index(0);
  start.mutable_actual_lrp_key()->set_domain("d");
  start.mutable_actual_lrp_instance_key()->set_instance_guid("ig-1");
  start.mutable_actual_lrp_instance_key()->set_cell_id("cell-1");
  start.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
  start.mutable_actual_lrp_net_info()->set_instance_address("10.0.0.2");
  EXPECT_EQ(Call("POST /v1/actual_lrps/start.r1", start.SerializeAsString()), "");
  const int64_t commits = store_.commit_count();
  // The same heartbeat again changes nothing and writes nothing.
  EXPECT_EQ(Call("POST /v1/actual_lrps/start.r1", start.SerializeAsString()), "");
  EXPECT_EQ(store_.commit_count(), commits);
  // A start that changes the row is written.
  start.mutable_actual_lrp_net_info()->set_address("10.0.0.9");
  EXPECT_EQ(Call("POST /v1/actual_lrps/start.r1", start.SerializeAsString()), "");
  EXPECT_EQ(store_.commit_count(), commits + 1);
  rows = engine_.model().ActualLrps({"", "", "pg-hb", 0});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]->state(), "RUNNING");
  EXPECT_EQ(rows[0]->actual_lrp_net_info().address(), "10.0.0.9");
  // A refused claim is answered with its error, still without the pool.
  claim.mutable_actual_lrp_instance_key()->set_instance_guid("ig-2");
  models::ActualLRPLifecycleResponse refused;
  ASSERT_TRUE(
      refused.ParseFromString(Call("POST /v1/actual_lrps/claim", claim.SerializeAsString())));
  EXPECT_EQ(refused.error().type(), models::Error::ActualLRPCannotBeClaimed);
  // What the I/O thread does not decide (JSON) still goes to the pool.
  EXPECT_EQ(Serve("POST /v1/actual_lrps/claim", "{}", "application/json", "").status, 503);
}

TEST_F(ApiTest, DesiresAreAnsweredWithoutTheWorkerPoolWhenTheirKeyIsFree) {
  pool_.Shutdown();  // from here on, a request that reaches the pool is refused (503)
  models::DesireLRPRequest desire;
  *desire.mutable_desired_lrp() = RunnableLrp("pg-new", 2);
  EXPECT_EQ(Call("POST /v1/desired_lrp/desire.r2", desire.SerializeAsString()), "");
  ASSERT_NE(engine_.model().DesiredLrp("pg-new"), nullptr);  // memory shows it before the answer
  EXPECT_EQ(engine_.model().ActualLrps({"", "", "pg-new", std::nullopt}).size(), 2u);
  // Desiring it again is refused with its error, still without the pool.
  models::DesiredLRPLifecycleResponse exists;
  ASSERT_TRUE(
      exists.ParseFromString(Call("POST /v1/desired_lrp/desire.r2", desire.SerializeAsString())));
  EXPECT_EQ(exists.error().type(), models::Error::ResourceExists);
  // An invalid request (its error is the pool's to answer) takes the pool.
  desire.mutable_desired_lrp()->set_process_guid("");
  EXPECT_EQ(Serve("POST /v1/desired_lrp/desire.r2", desire.SerializeAsString(),
                  "application/x-protobuf", "")
                .status,
            503);
}

TEST_F(ApiTest, EachStartHeartbeatAnsweredInlineIsJudgedOnItsOwnFieldsOnly) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(RunnableLrp("pg-tags", 1), ""), IsOk());
  models::StartActualLRPRequest start;
  start.mutable_actual_lrp_key()->set_process_guid("pg-tags");
  start.mutable_actual_lrp_key()->set_index(0);
  start.mutable_actual_lrp_key()->set_domain("d");
  start.mutable_actual_lrp_instance_key()->set_instance_guid("ig-1");
  start.mutable_actual_lrp_instance_key()->set_cell_id("cell-1");
  start.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
  (*start.mutable_metric_tags())["tag"] = "value";
  EXPECT_EQ(Call("POST /v1/actual_lrps/start.r1", start.SerializeAsString()), "");
  int64_t commits = store_.commit_count();
  EXPECT_EQ(Call("POST /v1/actual_lrps/start.r1", start.SerializeAsString()), "");
  EXPECT_EQ(store_.commit_count(), commits);  // changes nothing
  // r0 drops the tags, so the same body there clears them: a write.
  EXPECT_EQ(Call("POST /v1/actual_lrps/start", start.SerializeAsString()), "");
  EXPECT_EQ(store_.commit_count(), ++commits);
  models::StartActualLRPRequest untagged = start;
  untagged.clear_metric_tags();
  EXPECT_EQ(Call("POST /v1/actual_lrps/start.r1", untagged.SerializeAsString()), "");
  EXPECT_EQ(store_.commit_count(), commits);  // already untagged
  EXPECT_EQ(Call("POST /v1/actual_lrps/start.r1", start.SerializeAsString()), "");
  EXPECT_EQ(store_.commit_count(), ++commits);  // the tags again
}

}  // namespace
}  // namespace bbs::api
