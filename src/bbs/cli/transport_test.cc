#include "bbs/cli/transport.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "bbs/cli/tls_test_proxy.h"

namespace bbs::cli {
namespace {

using std::chrono_literals::operator""s;

HttpClient Client(int port, const std::string& path = "") {
  return HttpClient(*url::ParseUrl("http://127.0.0.1:" + std::to_string(port) + path), {}, 5s);
}

std::string Hex(size_t n) {
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", n);
  return size;
}

TEST(HttpClientTest, ReadsABodyLargerThanBeastsDefaultLimitFromTheBaseUrl) {
  std::string body(9 << 20, 'x');
  StaticHttpServer server(body, {});
  HttpClient client = Client(server.port(), "/metrics");
  auto r = client.Request("GET", "", "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-type"), "text/plain; version=0.0.4");
  EXPECT_EQ(r->body.size(), body.size());
  ASSERT_EQ(server.Requests().size(), 1u);
  EXPECT_EQ(server.Requests()[0].rfind("GET /metrics HTTP/1.1\r\n", 0), 0u);
}

TEST(HttpClientTest, ReadsEventStreamsChunkedWithOrWithoutUpstreamsEmptyExtension) {
  std::string first = "id: 1\nevent: a\ndata: x\n\n";
  std::string second = "id: 2\nevent: b\ndata: y\n\n";
  std::string body = Hex(first.size()) + ";\r\n" + first + "\r\n" +  // upstream's form
                     "a\r\n" + second.substr(0, 10) + "\r\n" +       // an event split in two
                     Hex(second.size() - 10) + "\r\n" + second.substr(10) + "\r\n0\r\n\r\n";
  StaticHttpServer server("", {"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n" +
                               body});
  HttpClient client = Client(server.port());
  auto opened = client.OpenStream("POST", "/v1/events/tasks.r1", "", "7");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_NE(opened->stream, nullptr);
  auto a = opened->stream->Next();
  ASSERT_TRUE(a.ok() && a->has_value()) << a.status().ToString();
  EXPECT_EQ((*a)->id, "1");
  EXPECT_EQ((*a)->name, "a");
  EXPECT_EQ((*a)->data, "x");
  auto b = opened->stream->Next();
  ASSERT_TRUE(b.ok() && b->has_value()) << b.status().ToString();
  EXPECT_EQ((*b)->name, "b");
  EXPECT_EQ((*b)->data, "y");
  auto end = opened->stream->Next();
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_FALSE(end->has_value());
  EXPECT_NE(server.Requests()[0].find("Last-Event-ID: 7\r\n"), std::string::npos);
}

TEST(HttpClientTest, AnErrorAnswerToAStreamComesBackWithItsBody) {
  StaticHttpServer server("", {"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope"});
  HttpClient client = Client(server.port());
  auto opened = client.OpenStream("GET", "/v1/events.r1", "", "");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->stream, nullptr);
  EXPECT_EQ(opened->head.status, 403);
  EXPECT_EQ(opened->head.body, "nope");
}

}  // namespace
}  // namespace bbs::cli
