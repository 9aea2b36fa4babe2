#include "bbs/clients/reps.h"

#include <gtest/gtest.h>

#include "bbs/clients/fake_peers.h"
#include "bbs/clients/test_util.h"

namespace bbs::clients {
namespace {

using testing::FakeTransport;
using testing::FindHeader;
using testing::kWait;
using testing::RefusingPort;
using testing::SharedPki;

constexpr const char* kHttpsRequired =
    "https scheme is required but none of the addresses support it";

HttpRepsOptions PlainOptions() {
  HttpRepsOptions options;
  options.timeout = std::chrono::seconds(5);
  options.require_tls = false;  // the fake rep speaks plain HTTP
  options.shutdown_timeout = std::chrono::seconds(5);
  return options;
}

LrpInstanceUpdate RoutesUpdate() {
  LrpInstanceUpdate update;
  update.process_guid = "pg-1";
  update.instance_guid = "ig-1";
  update.domain = "cf-apps";
  update.index = 3;
  update.internal_routes = std::vector<std::string>{"app.apps.internal"};
  update.metric_tags = std::map<std::string, std::string>{{"app_id", "a1"}};
  return update;
}

class RepsTest : public testing::FakePeerTest<FakeRep> {
 protected:
  std::unique_ptr<HttpReps> NewReps(HttpRepsOptions options = PlainOptions()) {
    return testing::CreatedOrNull(HttpReps::Create(std::move(options), logger()));
  }
};

TEST_F(RepsTest, StopsAnInstanceWithTheTraceId) {
  auto reps = NewReps();
  ASSERT_TRUE(reps->StopLrpInstance(fake_.url(), "pg-1", "ig-1", "trace-1").ok());
  auto calls = fake_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].kind, RepCall::Kind::kStop);
  EXPECT_EQ(calls[0].process_guid, "pg-1");
  EXPECT_EQ(calls[0].instance_guid, "ig-1");
  const RecordedRequest& request = calls[0].request;
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/v1/lrps/pg-1/instances/ig-1/stop");
  EXPECT_EQ(request.Header("Content-Type"), "application/json");
  EXPECT_EQ(request.Header("Content-Length"), "0");
  EXPECT_EQ(request.Header("X-Vcap-Request-Id"), "trace-1");
}

TEST_F(RepsTest, OmitsTheTraceIdHeaderWhenTheTraceIdIsEmpty) {
  auto reps = NewReps();
  ASSERT_TRUE(reps->StopLrpInstance(fake_.url(), "pg-1", "ig-1", "").ok());
  ASSERT_TRUE(reps->CancelTask(fake_.url(), "tg-1", "").ok());
  ASSERT_TRUE(reps->UpdateLrpInstance(fake_.url(), RoutesUpdate(), "").ok());
  auto requests = fake_.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const RecordedRequest& request : requests) {
    EXPECT_FALSE(request.HasHeader("X-Vcap-Request-Id")) << request.target;
  }
}

TEST_F(RepsTest, ReturnsTheHttpErrorWhenAStopIsNotAccepted) {
  fake_.Script({FakeReply::Respond(500)});
  auto reps = NewReps();
  Status status = reps->StopLrpInstance(fake_.url(), "pg-1", "ig-1", "");
  EXPECT_EQ(status.code(), ErrorCode::kUnknownError);
  EXPECT_EQ(status.message(), "http error: status code 500 (Internal Server Error)");
}

TEST_F(RepsTest, ReturnsTheTransportErrorWhenTheRepIsUnreachable) {
  RefusingPort refusing;
  auto reps = NewReps();
  Status status = reps->StopLrpInstance(refusing.url(), "pg-1", "ig-1", "");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("dial tcp"), std::string::npos) << status.message();
}

TEST_F(RepsTest, EscapesPathParametersAsSegments) {
  auto reps = NewReps();
  ASSERT_TRUE(reps->StopLrpInstance(fake_.url(), "pg/1 x", "ig?1", "").ok());
  auto calls = fake_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].request.target, "/v1/lrps/pg%2F1%20x/instances/ig%3F1/stop");
  EXPECT_EQ(calls[0].process_guid, "pg/1 x");
  EXPECT_EQ(calls[0].instance_guid, "ig?1");
}

TEST_F(RepsTest, RequiresAnHttpsRepUrlByDefault) {
  auto options = PlainOptions();
  options.require_tls = true;
  auto reps = NewReps(options);
  EXPECT_EQ(reps->StopLrpInstance(fake_.url(), "pg-1", "ig-1", "").message(), kHttpsRequired);
  EXPECT_EQ(reps->StopLrpInstance("", "pg-1", "ig-1", "").message(), kHttpsRequired);
  EXPECT_EQ(reps->CancelTask("tcp://cell:1801", "tg-1", "").message(), kHttpsRequired);
  EXPECT_FALSE(reps->CancelTask("https://", "tg-1", "").ok());
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(RepsTest, CancelsATaskWithoutAContentType) {
  auto reps = NewReps();
  ASSERT_TRUE(reps->CancelTask(fake_.url(), "tg-1", "trace-2").ok());
  auto calls = fake_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].kind, RepCall::Kind::kCancel);
  EXPECT_EQ(calls[0].task_guid, "tg-1");
  EXPECT_EQ(calls[0].request.target, "/v1/tasks/tg-1/cancel");
  EXPECT_FALSE(calls[0].request.HasHeader("Content-Type"));
  EXPECT_EQ(calls[0].request.Header("Content-Length"), "0");
  EXPECT_EQ(calls[0].request.Header("X-Vcap-Request-Id"), "trace-2");
}

TEST_F(RepsTest, CancelReportsHttpAndTransportFailuresAsSuccessAndLogsThem) {
  fake_.Script({FakeReply::Respond(500)});
  auto reps = NewReps();
  EXPECT_TRUE(reps->CancelTask(fake_.url(), "tg-1", "").ok());
  RefusingPort refusing;
  EXPECT_TRUE(reps->CancelTask(refusing.url(), "tg-2", "").ok());
  EXPECT_TRUE(sink_->Contains({"failed-to-cancel-task", "status code 500", "tg-1"}));
  EXPECT_TRUE(sink_->Contains({"failed-to-cancel-task", "dial tcp", "tg-2"}));
}

TEST_F(RepsTest, UpdatesAnInstanceThroughV2) {
  auto reps = NewReps();
  ASSERT_TRUE(reps->UpdateLrpInstance(fake_.url(), RoutesUpdate(), "trace-3").ok());
  auto calls = fake_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].kind, RepCall::Kind::kUpdateV2);
  EXPECT_EQ(calls[0].request.method, "PUT");
  EXPECT_EQ(calls[0].request.target, "/v2/lrps/pg-1/instances/ig-1");
  EXPECT_EQ(calls[0].request.Header("Content-Type"), "application/json");
  EXPECT_EQ(calls[0].request.Header("X-Vcap-Request-Id"), "trace-3");
  EXPECT_EQ(calls[0].request.body, EncodeLrpInstanceUpdate(RoutesUpdate()));
}

TEST_F(RepsTest, FallsBackToV1WithoutMetricTagsWhenV2IsMissing) {
  fake_.SetV2UpdateEnabled(false);
  auto reps = NewReps();
  ASSERT_TRUE(reps->UpdateLrpInstance(fake_.url(), RoutesUpdate(), "t").ok());
  auto calls = fake_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].kind, RepCall::Kind::kUpdateV2);
  EXPECT_EQ(calls[1].kind, RepCall::Kind::kUpdateV1);
  EXPECT_EQ(calls[1].request.target, "/v1/lrps/pg-1/instances/ig-1");
  EXPECT_EQ(calls[1].request.Header("X-Vcap-Request-Id"), "t");
  EXPECT_EQ(calls[1].request.body,
            R"({"instance_guid":"ig-1","process_guid":"pg-1","index":3,"domain":"cf-apps",)"
            R"("internal_routes":[{"hostname":"app.apps.internal"}],"metric_tags":null})");
}

TEST_F(RepsTest, TreatsA404FromV1AsSuccess) {
  fake_.SetV2UpdateEnabled(false);
  fake_.SetV1UpdateEnabled(false);
  auto reps = NewReps();
  EXPECT_TRUE(reps->UpdateLrpInstance(fake_.url(), RoutesUpdate(), "").ok());
  EXPECT_EQ(fake_.calls().size(), 2u);
}

TEST_F(RepsTest, ReturnsOtherV1FailuresAsErrors) {
  fake_.SetV2UpdateEnabled(false);
  fake_.Script({FakeReply::Respond(500)});
  auto reps = NewReps();
  EXPECT_EQ(reps->UpdateLrpInstance(fake_.url(), RoutesUpdate(), "").message(),
            "http error: status code 500 (Internal Server Error)");
}

TEST_F(RepsTest, DoesNotFallBackWhenTheUpdateCarriesNoInternalRoutes) {
  fake_.SetV2UpdateEnabled(false);
  auto reps = NewReps();
  LrpInstanceUpdate update = RoutesUpdate();
  update.internal_routes.reset();
  EXPECT_TRUE(reps->UpdateLrpInstance(fake_.url(), update, "").ok());
  auto calls = fake_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].kind, RepCall::Kind::kUpdateV2);
}

TEST_F(RepsTest, ReturnsAV2FailureOtherThan404) {
  fake_.Script({FakeReply::Respond(503)});
  auto reps = NewReps();
  EXPECT_EQ(reps->UpdateLrpInstance(fake_.url(), RoutesUpdate(), "").message(),
            "http error: status code 503 (Service Unavailable)");
  EXPECT_EQ(fake_.calls().size(), 1u);
}

TEST_F(RepsTest, SendsAsynchronousStopsAndUpdates) {
  auto reps = NewReps();
  reps->StopLrpInstanceAsync(fake_.url(), "pg-1", "ig-1", "t");
  reps->UpdateLrpInstanceAsync(fake_.url(), RoutesUpdate(), "t");
  ASSERT_TRUE(fake_.WaitForCalls(2, kWait));
  int stops = 0;
  int updates = 0;
  for (const RepCall& call : fake_.calls()) {
    stops += call.kind == RepCall::Kind::kStop;
    updates += call.kind == RepCall::Kind::kUpdateV2;
  }
  EXPECT_EQ(stops, 1);
  EXPECT_EQ(updates, 1);
}

TEST_F(RepsTest, LogsAsynchronousFailures) {
  fake_.SetDefaultReply(FakeReply::Respond(500));
  auto reps = NewReps();
  reps->StopLrpInstanceAsync(fake_.url(), "pg-1", "ig-1", "");
  reps->UpdateLrpInstanceAsync(fake_.url(), RoutesUpdate(), "");
  reps->StopLrpInstanceAsync("http://", "pg-2", "ig-2", "");
  reps->Shutdown(kWait);
  EXPECT_TRUE(sink_->Contains({"failed-to-stop-lrp-instance", "status code 500", "pg-1"}));
  EXPECT_TRUE(sink_->Contains({"failed-to-update-lrp-instance", "status code 500"}));
  EXPECT_TRUE(sink_->Contains({"failed-to-stop-lrp-instance", "pg-2"}));
}

TEST_F(RepsTest, DropsAsynchronousCallsAfterShutdown) {
  auto reps = NewReps();
  reps->Shutdown(kWait);
  reps->StopLrpInstanceAsync(fake_.url(), "pg-1", "ig-1", "");
  EXPECT_TRUE(sink_->Contains({"failed-to-stop-lrp-instance", "shut down"}));
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST(RepsTlsTest, StopsAnInstanceOnAMutualTlsRep) {
  const TestPki& pki = SharedPki();
  FakeRep rep(testing::TlsPeer(/*require_client_cert=*/true));
  ASSERT_TRUE(rep.Start().ok());

  HttpRepsOptions options;
  options.tls = {pki.ca_file, pki.client_cert_file, pki.client_key_file};
  auto reps = HttpReps::Create(options, Logger(LogSink::Null(), "bbs"));
  ASSERT_TRUE(reps.ok());
  Status status = (*reps)->StopLrpInstance(rep.url(), "pg-1", "ig-1", "");
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(rep.calls().size(), 1u);

  HttpRepsOptions no_cert;
  no_cert.tls.ca_file = pki.ca_file;
  auto anonymous = HttpReps::Create(no_cert, Logger(LogSink::Null(), "bbs"));
  ASSERT_TRUE(anonymous.ok());
  EXPECT_FALSE((*anonymous)->StopLrpInstance(rep.url(), "pg-1", "ig-1", "").ok());
}

TEST(RepsTransportTest, KeepsTheRepUrlPathPrefix) {
  auto transport = std::make_shared<FakeTransport>();
  HttpReps reps(HttpRepsOptions{}, Logger(LogSink::Null(), "bbs"), transport);
  ASSERT_TRUE(reps.StopLrpInstance("https://cell-1:1801/rep/", "pg", "ig", "").ok());
  ASSERT_TRUE(reps.CancelTask("https://cell-1:1801/rep", "tg", "x").ok());
  auto requests = transport->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].url, "https://cell-1:1801/rep/v1/lrps/pg/instances/ig/stop");
  EXPECT_EQ(requests[0].body, "");
  EXPECT_EQ(requests[1].url, "https://cell-1:1801/rep/v1/tasks/tg/cancel");
  EXPECT_EQ(FindHeader(requests[1].headers, "Content-Type"), nullptr);
  ASSERT_NE(FindHeader(requests[1].headers, "X-Vcap-Request-Id"), nullptr);
}

}  // namespace
}  // namespace bbs::clients
