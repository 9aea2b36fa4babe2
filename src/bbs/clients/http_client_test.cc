#include "bbs/clients/http_client.h"

#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "bbs/clients/fake_peers.h"
#include "bbs/clients/test_util.h"

namespace bbs::clients {
namespace {

using std::chrono::milliseconds;
using testing::kWait;
using testing::RefusingPort;
using testing::SharedPki;
using testing::TlsPeer;
using testing::UntrustedTlsPeer;

std::shared_ptr<HttpClient> NewClient(HttpClientOptions options = {}) {
  return testing::CreatedOrNull(HttpClient::Create(std::move(options)));
}

HttpRequest Post(std::string url, std::string body = "{}") {
  HttpRequest request;
  request.method = "POST";
  request.url = std::move(url);
  request.headers = {{"Content-Type", "application/json"}};
  request.body = std::move(body);
  return request;
}

TEST(TransportErrorTest, NamesEveryError) {
  const std::pair<TransportError, std::string_view> names[] = {
      {TransportError::kNone, "none"},
      {TransportError::kInvalidUrl, "invalid-url"},
      {TransportError::kResolve, "resolve"},
      {TransportError::kConnect, "connect"},
      {TransportError::kTls, "tls"},
      {TransportError::kTimeout, "timeout"},
      {TransportError::kConnectionClosed, "connection-closed"},
      {TransportError::kProtocol, "protocol"},
      {TransportError::kShutdown, "shutdown"}};
  for (const auto& [error, name] : names) EXPECT_EQ(TransportErrorName(error), name);
}

TEST(HttpClientTest, PostsABodyWithHostUserAgentAndContentLength) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  peer.SetDefaultReply(FakeReply::Respond(201, "created", "text/plain"));
  auto client = NewClient();

  HttpResult result = client->Send(Post(peer.url() + "/a/b?x=1", R"({"k":1})"));
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.response.status, 201);
  EXPECT_EQ(result.response.body, "created");
  EXPECT_EQ(result.response.Header("content-type"), "text/plain");

  ASSERT_EQ(peer.request_count(), 1u);
  RecordedRequest seen = peer.requests()[0];
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/a/b?x=1");
  EXPECT_EQ(seen.Header("Host"), "127.0.0.1:" + std::to_string(peer.port()));
  EXPECT_EQ(seen.Header("User-Agent"), "Go-http-client/1.1");
  EXPECT_EQ(seen.Header("Content-Type"), "application/json");
  EXPECT_EQ(seen.Header("Content-Length"), "7");
  EXPECT_EQ(seen.body, R"({"k":1})");
}

TEST(HttpClientTest, SendsContentLengthZeroOnABodylessPost) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  auto client = NewClient();
  ASSERT_TRUE(client->Send(Post(peer.url() + "/x", "")).ok());
  RecordedRequest seen = peer.requests().at(0);
  EXPECT_EQ(seen.Header("Content-Length"), "0");
  EXPECT_FALSE(seen.HasHeader("Transfer-Encoding"));
}

TEST(HttpClientTest, ReusesAKeptAliveConnection) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  auto client = NewClient();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Send(Post(peer.url() + "/x")).ok());
  EXPECT_EQ(client->connections_opened(), 1);
  EXPECT_EQ(peer.connections_accepted(), 1);
  EXPECT_EQ(client->idle_connections(), 1);
}

TEST(HttpClientTest, ReconnectsWhenThePeerClosedTheIdleConnection) {
  auto first = std::make_unique<FakeCallbackReceiver>();
  ASSERT_TRUE(first->Start().ok());
  uint16_t port = first->port();
  auto client = NewClient();
  ASSERT_TRUE(client->Send(Post(first->url() + "/x")).ok());
  first->Stop();  // closes the kept-alive connection

  FakePeerOptions options;
  options.port = port;
  FakeCallbackReceiver second(options);
  ASSERT_TRUE(second.Start().ok());
  HttpResult result = client->Send(Post(second.url() + "/x"));
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.response.status, 200);
  EXPECT_EQ(client->connections_opened(), 2);
}

TEST(HttpClientTest, ReportsATimeoutWhenThePeerDoesNotAnswer) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  peer.Script({FakeReply::Hang()});
  HttpClientOptions options;
  options.timeout = milliseconds(200);
  auto client = NewClient(options);
  HttpResult result = client->Send(Post(peer.url() + "/slow"));
  EXPECT_EQ(result.error, TransportError::kTimeout) << result.message;
  EXPECT_NE(result.message.find("Client.Timeout"), std::string::npos) << result.message;
  peer.ReleaseHung();
}

TEST(HttpClientTest, ReportsAClosedConnection) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  peer.SetDefaultReply(FakeReply::CloseConnection());
  auto client = NewClient();
  HttpResult result = client->Send(Post(peer.url() + "/x"));
  EXPECT_EQ(result.error, TransportError::kConnectionClosed) << result.message;
}

TEST(HttpClientTest, ReportsARefusedConnection) {
  RefusingPort refusing;
  auto client = NewClient();
  HttpResult result = client->Send(Post(refusing.url() + "/x"));
  EXPECT_EQ(result.error, TransportError::kConnect) << result.message;
  EXPECT_EQ(result.message.rfind("Post \"" + refusing.url() + "/x\": dial tcp", 0), 0u)
      << result.message;
}

TEST(HttpClientTest, ResolvesHostNames) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  auto client = NewClient();
  HttpResult result = client->Send(Post("http://localhost:" + std::to_string(peer.port()) + "/x"));
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(peer.requests().at(0).Header("Host"), "localhost:" + std::to_string(peer.port()));
}

// A resolver that answers from a table, or holds the lookup unanswered until the test answers.
class ScriptedResolver final : public HostResolver {
 public:
  explicit ScriptedResolver(std::vector<std::string> addresses = {})
      : addresses_(std::move(addresses)) {}

  void Resolve(const std::string& host, Done done) override {
    std::lock_guard<std::mutex> lock(mu_);
    hosts_.push_back(host);
    if (addresses_.empty()) {
      held_.push_back(std::move(done));
    } else {
      done("", addresses_);
    }
  }

  // Answers every held lookup (late: after the request gave up).
  void AnswerHeld(const std::vector<std::string>& addresses) {
    std::vector<Done> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held.swap(held_);
    }
    for (Done& done : held) done("", addresses);
  }

  std::vector<std::string> hosts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return hosts_;
  }

 private:
  const std::vector<std::string> addresses_;
  mutable std::mutex mu_;
  std::vector<std::string> hosts_;
  std::vector<Done> held_;
};

TEST(HttpClientTest, ConnectsToTheAddressTheResolverAnswers) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  auto resolver = std::make_shared<ScriptedResolver>(std::vector<std::string>{"127.0.0.1"});
  HttpClientOptions options;
  options.resolver = resolver;
  auto client = NewClient(options);
  std::string url = "http://rep.cell.test:" + std::to_string(peer.port()) + "/x";

  HttpResult result = client->Send(Post(url));
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(resolver->hosts(), std::vector<std::string>{"rep.cell.test"});
  EXPECT_EQ(peer.requests().at(0).Header("Host"), "rep.cell.test:" + std::to_string(peer.port()));
}

TEST(HttpClientTest, DoesNotLookUpAnIpLiteral) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  auto resolver = std::make_shared<ScriptedResolver>();
  HttpClientOptions options;
  options.resolver = resolver;
  auto client = NewClient(options);
  HttpResult result = client->Send(Post(peer.url() + "/x"));
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_TRUE(resolver->hosts().empty());
}

TEST(HttpClientTest, TimesOutALookupThatDoesNotAnswerAndIgnoresTheLateAnswer) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  auto resolver = std::make_shared<ScriptedResolver>();  // holds every lookup
  HttpClientOptions options;
  options.timeout = milliseconds(100);
  options.resolver = resolver;
  auto client = NewClient(options);

  HttpResult result = client->Send(Post("http://stuck.test:9/x"));
  EXPECT_EQ(result.error, TransportError::kTimeout) << result.message;
  EXPECT_EQ(result.message,
            "Post \"http://stuck.test:9/x\": dial tcp: lookup stuck.test: timeout "
            "(Client.Timeout exceeded)");
  // The answer arrives after the request gave up, and after the client is gone: ignored.
  client.reset();
  resolver->AnswerHeld({"127.0.0.1"});
  EXPECT_EQ(peer.request_count(), 0u);
}

TEST(HttpClientTest, ReportsTheResolversErrorText) {
  class FailingResolver final : public HostResolver {
   public:
    void Resolve(const std::string&, Done done) override { done("Host not found", {}); }
  };
  HttpClientOptions options;
  options.resolver = std::make_shared<FailingResolver>();
  auto client = NewClient(options);
  HttpResult result = client->Send(Post("http://gone.test:9/x"));
  EXPECT_EQ(result.error, TransportError::kResolve) << result.message;
  EXPECT_EQ(result.message,
            "Post \"http://gone.test:9/x\": dial tcp: lookup gone.test: Host not found");
}

TEST(HttpClientTest, AsioResolverAnswersLocalhost) {
  std::promise<std::pair<std::string, std::vector<std::string>>> answer;
  AsioHostResolver()->Resolve("localhost",
                              [&answer](std::string error, std::vector<std::string> addresses) {
                                answer.set_value({std::move(error), std::move(addresses)});
                              });
  auto future = answer.get_future();
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  auto [error, addresses] = future.get();
  EXPECT_EQ(error, "");
  EXPECT_FALSE(addresses.empty());
}

TEST(HttpClientTest, ReportsAHostThatDoesNotResolve) {
  HttpClientOptions options;
  options.timeout = std::chrono::seconds(5);
  auto client = NewClient(options);
  HttpResult result = client->Send(Post("http://nonexistent.invalid:9/x"));
  // Without a DNS server the lookup may also run into the deadline; never a response.
  EXPECT_TRUE(result.error == TransportError::kResolve || result.error == TransportError::kTimeout)
      << result.message;
}

TEST(HttpClientTest, ReportsAMalformedUrl) {
  auto client = NewClient();
  EXPECT_EQ(client->Send(Post("not a url")).error, TransportError::kInvalidUrl);
  EXPECT_EQ(client->Send(Post("ftp://127.0.0.1/x")).error, TransportError::kInvalidUrl);
}

TEST(HttpClientTest, ResendsThePostOnA307AndTurnsItIntoAGetOnA302) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  FakeReply temporary = FakeReply::Respond(307);
  temporary.headers = {{"Location", "/moved"}};
  FakeReply found = FakeReply::Respond(302);
  found.headers = {{"Location", peer.url() + "/found?q=1"}};
  peer.Script({temporary, FakeReply::Respond(200), found, FakeReply::Respond(204)});
  auto client = NewClient();

  HttpResult first = client->Send(Post(peer.url() + "/start", "body-1"));
  ASSERT_TRUE(first.ok()) << first.message;
  EXPECT_EQ(first.response.status, 200);
  HttpResult second = client->Send(Post(peer.url() + "/start", "body-2"));
  ASSERT_TRUE(second.ok()) << second.message;
  EXPECT_EQ(second.response.status, 204);

  auto requests = peer.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[1].method, "POST");
  EXPECT_EQ(requests[1].target, "/moved");
  EXPECT_EQ(requests[1].body, "body-1");
  EXPECT_EQ(requests[3].method, "GET");
  EXPECT_EQ(requests[3].target, "/found?q=1");
  EXPECT_EQ(requests[3].body, "");
  EXPECT_FALSE(requests[3].HasHeader("Content-Length"));
}

TEST(HttpClientTest, StopsAfterTooManyRedirects) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  FakeReply loop = FakeReply::Respond(307);
  loop.headers = {{"Location", "/again"}};
  peer.SetDefaultReply(loop);
  HttpClientOptions options;
  options.max_redirects = 3;
  auto client = NewClient(options);
  HttpResult result = client->Send(Post(peer.url() + "/x"));
  EXPECT_EQ(result.error, TransportError::kProtocol) << result.message;
  EXPECT_EQ(peer.request_count(), 4u);
}

TEST(HttpClientTest, ShutdownAbortsARequestInFlight) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  peer.Script({FakeReply::Hang()});
  HttpClientOptions options;
  options.timeout = std::chrono::seconds(60);
  auto client = NewClient(options);
  auto pending = std::async(std::launch::async, [&] { return client->Send(Post(peer.url())); });
  ASSERT_TRUE(peer.WaitForRequests(1, kWait));
  client->Shutdown();
  ASSERT_EQ(pending.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(pending.get().error, TransportError::kShutdown);
  EXPECT_EQ(client->Send(Post(peer.url())).error, TransportError::kShutdown);
  peer.ReleaseHung();
}

TEST(HttpClientTest, ReportsAnUnreadableTlsFileAtCreation) {
  HttpClientOptions options;
  options.tls.ca_file = "/nonexistent/ca.crt";
  EXPECT_FALSE(HttpClient::Create(options).ok());
  options.tls = {};
  options.tls.cert_file = SharedPki().client_cert_file;  // without a key
  EXPECT_FALSE(HttpClient::Create(options).ok());
}

// --- HTTPS ---

HttpClientOptions TlsClient(bool with_client_cert) {
  const TestPki& pki = SharedPki();
  HttpClientOptions options;
  options.tls.ca_file = pki.ca_file;
  if (with_client_cert) {
    options.tls.cert_file = pki.client_cert_file;
    options.tls.key_file = pki.client_key_file;
  }
  return options;
}

TEST(HttpClientTlsTest, TalksHttpsToAServerSignedByTheConfiguredCa) {
  FakeCallbackReceiver peer(TlsPeer(false));
  ASSERT_TRUE(peer.Start().ok());
  ASSERT_EQ(peer.url().rfind("https://", 0), 0u);
  auto client = NewClient(TlsClient(false));
  for (int i = 0; i < 2; ++i) {
    HttpResult result = client->Send(Post(peer.url() + "/secure"));
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(result.response.status, 200);
  }
  EXPECT_EQ(client->connections_opened(), 1);
  EXPECT_EQ(peer.requests().at(0).body, "{}");
}

TEST(HttpClientTlsTest, PresentsTheClientCertificateForMutualTls) {
  FakeCallbackReceiver peer(TlsPeer(true));
  ASSERT_TRUE(peer.Start().ok());
  auto client = NewClient(TlsClient(true));
  HttpResult result = client->Send(Post(peer.url() + "/mtls"));
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.response.status, 200);
}

TEST(HttpClientTlsTest, ResumesTheTlsSessionOnANewConnectionWhenCaching) {
  FakeCallbackReceiver peer(TlsPeer(true));
  ASSERT_TRUE(peer.Start().ok());
  HttpClientOptions options = TlsClient(true);
  options.max_idle_per_host = 0;  // every request on a new connection
  options.tls_session_cache_size = 0;
  auto client = NewClient(options);
  for (int i = 0; i < 3; ++i) {
    HttpResult result = client->Send(Post(peer.url() + "/mtls"));
    ASSERT_TRUE(result.ok()) << result.message;
  }
  EXPECT_EQ(client->connections_opened(), 3);
  EXPECT_EQ(client->tls_sessions_resumed(), 2);
}

TEST(HttpClientTlsTest, DoesNotResumeWithoutASessionCache) {
  FakeCallbackReceiver peer(TlsPeer(true));
  ASSERT_TRUE(peer.Start().ok());
  HttpClientOptions options = TlsClient(true);
  options.max_idle_per_host = 0;
  auto client = NewClient(options);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(client->Send(Post(peer.url() + "/mtls")).ok());
  EXPECT_EQ(client->tls_sessions_resumed(), 0);
}

TEST(HttpClientTlsTest, FailsWithATlsErrorWithoutTheClientCertificateMutualTlsNeeds) {
  FakeCallbackReceiver peer(TlsPeer(true));
  ASSERT_TRUE(peer.Start().ok());
  auto client = NewClient(TlsClient(false));
  HttpResult result = client->Send(Post(peer.url() + "/mtls"));
  EXPECT_EQ(result.error, TransportError::kTls) << result.message;
  EXPECT_EQ(peer.request_count(), 0u);
}

TEST(HttpClientTlsTest, RejectsAServerCertificateFromAnotherCa) {
  FakeCallbackReceiver peer(UntrustedTlsPeer());
  ASSERT_TRUE(peer.Start().ok());
  auto client = NewClient(TlsClient(false));
  HttpResult result = client->Send(Post(peer.url() + "/x"));
  EXPECT_EQ(result.error, TransportError::kTls) << result.message;
}

TEST(HttpClientTlsTest, TrustsOnlyTheSystemRootsWithoutACaFile) {
  FakeCallbackReceiver peer(TlsPeer(false));
  ASSERT_TRUE(peer.Start().ok());
  auto client = NewClient();
  HttpResult result = client->Send(Post(peer.url() + "/x"));
  EXPECT_EQ(result.error, TransportError::kTls) << result.message;
}

TEST(HttpClientTlsTest, FailsWithATlsErrorAgainstAPlainHttpServer) {
  FakeCallbackReceiver peer;
  ASSERT_TRUE(peer.Start().ok());
  auto client = NewClient(TlsClient(false));
  HttpResult result = client->Send(Post("https://127.0.0.1:" + std::to_string(peer.port())));
  EXPECT_EQ(result.error, TransportError::kTls) << result.message;
}

}  // namespace
}  // namespace bbs::clients
