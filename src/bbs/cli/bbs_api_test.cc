#include "bbs/cli/bbs_api.h"

#include <gtest/gtest.h>

#include "bbs/cli/tls_test_proxy.h"

namespace bbs::cli {
namespace {

constexpr char kHead[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

// One SSE event as upstream frames it: one chunk, `<hex>;` size line.
std::string Chunk(const std::string& id, const std::string& name, const std::string& data) {
  std::string event = "id: " + id + "\nevent: " + name + "\ndata: " + data + "\n\n";
  char size[16];
  std::snprintf(size, sizeof(size), "%zx;", event.size());
  return std::string(size) + "\r\n" + event + "\r\n";
}

HttpClient Client(int port) {
  return HttpClient(*url::ParseUrl("http://127.0.0.1:" + std::to_string(port)), {},
                    std::chrono::seconds(5));
}

TEST(FollowEventsTest, ResumesABrokenStreamWithLastEventIdAndStopsAtItsCleanEnd) {
  // First connection: two events, then the connection breaks (no last chunk). Second: one more
  // event and the clean end.
  StaticHttpServer server(
      "",
      {std::string(kHead) + Chunk("0", "task_created", "CgA=") + Chunk("1", "task_removed", "CgA="),
       std::string(kHead) + Chunk("0", "task_changed", "CgA=") + "0\r\n\r\n"});
  HttpClient client = Client(server.port());
  FollowOptions options;
  options.path = "/v1/events/tasks.r1";
  options.retry_interval = std::chrono::milliseconds(10);
  std::vector<std::string> names;
  Status s = FollowEvents(client, options, [&](const SseEvent& e) {
    names.push_back(e.name);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(names, (std::vector<std::string>{"task_created", "task_removed", "task_changed"}));
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].find("Last-Event-ID"), std::string::npos);
  EXPECT_NE(requests[1].find("Last-Event-ID: 1\r\n"), std::string::npos) << requests[1];
  EXPECT_EQ(requests[1].rfind("POST /v1/events/tasks.r1 HTTP/1.1\r\n", 0), 0u);
}

TEST(FollowEventsTest, RetriesUnavailableAndFailsOnOtherStatuses) {
  StaticHttpServer server("", {"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
                               "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"});
  HttpClient client = Client(server.port());
  FollowOptions options;
  options.path = "/v1/events/lrp_instances.r1";
  options.retry_interval = std::chrono::milliseconds(10);
  Status s = FollowEvents(client, options, [](const SseEvent&) { return true; });
  EXPECT_EQ(s.code(), ErrorCode::kInvalidResponse);
  EXPECT_EQ(s.message(), "Invalid Response with status code: 403");
  EXPECT_EQ(server.Requests().size(), 2u);
}

// A domains list call to a server that answers with the raw `response`.
Result<models::DomainsResponse> ListDomainsAnswered(std::string response) {
  StaticHttpServer server("", {std::move(response)});
  HttpClient client = Client(server.port());
  return Call<models::DomainsResponse>(client, "/v1/domains/list", models::DomainsResponse());
}

TEST(CallBbsTest, ANonProtobufErrorAnswerIsAnInvalidResponse) {
  auto r = ListDomainsAnswered(
      "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nbad");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidResponse);
  EXPECT_EQ(r.status().message(), "Invalid Response with status code: 502");
}

TEST(CallBbsTest, AnUndecodableBodyIsAnInvalidProtobufMessage) {
  auto r = ListDomainsAnswered(
      "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 2\r\n\r\n"
      "\xff\xff");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidProtobufMessage);
}

TEST(DecodeEventTest, DecodesBase64ProtobufByTheEventName) {
  models::TaskCreatedEvent event;
  event.mutable_task()->set_task_guid("t");
  // base64 of the encoding, computed here to keep the test independent of an encoder.
  std::string bytes = event.SerializeAsString();
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 2]);
    b64 += kAlphabet[(n >> 18) & 63];
    b64 += kAlphabet[(n >> 12) & 63];
    b64 += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    b64 += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  auto decoded = DecodeEvent({"0", "task_created", b64});
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(static_cast<const models::TaskCreatedEvent&>(**decoded).task().task_guid(), "t");
  EXPECT_EQ(DecodeEvent({"0", "no_such_event", b64}).status().code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(DecodeEvent({"0", "task_created", ""}).status().code(),
            ErrorCode::kInvalidProtobufMessage);
}

}  // namespace
}  // namespace bbs::cli
