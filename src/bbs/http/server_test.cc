#include "bbs/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbs/clients/test_pki.h"
#include "bbs/http/test_client.h"

namespace bbs::http {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kWait = seconds(10);

// Echoes what the handler saw: "<method> <path> <body>".
void Echo(Request&& request, Responder respond) {
  Response response;
  response.content_type = "application/x-protobuf";
  response.body = request.method + " " + request.path + " " + request.body;
  response.headers.emplace_back("X-Request-Id-Seen",
                                request.has_request_id ? "[" + request.request_id + "]" : "none");
  respond(std::move(response));
}

ServerOptions TestOptions() {
  ServerOptions options;
  options.threads = 2;
  options.shutdown_timeout = seconds(5);
  return options;
}

std::unique_ptr<Server> StartServer(Router router, ServerOptions options = TestOptions(),
                                    bool ready = true) {
  auto server = std::make_unique<Server>(std::move(options), std::move(router));
  Status status = server->Start();
  EXPECT_TRUE(status.ok()) << status.ToString();
  server->SetReady(ready);
  return server;
}

Router EchoRouter() {
  Router router;
  router.Add("POST", "/v1/echo", "Echo", Echo);
  return router;
}

// Hands requests to a thread owned by the test, like an application's worker pool.
class Worker {
 public:
  // `router` with POST `path` handed to this worker.
  Router Route(Router router = Router(), const std::string& path = "/v1/slow") {
    router.Add("POST", path, "Worker", [this](Request&& request, Responder respond) {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.emplace_back(std::move(request), std::move(respond));
      cv_.notify_all();
    });
    return router;
  }

  // Waits for the next queued request and returns its responder.
  std::optional<std::pair<Request, Responder>> Next() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, kWait, [this] { return !queue_.empty(); })) return std::nullopt;
    auto item = std::move(queue_.front());
    queue_.pop_front();
    return item;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Request, Responder>> queue_;
};

// A stream that records its calls; on Stop() it may end itself the way the event stream does.
class RecordingStream : public Stream {
 public:
  explicit RecordingStream(bool terminate_on_stop) : terminate_on_stop_(terminate_on_stop) {}

  void Start(std::shared_ptr<StreamWriter> writer) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writer_ = writer;
    }
    started_.set_value(writer);
  }

  void Stop() override {
    int stops = ++stops_;
    if (terminate_on_stop_) {
      std::shared_ptr<StreamWriter> writer;
      {
        std::lock_guard<std::mutex> lock(mu_);
        writer = writer_;
      }
      writer->Write("0\r\n\r\n");
      writer->Close();
    }
    if (stops == 1) stopped_.set_value();
  }

  std::shared_ptr<StreamWriter> WaitStarted() {
    if (started_future_.wait_for(kWait) != std::future_status::ready) return nullptr;
    return started_future_.get();
  }
  bool WaitStopped() { return stopped_future_.wait_for(kWait) == std::future_status::ready; }
  int stops() const { return stops_.load(); }

 private:
  const bool terminate_on_stop_;
  std::mutex mu_;
  std::shared_ptr<StreamWriter> writer_;
  std::promise<std::shared_ptr<StreamWriter>> started_;
  std::future<std::shared_ptr<StreamWriter>> started_future_ = started_.get_future();
  std::promise<void> stopped_;
  std::future<void> stopped_future_ = stopped_.get_future();
  std::atomic<int> stops_{0};
};

Handler StreamHandler(std::shared_ptr<RecordingStream> stream) {
  return [stream](Request&&, Responder respond) {
    Response response;
    response.content_type = "text/event-stream; charset=utf-8";
    response.headers = {{"Cache-Control", "no-cache, no-store, must-revalidate"},
                        {"Connection", "keep-alive"},
                        {"Transfer-Encoding", "chunked"}};
    response.stream = stream;
    respond(std::move(response));
  };
}

// A server whose route POST /v1/events (added to `router`) answers with a RecordingStream.
struct StreamServer {
  explicit StreamServer(ServerOptions options = TestOptions(), Router router = Router(),
                        bool terminate_on_stop = false)
      : stream(std::make_shared<RecordingStream>(terminate_on_stop)) {
    router.Add("POST", "/v1/events", "Events", StreamHandler(stream));
    server = StartServer(std::move(router), std::move(options));
  }

  // Requests the stream on a new `client` (over TLS with `tls`): the writer the stream was
  // started with, or null.
  std::shared_ptr<StreamWriter> Open(const std::optional<TestClientTls>& tls = std::nullopt) {
    client.emplace(server->port(), tls);
    if (!client->StartRequest("POST", "/v1/events").ok()) return nullptr;
    return stream->WaitStarted();
  }

  std::shared_ptr<RecordingStream> stream;
  std::unique_ptr<Server> server;
  std::optional<TestClient> client;  // set by Open()
};

// Expects `response` to have `status`, `body` and each of `headers` with that value.
void ExpectResponse(const TestResponse& response, int status, std::string_view body,
                    const HeaderList& headers) {
  EXPECT_EQ(response.status, status);
  EXPECT_EQ(response.body, body);
  for (const auto& [name, value] : headers) EXPECT_EQ(response.Header(name), value) << name;
}

std::string Chunk(std::string_view data) {
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", data.size());
  return std::string(size) + ";\r\n" + std::string(data) + "\r\n";
}

// Starts the server under test and a client of it.
class ServerTest : public ::testing::Test {
 protected:
  TestClient& Serve(Router router = EchoRouter(), ServerOptions options = TestOptions(),
                    bool ready = true) {
    server_ = StartServer(std::move(router), std::move(options), ready);
    return client_.emplace(server_->port());
  }

  std::unique_ptr<Server> server_;
  std::optional<TestClient> client_;
};

TEST_F(ServerTest, RoutesByExactPathIgnoringTheQueryString) {
  TestClient& client = Serve();
  auto response =
      client.Send("POST", "/v1/echo?ignored=1", "hello", {{"X-Vcap-Request-Id", "abc-123"}});
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  ExpectResponse(*response, 200, "POST /v1/echo hello",
                 {{"Content-Type", "application/x-protobuf"},
                  {"Content-Length", "19"},
                  {"X-Request-Id-Seen", "[abc-123]"}});
  EXPECT_FALSE(response->HasHeader("Transfer-Encoding"));
}

TEST_F(ServerTest, TellsAnEmptyRequestIdFromAnAbsentOne) {
  TestClient& client = Serve();
  auto empty = client.Send("POST", "/v1/echo", "", {{"X-Vcap-Request-Id", ""}});
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->Header("X-Request-Id-Seen"), "[]");
  auto absent = client.Send("POST", "/v1/echo");
  ASSERT_TRUE(absent.ok()) << absent.status().ToString();
  EXPECT_EQ(absent->Header("X-Request-Id-Seen"), "none");
}

TEST_F(ServerTest, AnswersAnUnknownPathWithGosExact404) {
  TestClient& client = Serve();
  for (const char* method : {"GET", "POST", "PUT"}) {
    auto response = client.Send(method, "/v1/nothing-here");
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    ExpectResponse(*response, 404, "404 page not found\n",
                   {{"Content-Type", "text/plain; charset=utf-8"},
                    {"X-Content-Type-Options", "nosniff"},
                    {"Content-Length", "19"}});
  }
  EXPECT_EQ(client.connections(), 1);
}

TEST_F(ServerTest, AnswersAKnownPathUnderAnotherMethodWithExact405) {
  Router router = EchoRouter();
  router.Add("GET", "/v1/events", "Events", Echo);
  TestClient& client = Serve(std::move(router));
  auto response = client.Send("GET", "/v1/echo");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 405);
  EXPECT_EQ(response->body, "Method Not Allowed\n");
  EXPECT_EQ(response->Header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(response->Header("Allow"), "POST");

  auto head = client.Send("HEAD", "/v1/events");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->status, 405) << "HEAD is never routed";
  EXPECT_EQ(head->Header("Allow"), "GET");
  EXPECT_EQ(head->body, "");

  auto after = client.Send("POST", "/v1/echo", "still-in-sync");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->body, "POST /v1/echo still-in-sync");
  EXPECT_EQ(client.connections(), 1);
}

TEST_F(ServerTest, AnswersEverythingWith503UntilReady) {
  TestClient& client = Serve(EchoRouter(), TestOptions(), /*ready=*/false);
  for (const char* path : {"/v1/echo", "/unknown"}) {
    auto response = client.Send("POST", path, "x");
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->status, 503);
    EXPECT_EQ(response->body, "");
    EXPECT_FALSE(response->HasHeader("Content-Type"));
  }
  server_->SetReady(true);
  auto response = client.Send("POST", "/v1/echo", "x");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST /v1/echo x");
}

TEST_F(ServerTest, ServesTwoRequestsOnOneKeptAliveConnection) {
  TestClient& client = Serve();
  auto first = client.Send("POST", "/v1/echo", "one");
  auto second = client.Send("POST", "/v1/echo", "two");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(first->body, "POST /v1/echo one");
  EXPECT_EQ(second->body, "POST /v1/echo two");
  EXPECT_FALSE(first->HasHeader("Connection"));
  EXPECT_EQ(client.connections(), 1);
  EXPECT_EQ(server_->connection_count(), 1u);
}

TEST_F(ServerTest, AnswersPipelinedRequestsInOrder) {
  TestClient& client = Serve();
  ASSERT_TRUE(client
                  .Write(TestClient::FormatRequest("POST", "/v1/echo", "a", {}, 0) +
                         TestClient::FormatRequest("POST", "/v1/echo", "b", {}, 0))
                  .ok());
  auto first = client.ReadResponse();
  auto second = client.ReadResponse();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(first->body, "POST /v1/echo a");
  EXPECT_EQ(second->body, "POST /v1/echo b");
}

TEST_F(ServerTest, HandsAnEmptyBodyPostToTheHandler) {
  Router router;
  router.Add("POST", "/v1/empty", "Empty", [](Request&& request, Responder respond) {
    Response response;
    response.content_type = "application/x-protobuf";
    response.body = request.body.empty() ? "" : "unexpected body";
    respond(std::move(response));
  });
  TestClient& client = Serve(std::move(router));
  auto response = client.Send("POST", "/v1/empty", "");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "");
  EXPECT_EQ(response->Header("Content-Length"), "0");
  EXPECT_EQ(response->Header("Content-Type"), "application/x-protobuf");
}

TEST_F(ServerTest, ReadsAChunkedRequestBody) {
  TestClient& client = Serve();
  auto response = client.SendRaw(
      "POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "POST /v1/echo abcde");
}

TEST_F(ServerTest, RejectsABodyOverTheLimitWith413AndCloses) {
  ServerOptions options = TestOptions();
  options.max_body_bytes = 1024;
  TestClient& client = Serve(EchoRouter(), options);
  auto at_limit = client.Send("POST", "/v1/echo", std::string(1024, 'a'));
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_EQ(at_limit->status, 200);

  auto response = client.Send("POST", "/v1/echo", std::string(4096, 'a'));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->Header("Connection"), "close");
  EXPECT_FALSE(client.connected());
}

TEST_F(ServerTest, RejectsAChunkedBodyOverTheLimitWith413) {
  ServerOptions options = TestOptions();
  options.max_body_bytes = 8;
  TestClient& client = Serve(EchoRouter(), options);
  auto response = client.SendRaw(
      "POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 413);
  auto rest = client.ReadToEof();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
}

TEST_F(ServerTest, RejectsAnOversizedHeadWith431) {
  ServerOptions options = TestOptions();
  options.max_header_bytes = 1024;
  TestClient& client = Serve(EchoRouter(), options);
  auto response = client.Send("POST", "/v1/echo", "", {{"X-Padding", std::string(4096, 'p')}});
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 431);
  EXPECT_FALSE(client.connected());
}

// Regression (issue #16): a request with 64 KiB of headers used to get no answer at all.
TEST_F(ServerTest, ServesARequestWhoseHeadersTotal64KiB) {
  auto server = StartServer(EchoRouter());
  TestClient client(server->port(), seconds(3));
  HeaderList headers;
  for (int i = 0; i < 64; ++i) {
    headers.emplace_back("X-Padding-" + std::to_string(i), std::string(1024, 'p'));
  }
  auto many = client.Send("POST", "/v1/echo", "many", headers);
  ASSERT_TRUE(many.ok()) << many.status().ToString();
  EXPECT_EQ(many->status, 200);
  EXPECT_EQ(many->body, "POST /v1/echo many");

  auto one = client.Send("POST", "/v1/echo", "one", {{"X-Padding", std::string(64 << 10, 'p')}});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->status, 200);
  EXPECT_EQ(one->body, "POST /v1/echo one");
}

TEST_F(ServerTest, AnswersHeadersBeyondTheDefaultLimitWith431AndCloses) {
  auto server = StartServer(EchoRouter());
  TestClient client(server->port(), seconds(3));
  auto response =
      client.Send("POST", "/v1/echo", "", {{"X-Padding", std::string((1 << 20) + 1, 'p')}});
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 431);
  EXPECT_EQ(response->Header("Connection"), "close");
  EXPECT_FALSE(client.connected());
}

TEST_F(ServerTest, AnswersAMalformedRequestWith400AndCloses) {
  TestClient& client = Serve();
  auto response = client.SendRaw("NOT HTTP AT ALL\r\n\r\n");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 400);
  EXPECT_FALSE(client.connected());
}

TEST_F(ServerTest, SendsOneHundredContinueWhenAsked) {
  TestClient& client = Serve();
  ASSERT_TRUE(client
                  .Write("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                         "Expect: 100-continue\r\n\r\n")
                  .ok());
  auto interim = client.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(interim.ok()) << interim.status().ToString();
  EXPECT_EQ(*interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(client.Write("body").ok());
  auto response = client.ReadResponse();
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "POST /v1/echo body");
}

TEST_F(ServerTest, WritesTheDateFromItsClock) {
  ServerOptions options = TestOptions();
  options.clock = std::make_shared<FakeClock>(int64_t{1'700'000'000} * kNanosPerSecond);
  TestClient& client = Serve(EchoRouter(), options);
  auto response = client.Send("POST", "/v1/echo");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->Header("Date"), "Tue, 14 Nov 2023 22:13:20 GMT");
}

TEST_F(ServerTest, SendsEveryRequestToTheFallback) {
  Router router;
  router.SetFallback([](Request&&, Responder respond) { respond(Response{}); });
  TestClient& client = Serve(std::move(router));
  for (const char* method : {"GET", "POST", "DELETE"}) {
    auto response = client.Send(method, "/ping");
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "");
    EXPECT_FALSE(response->HasHeader("Content-Type"));
  }
}

TEST_F(ServerTest, TakesAResponseFromAnotherThreadWhileServingOtherConnections) {
  Worker worker;
  auto server = StartServer(worker.Route(EchoRouter()));

  TestClient slow(server->port());
  ASSERT_TRUE(slow.StartRequest("POST", "/v1/slow", "later").ok());
  auto pending = worker.Next();
  ASSERT_TRUE(pending.has_value());

  TestClient fast(server->port());
  auto response = fast.Send("POST", "/v1/echo", "now");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "POST /v1/echo now");

  std::thread answer([pending = std::move(*pending)]() mutable {
    Response response;
    response.body = "answered " + pending.first.body;
    Responder respond = pending.second;  // copies deliver to the same request
    respond(std::move(response));
    pending.second(Response{}) /* a second answer is ignored */;
  });
  auto slow_response = slow.ReadResponse();
  answer.join();
  ASSERT_TRUE(slow_response.ok()) << slow_response.status().ToString();
  EXPECT_EQ(slow_response->body, "answered later");

  auto next = slow.Send("POST", "/v1/echo", "again");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->body, "POST /v1/echo again");
}

TEST_F(ServerTest, ClosesAConnectionWhoseHandlerThrew) {
  Router router;
  router.Add("POST", "/v1/throw", "Throw",
             [](Request&&, Responder) { throw std::runtime_error("boom"); });
  TestClient& client = Serve(std::move(router));
  ASSERT_TRUE(client.StartRequest("POST", "/v1/throw").ok());
  auto rest = client.ReadToEof();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(*rest, "");
}

TEST_F(ServerTest, ClosesAnIdleConnectionAfterTheReadTimeout) {
  ServerOptions options = TestOptions();
  options.read_timeout = milliseconds(200);
  TestClient& client = Serve(EchoRouter(), options);
  ASSERT_TRUE(client.Send("POST", "/v1/echo").ok());
  auto rest = client.ReadToEof();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(*rest, "");
}

TEST_F(ServerTest, StreamsChunksInTheOrderWritten) {
  StreamServer events;
  std::shared_ptr<StreamWriter> writer = events.Open();
  ASSERT_NE(writer, nullptr);

  auto head = events.client->ReadUntil("\r\n\r\n");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(*head,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/event-stream; charset=utf-8\r\n"
            "Cache-Control: no-cache, no-store, must-revalidate\r\n"
            "Connection: keep-alive\r\n"
            "Transfer-Encoding: chunked\r\n\r\n");

  std::string expected;
  std::thread producer([&writer] {
    for (int i = 0; i < 200; ++i) writer->Write(Chunk("id: " + std::to_string(i) + "\n\n"));
  });
  for (int i = 0; i < 200; ++i) expected += Chunk("id: " + std::to_string(i) + "\n\n");
  producer.join();
  auto body = events.client->ReadUntil(Chunk("id: 199\n\n"));
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(*body, expected);
  EXPECT_EQ(events.stream->stops(), 0);
}

TEST_F(ServerTest, StopsTheStreamOnceWhenTheClientDisconnects) {
  StreamServer events;
  std::shared_ptr<StreamWriter> writer = events.Open();
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(events.client->ReadUntil("\r\n\r\n").ok());
  EXPECT_FALSE(writer->closed());
  events.client->Close();
  ASSERT_TRUE(events.stream->WaitStopped());
  EXPECT_TRUE(writer->closed());
  writer->Write("ignored");  // writing to a gone connection is harmless
  events.server->Stop();
  EXPECT_EQ(events.stream->stops(), 1);
  EXPECT_EQ(events.server->connection_count(), 0u);
}

TEST_F(ServerTest, StopsAStreamWhoseClientStopsReading) {
  ServerOptions options = TestOptions();
  options.write_timeout = milliseconds(200);
  StreamServer events(options);
  std::shared_ptr<StreamWriter> writer = events.Open();
  ASSERT_NE(writer, nullptr);
  // Far more than the socket buffers hold: the writes stall and the write timeout fires.
  for (int i = 0; i < 64 && !writer->closed(); ++i) writer->Write(std::string(1 << 20, 'e'));
  ASSERT_TRUE(events.stream->WaitStopped());
  EXPECT_TRUE(writer->closed());
  EXPECT_EQ(writer->queued_bytes(), 0u);
  EXPECT_EQ(events.stream->stops(), 1);
}

TEST_F(ServerTest, EndsTheConnectionWhenTheStreamClosesItsWriter) {
  StreamServer events;
  std::shared_ptr<StreamWriter> writer = events.Open();
  ASSERT_NE(writer, nullptr);
  writer->Write(Chunk("last"));
  writer->Write("0\r\n\r\n");
  writer->Close();
  auto all = events.client->ReadToEof();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_NE(all->find("\r\n\r\n" + Chunk("last") + "0\r\n\r\n"), std::string::npos) << *all;
  EXPECT_TRUE(all->ends_with("0\r\n\r\n"));
  ASSERT_TRUE(events.stream->WaitStopped());
  EXPECT_EQ(events.stream->stops(), 1);
}

TEST_F(ServerTest, ShutdownEndsAnOpenStreamCleanly) {
  StreamServer events(TestOptions(), EchoRouter(), /*terminate_on_stop=*/true);
  std::unique_ptr<Server>& server = events.server;
  TestClient idle(server->port());
  ASSERT_TRUE(idle.Send("POST", "/v1/echo").ok());

  std::shared_ptr<StreamWriter> writer = events.Open();
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(events.client->ReadUntil("\r\n\r\n").ok());
  writer->Write(Chunk("event"));

  std::thread stopper([&server] { server->Stop(); });
  auto rest = events.client->ReadToEof();
  stopper.join();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(*rest, Chunk("event") + "0\r\n\r\n");
  EXPECT_EQ(events.stream->stops(), 1);

  auto idle_rest = idle.ReadToEof();
  ASSERT_TRUE(idle_rest.ok()) << idle_rest.status().ToString();
  EXPECT_EQ(*idle_rest, "") << "the idle connection was closed";
  TestClient late(server->port());
  EXPECT_FALSE(late.Send("POST", "/v1/echo").ok()) << "no longer accepting";
}

TEST_F(ServerTest, ShutdownLetsAnInFlightRequestFinish) {
  Worker worker;
  TestClient& client = Serve(worker.Route());
  ASSERT_TRUE(client.StartRequest("POST", "/v1/slow", "x").ok());
  auto pending = worker.Next();
  ASSERT_TRUE(pending.has_value());

  std::thread stopper([this] { server_->Stop(); });
  Response response;
  response.body = "finished";
  pending->second(std::move(response));
  auto got = client.ReadResponse();
  stopper.join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->body, "finished");
  auto rest = client.ReadToEof();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(*rest, "");
}

TEST_F(ServerTest, DropsAStreamThatArrivesAfterItsConnectionClosed) {
  Worker worker;
  ServerOptions options = TestOptions();
  options.shutdown_timeout = milliseconds(100);
  auto server = StartServer(worker.Route(Router(), "/v1/events"), options);
  auto stream = std::make_shared<RecordingStream>(/*terminate_on_stop=*/false);
  {
    TestClient client(server->port());
    ASSERT_TRUE(client.StartRequest("POST", "/v1/events").ok());
    auto pending = worker.Next();
    ASSERT_TRUE(pending.has_value());
    server->Stop();  // the in-flight request is force-closed after shutdown_timeout at worst
    Response response;
    response.stream = stream;
    pending->second(std::move(response));
  }
  server.reset();
  EXPECT_EQ(stream->stops(), 0);
  EXPECT_EQ(stream.use_count(), 1) << "the server released the undelivered stream";
}

// A raw client that writes `bytes`, shuts down its write side (half-close) and reads until the
// server closes. Returns what it read, or nullopt when the server neither answered nor closed
// within `timeout`. EINTR is retried (a signal is no reason to give up).
std::optional<std::string> HalfCloseExchange(uint16_t port, std::string_view bytes,
                                             std::chrono::milliseconds timeout = seconds(5),
                                             const std::function<void()>& after_half_close = {}) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  ::shutdown(fd, SHUT_WR);
  if (after_half_close) after_half_close();
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::close(fd);
      return std::nullopt;
    }
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline check above ends the wait
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return got;
}

// A stream that writes one chunk and the terminator at once, as the router fuzz target's does.
class OneChunkStream final : public Stream {
 public:
  void Start(std::shared_ptr<StreamWriter> writer) override {
    writer->Write(Chunk("data: x\n\n"));
    writer->Write("0\r\n\r\n");
    writer->Close();
  }
  void Stop() override {}
};

// Regression (router_fuzz "stall", docs/reliability.md): a client that sends a request, good or
// malformed, then half-closes must get its answer (if any) and a close at once, not after the
// read timeout; inputs are the fuzz run's stall candidates and their neighbours.
TEST_F(ServerTest, AHalfClosedClientGetsItsAnswerAndACloseWithoutWaitingForTheReadTimeout) {
  Router router = EchoRouter();
  router.Add("POST", "/v1/stream", "Stream", [](Request&&, Responder respond) {
    Response response;
    response.content_type = "text/event-stream; charset=utf-8";
    response.stream = std::make_shared<OneChunkStream>();
    respond(std::move(response));
  });
  ServerOptions options = TestOptions();
  options.threads = 1;
  options.read_timeout = seconds(120);
  auto server = StartServer(std::move(router), options);
  const std::vector<std::string> inputs = {
      "POST /v1/echo HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nabc",
      "POST /v1/echo HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nab",  // short body
      "POST /v1/echo HTTP/1.1\r\nHost: b\r\n",                             // partial head
      "POST /v1/echo HTTP/1.1\r\nHost: b\r\n\r\nPOST /v1/echo HTTP/1.1\r\n\r\n",
      "POST /v1/echo HTTP/1.1\r\nHost: b\r\n\r\n/taikls/sst.r3 HTT\r\n",
      "POST /v2/actual_lrps/claim H\xff\xff\xff\x00\r\nHost: b\r\nContent-Length: 6\r\n\r\n"
      "abcPOST /v1/echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
      "PO#T /v1/echo HTTP/1.1\r\nHotent-Length: 3\r\n\r\nYbcPOST /)1/ping  /v0/\r\ntu",
      "POST /v1/echo HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
      "POST /v1/echo HTTP/1.1\r\nHost: b\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
      "POST /v1/stream HTTP/1.1\r\nHost: b\r\n\r\n",
      "POST /v1/stream HTTP/1.1\r\nHost: b\r\n\r\nPOST /v1/echo HTTP/1.1\r\n\r\n",
      "GET /nowhere HTTP/1.0\r\n\r\n",
      "",
  };
  for (int round = 0; round < 20; ++round) {
    for (const std::string& input : inputs) {
      auto got = HalfCloseExchange(server->port(), input);
      ASSERT_TRUE(got.has_value()) << "no close within 5 s after: " << input;
    }
  }
  EXPECT_TRUE(server->connection_count() <= 1u);
}

// A client that half-closes while its request is still being handled on another thread gets
// the response, then the close.
TEST_F(ServerTest, AClientThatHalfClosesDuringAHandlerGetsTheResponseThenAClose) {
  Worker worker;
  ServerOptions options = TestOptions();
  options.read_timeout = seconds(120);
  auto server = StartServer(worker.Route(), options);
  std::thread answer;
  auto got = HalfCloseExchange(server->port(),
                               "POST /v1/slow HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\n\r\nhi",
                               seconds(5), [&] {
                                 answer = std::thread([&worker] {
                                   auto pending = worker.Next();
                                   if (!pending) return;
                                   Response response;
                                   response.body = "answered";
                                   pending->second(std::move(response));
                                 });
                               });
  answer.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_NE(got->find("200 OK"), std::string::npos) << *got;
  EXPECT_NE(got->find("answered"), std::string::npos) << *got;
}

TEST_F(ServerTest, FailsToStartOnAPortInUse) {
  auto first = StartServer(EchoRouter());
  ServerOptions options = TestOptions();
  options.port = first->port();
  Server second(options, EchoRouter());
  Status status = second.Start();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("listen tcp 127.0.0.1:"), std::string::npos) << status.message();
}

// Collects log lines, for the access log and request tracing tests.
class CapturingSink final : public LogSink {
 public:
  explicit CapturingSink(LogLevel level) : LogSink(level) {}
  void Write(const std::string& line) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(nlohmann::json::parse(line));
  }
  std::vector<nlohmann::json> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<nlohmann::json> lines_;
};

TEST_F(ServerTest, WritesOneAccessLogLinePerRequest) {
  auto sink = std::make_shared<CapturingSink>(LogLevel::kInfo);
  ServerOptions options = TestOptions();
  options.access_logger = Logger(sink, "bbs").Session("access");
  TestClient& client = Serve(EchoRouter(), options);
  ASSERT_TRUE(client.Send("POST", "/v1/echo", "abc").ok());
  ASSERT_TRUE(client.Send("POST", "/v1/nope", "").ok());
  server_->Stop();
  std::vector<nlohmann::json> lines;
  for (auto& line : sink->lines()) {
    if (line["message"] == "bbs.access.request") lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["log_level"], 1);
  EXPECT_EQ(lines[0]["data"]["route"], "Echo");
  EXPECT_EQ(lines[0]["data"]["method"], "POST");
  EXPECT_EQ(lines[0]["data"]["path"], "/v1/echo");
  EXPECT_EQ(lines[0]["data"]["status"], 200);
  EXPECT_EQ(lines[0]["data"]["request_bytes"], 3);
  EXPECT_EQ(lines[0]["data"]["response_bytes"], std::string("POST /v1/echo abc").size());
  EXPECT_GT(lines[0]["data"]["duration"].get<int64_t>(), 0);
  EXPECT_EQ(lines[1]["data"]["status"], 404);
  EXPECT_EQ(lines[1]["data"]["route"], "");
}

// ---------------------------------------------------------------------------------------------
// Streamed unary bodies (Response::body_source).

// The byte at `offset` of a PatternSource's body: not periodic in any chunk size.
char PatternByte(size_t offset) {
  return static_cast<char>('a' + (offset * 7 + offset / 251) % 26);
}

std::string Pattern(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = PatternByte(i);
  return out;
}

// What the test sees of its PatternSources: bytes read, the largest single read, and when the
// server released the source.
struct SourceProbe {
  std::atomic<size_t> read{0};
  std::atomic<size_t> largest_read{0};
  std::atomic<int> reads{0};
  std::promise<void> released;
  std::future<void> released_future = released.get_future();
  bool WaitReleased() { return released_future.wait_for(kWait) == std::future_status::ready; }
};

class PatternSource final : public BodySource {
 public:
  PatternSource(size_t size, std::shared_ptr<SourceProbe> probe)
      : size_(size), probe_(std::move(probe)) {}
  ~PatternSource() override { probe_->released.set_value(); }
  size_t size() const override { return size_; }
  size_t Read(char* out, size_t capacity) override {
    size_t n = std::min(capacity, size_ - offset_);
    for (size_t i = 0; i < n; ++i) out[i] = PatternByte(offset_ + i);
    offset_ += n;
    probe_->read += n;
    ++probe_->reads;
    if (n > probe_->largest_read) probe_->largest_read = n;
    return n;
  }

 private:
  const size_t size_;
  size_t offset_ = 0;
  const std::shared_ptr<SourceProbe> probe_;
};

// A router whose POST /v1/big answers a PatternSource of `size` bytes (one per request, each
// reported to the probe `probes` hands out in turn) and POST /v1/echo echoes.
Router BigBodyRouter(size_t size, std::vector<std::shared_ptr<SourceProbe>> probes) {
  Router router = EchoRouter();
  auto next = std::make_shared<std::atomic<size_t>>(0);
  router.Add("POST", "/v1/big", "Big", [size, probes, next](Request&&, Responder respond) {
    Response response;
    response.content_type = "application/x-protobuf";
    response.body = "ignored when a source is set";
    response.body_source = std::make_shared<PatternSource>(size, probes.at((*next)++));
    respond(std::move(response));
  });
  return router;
}

constexpr size_t kBigBody = (5 << 20) + 12'345;  // 5 chunks and a bit

TEST_F(ServerTest, StreamsABodySourceWithItsExactLengthAndKeepsTheConnectionAlive) {
  auto first = std::make_shared<SourceProbe>();
  auto second = std::make_shared<SourceProbe>();
  TestClient& client = Serve(BigBodyRouter(kBigBody, {first, second}));
  for (const auto& probe : {first, second}) {
    auto response = client.Send("POST", "/v1/big");
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->Header("Content-Length"), std::to_string(kBigBody));
    EXPECT_EQ(response->Header("Content-Type"), "application/x-protobuf");
    EXPECT_FALSE(response->HasHeader("Transfer-Encoding"));
    EXPECT_TRUE(response->body == Pattern(kBigBody)) << "the body differs";
    EXPECT_TRUE(probe->WaitReleased());
    EXPECT_EQ(probe->read.load(), kBigBody);
    EXPECT_GT(probe->reads.load(), 1) << "pulled in chunks, not whole";
    EXPECT_LE(probe->largest_read.load(), size_t{1} << 20);
  }
  auto echo = client.Send("POST", "/v1/echo", "after");
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_EQ(echo->body, "POST /v1/echo after");
  EXPECT_EQ(client.connections(), 1);
}

TEST_F(ServerTest, AnswersHeadWithTheSourcesLengthAndNoBody) {
  auto probe = std::make_shared<SourceProbe>();
  Router router = BigBodyRouter(kBigBody, {probe});
  router.Add("HEAD", "/v1/big", "BigHead", [probe](Request&&, Responder respond) {
    Response response;
    response.body_source = std::make_shared<PatternSource>(kBigBody, probe);
    respond(std::move(response));
  });
  TestClient& client = Serve(std::move(router));
  auto response = client.Send("HEAD", "/v1/big");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->Header("Content-Length"), std::to_string(kBigBody));
  EXPECT_EQ(response->body, "");
  EXPECT_TRUE(probe->WaitReleased());
  EXPECT_EQ(probe->read.load(), 0u);
  auto echo = client.Send("POST", "/v1/echo", "x");
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_EQ(client.connections(), 1);
}

TEST_F(ServerTest, ASlowReaderGetsTheWholeStreamedBody) {
  auto probe = std::make_shared<SourceProbe>();
  TestClient& client = Serve(BigBodyRouter(kBigBody, {probe}));
  ASSERT_TRUE(client.StartRequest("POST", "/v1/big").ok());
  auto head = client.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  std::string body;
  for (int i = 0; body.size() < kBigBody; ++i) {
    auto some = client.ReadSome();
    ASSERT_TRUE(some.ok()) << some.status().ToString();
    ASSERT_FALSE(some->empty()) << "closed after " << body.size() << " bytes";
    body += *some;
    // A reader slower than the server: it pauses now and then while the server waits for it.
    if (i % 64 == 0) std::this_thread::sleep_for(milliseconds(2));
  }
  EXPECT_TRUE(body == Pattern(kBigBody)) << "the body differs";
  EXPECT_TRUE(probe->WaitReleased());
  auto echo = client.Send("POST", "/v1/echo", "x");
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_EQ(client.connections(), 1);
}

TEST_F(ServerTest, ReleasesTheSourceWhenTheClientClosesMidBody) {
  auto probe = std::make_shared<SourceProbe>();
  TestClient& client = Serve(BigBodyRouter(size_t{64} << 20, {probe}));
  ASSERT_TRUE(client.StartRequest("POST", "/v1/big").ok());
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n").ok());
  ASSERT_TRUE(client.ReadSome().ok());
  client.Close();
  ASSERT_TRUE(probe->WaitReleased());
  EXPECT_LT(probe->read.load(), size_t{64} << 20) << "stopped reading the source";
  TestClient other(server_->port());
  auto echo = other.Send("POST", "/v1/echo", "still serving");
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_EQ(echo->body, "POST /v1/echo still serving");
}

TEST_F(ServerTest, ClosesAStreamedBodyWhoseReaderStallsPastTheWriteTimeout) {
  ServerOptions options = TestOptions();
  options.write_timeout = milliseconds(200);
  auto probe = std::make_shared<SourceProbe>();
  TestClient& client = Serve(BigBodyRouter(size_t{256} << 20, {probe}), options);
  ASSERT_TRUE(client.StartRequest("POST", "/v1/big").ok());
  // The client reads nothing: once the socket buffers are full a chunk's write times out.
  ASSERT_TRUE(probe->WaitReleased());
  EXPECT_LT(probe->read.load(), size_t{256} << 20);
  // The connection is closed: the client gets what the socket buffers held, then the end.
  auto rest = client.ReadToEof();
  if (rest.ok()) {
    EXPECT_LT(rest->size(), size_t{256} << 20);
  }
}

TEST_F(ServerTest, StopLetsAStreamedBodyFinishThenCloses) {
  auto probe = std::make_shared<SourceProbe>();
  TestClient& client = Serve(BigBodyRouter(kBigBody, {probe}));
  ASSERT_TRUE(client.StartRequest("POST", "/v1/big").ok());
  auto head = client.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  std::thread stopper([this] { server_->Stop(); });
  auto rest = client.ReadToEof();
  stopper.join();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(rest->size(), kBigBody);
  EXPECT_TRUE(*rest == Pattern(kBigBody)) << "the body differs";
  EXPECT_TRUE(probe->WaitReleased());
}

// ---------------------------------------------------------------------------------------------
// Mutual TLS (api.md §1.1).

class ServerTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/bbs-http-tls-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = new std::string(pattern);
    auto pki = clients::TestPki::Create(*dir_);
    ASSERT_TRUE(pki.ok()) << pki.status().ToString();
    pki_ = new clients::TestPki(*pki);
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    if (dir_ != nullptr) std::filesystem::remove_all(*dir_, ignored);
    delete dir_;
    delete pki_;
    dir_ = nullptr;
    pki_ = nullptr;
  }

  static ServerOptions TlsOptions() {
    ServerOptions options = TestOptions();
    options.tls = {pki_->ca_file, pki_->server_cert_file, pki_->server_key_file};
    return options;
  }
  static TestClientTls GoodClient() {
    return {pki_->ca_file, pki_->client_cert_file, pki_->client_key_file};
  }

  // A handler that answers with the client certificate's subject.
  static Router SubjectRouter() {
    Router router;
    router.Add("POST", "/v1/who", "Who", [](Request&& request, Responder respond) {
      Response response;
      response.body = request.peer_subject ? *request.peer_subject : "none";
      respond(std::move(response));
    });
    return router;
  }

  static std::string* dir_;
  static clients::TestPki* pki_;
};

std::string* ServerTlsTest::dir_ = nullptr;
clients::TestPki* ServerTlsTest::pki_ = nullptr;

TEST_F(ServerTlsTest, ServesAClientWithAValidCertificateOverOneKeptAliveConnection) {
  auto server = StartServer(SubjectRouter(), TlsOptions());
  TestClient client(server->port(), GoodClient());
  for (int i = 0; i < 3; ++i) {
    auto response = client.Send("POST", "/v1/who");
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "/CN=bbs test client");
  }
  EXPECT_EQ(client.connections(), 1);
}

TEST_F(ServerTlsTest, LogsServingAndDoneAtDebugWithThePeerCertificateSubject) {
  auto sink = std::make_shared<CapturingSink>(LogLevel::kDebug);
  ServerOptions options = TlsOptions();
  options.logger = Logger(sink, "bbs").Session("http");
  auto server = StartServer(EchoRouter(), options);
  TestClient client(server->port(), GoodClient());
  ASSERT_TRUE(client.Send("POST", "/v1/echo", "x").ok());
  server->Stop();
  int serving = 0;
  int done = 0;
  for (auto& line : sink->lines()) {
    if (line["message"] == "bbs.http.serving") {
      ++serving;
      EXPECT_EQ(line["log_level"], 0);
      EXPECT_EQ(line["data"]["route"], "Echo");
      EXPECT_EQ(line["data"]["peer"], "/CN=bbs test client");
    } else if (line["message"] == "bbs.http.done") {
      ++done;
      EXPECT_EQ(line["data"]["status"], 200);
      EXPECT_EQ(line["data"]["peer"], "/CN=bbs test client");
    }
  }
  EXPECT_EQ(serving, 1);
  EXPECT_EQ(done, 1);
}

TEST_F(ServerTlsTest, ServesTheTwoTls12SuitesAndNoOther) {
  auto server = StartServer(EchoRouter(), TlsOptions());
  for (const char* suite : {"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256"}) {
    TestClientTls tls = GoodClient();
    tls.max_version = TLS1_2_VERSION;
    tls.tls12_ciphers = suite;
    TestClient client(server->port(), tls, seconds(3));
    auto response = client.Send("POST", "/v1/echo", "x");
    ASSERT_TRUE(response.ok()) << suite << ": " << response.status().ToString();
    EXPECT_EQ(response->status, 200);
  }
  for (const char* suite : {"ECDHE-RSA-CHACHA20-POLY1305", "AES128-GCM-SHA256", "AES256-SHA"}) {
    TestClientTls tls = GoodClient();
    tls.max_version = TLS1_2_VERSION;
    tls.tls12_ciphers = suite;
    TestClient client(server->port(), tls, seconds(3));
    EXPECT_FALSE(client.Send("POST", "/v1/echo", "x").ok()) << suite;
  }
}

TEST_F(ServerTlsTest, RefusesAClientWithoutACertificate) {
  auto server = StartServer(EchoRouter(), TlsOptions());
  TestClient client(server->port(), TestClientTls{pki_->ca_file, "", ""}, seconds(3));
  auto response = client.Send("POST", "/v1/echo", "x");
  EXPECT_FALSE(response.ok());
}

TEST_F(ServerTlsTest, RefusesAClientCertificateFromAnotherCa) {
  auto server = StartServer(EchoRouter(), TlsOptions());
  TestClient client(
      server->port(),
      TestClientTls{pki_->ca_file, pki_->untrusted_cert_file, pki_->untrusted_key_file},
      seconds(3));
  auto response = client.Send("POST", "/v1/echo", "x");
  EXPECT_FALSE(response.ok());
}

TEST_F(ServerTlsTest, RefusesAClientOfferingOnlyTls11) {
  auto server = StartServer(EchoRouter(), TlsOptions());
  TestClientTls tls = GoodClient();
  tls.max_version = TLS1_1_VERSION;
  TestClient client(server->port(), tls, seconds(3));
  auto response = client.Send("POST", "/v1/echo", "x");
  EXPECT_FALSE(response.ok());
}

TEST_F(ServerTlsTest, RefusesPlainHttpOnATlsListener) {
  auto server = StartServer(EchoRouter(), TlsOptions());
  TestClient client(server->port(), seconds(3));
  auto response = client.Send("POST", "/v1/echo", "x");
  EXPECT_FALSE(response.ok());
}

TEST_F(ServerTlsTest, StreamsOverTls) {
  StreamServer events(TlsOptions());
  std::shared_ptr<StreamWriter> writer = events.Open(GoodClient());
  TestClient& client = *events.client;
  ASSERT_NE(writer, nullptr);
  auto head = client.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_NE(head->find("200 OK"), std::string::npos);
  writer->Write("5\r\nfirst\r\n");
  writer->Write("6\r\nsecond\r\n");
  auto chunks = client.ReadUntil("second\r\n");
  ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
  EXPECT_EQ(*chunks, "5\r\nfirst\r\n6\r\nsecond\r\n");
  writer->Write("0\r\n\r\n");
  writer->Close();
  auto rest = client.ReadToEof();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(*rest, "0\r\n\r\n");
}

TEST_F(ServerTlsTest, StreamsABodySourceOverTls) {
  auto probe = std::make_shared<SourceProbe>();
  auto server = StartServer(BigBodyRouter(kBigBody, {probe}), TlsOptions());
  TestClient client(server->port(), GoodClient());
  auto response = client.Send("POST", "/v1/big");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->Header("Content-Length"), std::to_string(kBigBody));
  EXPECT_TRUE(response->body == Pattern(kBigBody)) << "the body differs";
  EXPECT_TRUE(probe->WaitReleased());
  auto echo = client.Send("POST", "/v1/echo", "x");
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_EQ(client.connections(), 1);
}

TEST_F(ServerTlsTest, FailsToStartWithoutEveryFileOrWithAnUnreadableOne) {
  ServerOptions missing_ca = TlsOptions();
  missing_ca.tls.ca_file.clear();
  Server a(missing_ca, EchoRouter());
  EXPECT_FALSE(a.Start().ok());

  ServerOptions bad_key = TlsOptions();
  bad_key.tls.key_file = *dir_ + "/no-such.key";
  Server b(bad_key, EchoRouter());
  Status status = b.Start();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("no-such.key"), std::string::npos) << status.message();

  ServerOptions mismatched = TlsOptions();
  mismatched.tls.key_file = pki_->client_key_file;
  Server c(mismatched, EchoRouter());
  EXPECT_FALSE(c.Start().ok());
}

}  // namespace
}  // namespace bbs::http
