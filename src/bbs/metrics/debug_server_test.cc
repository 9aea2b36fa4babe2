#include "bbs/metrics/debug_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/http/test_client.h"

namespace bbs::metrics {
namespace {

using ::testing::HasSubstr;

class DebugServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = LogSink::Null();
    sink_->SetLevel(LogLevel::kInfo);
    server_ = std::make_unique<DebugServer>(DebugServerOptions{}, &metrics_, sink_,
                                            Logger(LogSink::Null(), "debug"));
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<http::TestClient>(server_->port());
  }

  http::TestResponse Send(std::string_view method, std::string_view path,
                          std::string_view body = {}) {
    auto response = client_->Send(method, path, body);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? *response : http::TestResponse{};
  }

  BbsMetrics metrics_;
  std::shared_ptr<LogSink> sink_;
  std::unique_ptr<DebugServer> server_;
  std::unique_ptr<http::TestClient> client_;
};

TEST_F(DebugServerTest, MetricsAreServedInPrometheusTextFormat) {
  metrics_.ObserveRequest("ClaimActualLRP", 200, std::chrono::milliseconds(1));
  auto response = Send("GET", "/metrics");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(response.body, HasSubstr("# TYPE RequestCount counter\nRequestCount 1\n"));
  EXPECT_THAT(response.body, HasSubstr("# TYPE LRPsDesired gauge"));
  EXPECT_THAT(response.body, HasSubstr("bbs_http_request_duration_seconds_bucket{route=\""
                                       "ClaimActualLRP\""));
}

TEST_F(DebugServerTest, LogLevelCanBeReadAndSwitchedAtRuntime) {
  EXPECT_EQ(Send("GET", "/log-level").body, "info\n");
  auto response = Send("POST", "/log-level", "debug");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "debug\n");
  EXPECT_EQ(sink_->level(), LogLevel::kDebug);
  EXPECT_EQ(Send("GET", "/log-level").body, "debug\n");

  EXPECT_EQ(Send("PUT", "/log-level", "ERROR\n").status, 200);
  EXPECT_EQ(sink_->level(), LogLevel::kError);
  EXPECT_EQ(Send("POST", "/log-level", "3").status, 200);
  EXPECT_EQ(sink_->level(), LogLevel::kFatal);
  EXPECT_EQ(Send("POST", "/log-level", "i").status, 200);
  EXPECT_EQ(sink_->level(), LogLevel::kInfo);
}

TEST_F(DebugServerTest, AnUnknownLogLevelIsRejectedAndChangesNothing) {
  auto response = Send("POST", "/log-level", "verbose");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(sink_->level(), LogLevel::kInfo);
}

TEST_F(DebugServerTest, LivenessAndUnknownPaths) {
  auto health = Send("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(Send("GET", "/debug/pprof/").status, 404);
}

TEST(DebugServerStartTest, FailsWhenTheAddressIsTaken) {
  BbsMetrics metrics;
  DebugServer first({}, &metrics, LogSink::Null(), Logger(LogSink::Null(), "debug"));
  ASSERT_TRUE(first.Start().ok());
  DebugServer second({"127.0.0.1", first.port()}, &metrics, LogSink::Null(),
                     Logger(LogSink::Null(), "debug"));
  EXPECT_FALSE(second.Start().ok());
}

}  // namespace
}  // namespace bbs::metrics
