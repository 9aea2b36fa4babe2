#include "bbs/clients/callbacks.h"

#include <gtest/gtest.h>

#include "bbs/clients/fake_peers.h"
#include "bbs/clients/test_util.h"

namespace bbs::clients {
namespace {

using std::chrono::milliseconds;
using testing::RefusingPort;
using testing::SharedPki;

const std::string kBody = EncodeTaskCallback("tg-1", false, "", "ok", "", 1700000000000000000);

class CallbacksTest : public testing::FakePeerTest<FakeCallbackReceiver> {
 protected:
  std::unique_ptr<HttpCallbacks> NewCallbacks(milliseconds timeout = std::chrono::seconds(5),
                                              TlsOptions tls = {}) {
    return testing::CreatedOrNull(HttpCallbacks::Create(timeout, logger(), std::move(tls)));
  }
};

TEST_F(CallbacksTest, PostsTheBodyAndReportsA200) {
  auto callbacks = NewCallbacks();
  CallbackOutcome outcome = callbacks->Post(fake_.url() + "/internal/v3/tasks/tg-1/done", kBody);
  EXPECT_EQ(outcome.kind, CallbackOutcome::kResponse) << outcome.error;
  EXPECT_EQ(outcome.status, 200);

  ASSERT_EQ(fake_.request_count(), 1u);
  RecordedRequest request = fake_.requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/internal/v3/tasks/tg-1/done");
  EXPECT_EQ(request.Header("Content-Type"), "application/json");
  EXPECT_EQ(request.Header("Content-Length"), std::to_string(kBody.size()));
  EXPECT_FALSE(request.HasHeader("X-Vcap-Request-Id"));
  EXPECT_EQ(request.body, kBody);
}

TEST_F(CallbacksTest, ReportsA503AsAResponse) {
  fake_.Script({FakeReply::Respond(503), FakeReply::Respond(504), FakeReply::Respond(500)});
  auto callbacks = NewCallbacks();
  for (int status : {503, 504, 500}) {
    CallbackOutcome outcome = callbacks->Post(fake_.url() + "/cb", kBody);
    EXPECT_EQ(outcome.kind, CallbackOutcome::kResponse);
    EXPECT_EQ(outcome.status, status);
  }
}

TEST_F(CallbacksTest, ReportsAClosedConnectionAsRetryable) {
  fake_.SetDefaultReply(FakeReply::CloseConnection());
  auto callbacks = NewCallbacks();
  CallbackOutcome outcome = callbacks->Post(fake_.url() + "/cb", kBody);
  EXPECT_EQ(outcome.kind, CallbackOutcome::kRetryableTransportError);
  EXPECT_FALSE(outcome.error.empty());
}

TEST_F(CallbacksTest, ReportsATimeoutAsRetryable) {
  fake_.Script({FakeReply::Hang()});
  auto callbacks = NewCallbacks(milliseconds(200));
  CallbackOutcome outcome = callbacks->Post(fake_.url() + "/cb", kBody);
  EXPECT_EQ(outcome.kind, CallbackOutcome::kRetryableTransportError) << outcome.error;
  fake_.ReleaseHung();
}

TEST_F(CallbacksTest, ReportsARefusedConnectionAsFatal) {
  RefusingPort refusing;
  auto callbacks = NewCallbacks();
  CallbackOutcome outcome = callbacks->Post(refusing.url() + "/cb", kBody);
  EXPECT_EQ(outcome.kind, CallbackOutcome::kFatalTransportError);
  EXPECT_NE(outcome.error.find("dial tcp"), std::string::npos) << outcome.error;
}

TEST_F(CallbacksTest, ReportsAMalformedUrlAsFatal) {
  auto callbacks = NewCallbacks();
  EXPECT_EQ(callbacks->Post("::not a url::", kBody).kind, CallbackOutcome::kFatalTransportError);
  EXPECT_EQ(callbacks->Post("", kBody).kind, CallbackOutcome::kFatalTransportError);
}

TEST_F(CallbacksTest, FollowsARedirectAndReportsTheFinalStatus) {
  FakeReply moved = FakeReply::Respond(308);
  moved.headers = {{"Location", "/final"}};
  fake_.Script({moved, FakeReply::Respond(204)});
  auto callbacks = NewCallbacks();
  CallbackOutcome outcome = callbacks->Post(fake_.url() + "/cb", kBody);
  EXPECT_EQ(outcome.kind, CallbackOutcome::kResponse);
  EXPECT_EQ(outcome.status, 204);
  EXPECT_EQ(fake_.requests().at(1).body, kBody);
}

TEST(CallbacksTlsTest, PostsOverHttpsTrustingTheConfiguredCa) {
  const TestPki& pki = SharedPki();
  FakeCallbackReceiver receiver(testing::TlsPeer(/*require_client_cert=*/true));
  ASSERT_TRUE(receiver.Start().ok());

  auto callbacks = HttpCallbacks::Create(std::chrono::seconds(5), Logger(LogSink::Null(), "bbs"),
                                         {pki.ca_file, pki.client_cert_file, pki.client_key_file});
  ASSERT_TRUE(callbacks.ok());
  CallbackOutcome outcome = (*callbacks)->Post(receiver.url() + "/cb", kBody);
  EXPECT_EQ(outcome.kind, CallbackOutcome::kResponse) << outcome.error;
  EXPECT_EQ(outcome.status, 200);
}

TEST(CallbacksTlsTest, ReportsAnUntrustedServerCertificateAsFatal) {
  const TestPki& pki = SharedPki();
  FakeCallbackReceiver receiver(testing::UntrustedTlsPeer());
  ASSERT_TRUE(receiver.Start().ok());

  auto callbacks = HttpCallbacks::Create(std::chrono::seconds(5), Logger(LogSink::Null(), "bbs"),
                                         {pki.ca_file, "", ""});
  ASSERT_TRUE(callbacks.ok());
  CallbackOutcome outcome = (*callbacks)->Post(receiver.url() + "/cb", kBody);
  EXPECT_EQ(outcome.kind, CallbackOutcome::kFatalTransportError);
  EXPECT_EQ(receiver.request_count(), 0u);
}

TEST(CallbacksClassifyTest, MapsEveryTransportError) {
  auto kind = [](TransportError error) {
    HttpResult result;
    result.error = error;
    return HttpCallbacks::Classify(result).kind;
  };
  EXPECT_EQ(kind(TransportError::kNone), CallbackOutcome::kResponse);
  EXPECT_EQ(kind(TransportError::kTimeout), CallbackOutcome::kRetryableTransportError);
  EXPECT_EQ(kind(TransportError::kConnectionClosed), CallbackOutcome::kRetryableTransportError);
  for (TransportError error :
       {TransportError::kInvalidUrl, TransportError::kResolve, TransportError::kConnect,
        TransportError::kTls, TransportError::kProtocol, TransportError::kShutdown}) {
    EXPECT_EQ(kind(error), CallbackOutcome::kFatalTransportError) << TransportErrorName(error);
  }
}

TEST(CallbacksMetricsTest, EachPostIsRecordedAsAnOutboundTaskCallback) {
  auto transport = std::make_shared<testing::FakeTransport>();
  transport->Script({testing::FakeTransport::Response(200), testing::FakeTransport::Response(503),
                     testing::FakeTransport::Error(TransportError::kConnectionClosed)});
  HttpCallbacks callbacks(Logger(LogSink::Null(), "t"), transport);
  metrics::BbsMetrics metrics;
  callbacks.SetMetrics(&metrics);
  for (int i = 0; i < 3; ++i) callbacks.Post("http://cc/cb", kBody);
  std::string text = metrics.PrometheusText();
  EXPECT_NE(text.find("bbs_outbound_requests_total{peer=\"task_callback\",result=\"success\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("bbs_outbound_requests_total{peer=\"task_callback\",result=\"failure\"} 2\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace bbs::clients
