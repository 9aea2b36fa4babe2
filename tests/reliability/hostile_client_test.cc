// Hostile clients against the real bbs binary (issue #16 item 3): oversized heads and bodies,
// malformed chunked encoding, pipelined garbage, trickled heads, thousands of idle connections
// and event subscribers that never read. Each test checks that the server answers or closes as
// documented, stays up, keeps its memory bounded and keeps answering the other clients.
//
// Sizes are kept small enough for ctest; BBS_RELIABILITY_IDLE_CONNECTIONS raises the idle
// connection count for the long run documented in docs/reliability.md.

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bbs/testing/bbs_process.h"
#include "reliability_util.h"

namespace bbs::reliability {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr char kPing[] = "POST /v1/ping HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\n";

std::string RequestWithHeaderBytes(size_t header_bytes) {
  std::string request = "POST /v1/ping HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n";
  // Headers of 1,000-byte values until the head reaches the size asked for.
  int n = 0;
  while (request.size() + 4 < header_bytes) {
    size_t value = std::min<size_t>(1000, header_bytes - request.size() - 4);
    std::string name = "X-Pad-" + std::to_string(n++) + ": ";
    if (value <= name.size() + 2) break;
    request += name + std::string(value - name.size() - 2, 'a') + "\r\n";
  }
  return request + "\r\n";
}

int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.substr(9, 3).c_str());
}

// Latencies of `count` pings, one connection, in microseconds, sorted.
std::vector<int64_t> PingLatencies(uint16_t port, int count) {
  http::TestClient client(port, 10s);
  std::vector<int64_t> out;
  for (int i = 0; i < count; ++i) {
    auto start = Clock::now();
    auto reply = client.Send("POST", "/v1/ping");
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    EXPECT_TRUE(reply.ok() && reply->status == 200) << "ping " << i;
    out.push_back(took.count());
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

// p99 of a ping while the server is under abuse. Generous: the sanitizer build on a shared
// 2-core machine; docs/reliability.md records the measured figures.
constexpr int64_t kPingP99BudgetMicros = 500'000;

class HostileClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bbs_ = std::make_unique<testing::BbsProcess>(BBS_BINARY, dir_.path());
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    port_ = static_cast<uint16_t>(bbs_->port());
  }

  // The server still answers a ping on a fresh connection.
  void ExpectAlive() {
    http::TestClient client(port_, 10s);
    auto reply = client.Send("POST", "/v1/ping");
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(reply->status, 200);
  }

  // Sends `bytes` on a fresh connection, half-closes, and returns what came back before the
  // server closed (or 10 s passed).
  std::string Exchange(const std::string& bytes, bool* closed) {
    RawConnection c;
    EXPECT_TRUE(c.Connect(port_));
    c.Send(bytes);  // the server may close before reading everything
    c.ShutdownWrite();
    return c.Read(10s, closed);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BbsProcess> bbs_;
  uint16_t port_ = 0;
};

TEST_F(HostileClientTest, AHeadOf64KiBIsAnsweredAtOnce) {
  RawConnection c;
  ASSERT_TRUE(c.Connect(port_));
  ASSERT_TRUE(c.Send(RequestWithHeaderBytes(64 * 1024)));
  bool closed = false;
  auto start = Clock::now();
  std::string response = c.Read(10s, &closed, 12);
  EXPECT_LT(Clock::now() - start, 2s);
  // Upstream's server accepts heads up to 1 MiB: this one is served.
  EXPECT_EQ(StatusOf(response), 200) << response.substr(0, 200);
  ExpectAlive();
}

// Regression: a single header field whose value is 65,533 bytes or more made Beast's fields
// container throw std::length_error ("field value too large": its offsets are 16-bit) inside
// the parser, and the client got no answer until the read timeout (120 s). Upstream accepts
// heads up to 1 MiB: the answer must come at once.
TEST_F(HostileClientTest, ASingleHeaderFieldOf64KiBIsAnsweredAtOnce) {
  RawConnection c;
  ASSERT_TRUE(c.Connect(port_));
  ASSERT_TRUE(c.Send("POST /v1/ping HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\nX-Big: " +
                     std::string(64 * 1024, 'a') + "\r\n\r\n"));
  bool closed = false;
  std::string response = c.Read(3s, &closed, 12);
  int status = StatusOf(response);
  EXPECT_TRUE(status == 200 || status == 431) << "no answer within 3 s";
  if (status == 431) {
    EXPECT_TRUE(closed || c.Read(3s, &closed).empty());
  }
  ExpectAlive();
}

TEST_F(HostileClientTest, AHeadBeyondOneMiBGets431AndTheConnectionCloses) {
  bool closed = false;
  std::string response = Exchange(RequestWithHeaderBytes((1 << 20) + 4096), &closed);
  EXPECT_EQ(StatusOf(response), 431) << response.substr(0, 200);
  EXPECT_TRUE(closed);
  ExpectAlive();
}

TEST_F(HostileClientTest, ABodyBeyondTheLimitGets413WithoutBeingRead) {
  // Announce 64 MiB (the default limit is 16 MiB) and send only a little of it.
  RawConnection c;
  ASSERT_TRUE(c.Connect(port_));
  ASSERT_TRUE(c.Send("POST /v1/desired_lrp/desire.r2 HTTP/1.1\r\nHost: bbs\r\nContent-Length: " +
                     std::to_string(64 << 20) + "\r\n\r\n" + std::string(4096, 'x')));
  bool closed = false;
  std::string response = c.Read(10s, &closed);
  EXPECT_EQ(StatusOf(response), 413) << response.substr(0, 200);
  EXPECT_TRUE(closed);
  ExpectAlive();
}

TEST_F(HostileClientTest, MalformedChunkedBodiesGet400OrACloseAndNothingElse) {
  const std::vector<std::string> bodies = {
      "zz\r\nabc\r\n0\r\n\r\n",                         // a size that is not hex
      "5\r\nabc\r\n0\r\n\r\n",                          // shorter than announced
      "ffffffffffffffffffff\r\nabc\r\n",                // a size that overflows
      "3;" + std::string(100000, 'e') + "\r\nabc\r\n",  // a huge chunk extension
      "3\r\nabc0\r\n\r\n",                              // no CRLF after the data
  };
  for (const auto& body : bodies) {
    bool closed = false;
    std::string response =
        Exchange("POST /v1/ping HTTP/1.1\r\nHost: bbs\r\nTransfer-Encoding: chunked\r\n\r\n" + body,
                 &closed);
    int status = StatusOf(response);
    EXPECT_TRUE(status == 400 || status == 0) << body.substr(0, 40) << " -> " << response;
    EXPECT_TRUE(closed) << body.substr(0, 40);
  }
  ExpectAlive();
}

TEST_F(HostileClientTest, PipelinedGarbageAfterAGoodRequestGetsItsAnswerThenACloseOr400) {
  RawConnection c;
  ASSERT_TRUE(c.Connect(port_));
  ASSERT_TRUE(c.Send(std::string(kPing) + std::string(kPing) + "\x01\x02 GARBAGE \xff\r\n\r\n"));
  bool closed = false;
  std::string response = c.Read(10s, &closed);
  EXPECT_EQ(StatusOf(response), 200);
  // Both pings answered, then the garbage ends the connection.
  size_t second = response.find("HTTP/1.1 200", 1);
  EXPECT_NE(second, std::string::npos) << response;
  EXPECT_TRUE(closed);
  ExpectAlive();
}

TEST_F(HostileClientTest, BinaryNoiseOnManyConnectionsLeavesTheServerUp) {
  uint32_t seed = 12345;
  for (int i = 0; i < 200; ++i) {
    std::string noise(static_cast<size_t>(1 + i * 37 % 3000), '\0');
    for (auto& ch : noise) {
      seed = seed * 1664525u + 1013904223u;
      ch = static_cast<char>(seed >> 24);
    }
    if (i % 2 == 0) noise = "POST /v1/ping HTTP/1.1\r\n" + noise;
    RawConnection c;
    ASSERT_TRUE(c.Connect(port_));
    c.Send(noise);
    c.ShutdownWrite();
    bool closed = false;
    c.Read(10s, &closed);
    EXPECT_TRUE(closed) << "connection " << i << " left open";
  }
  ExpectAlive();
}

TEST_F(HostileClientTest, TrickledHeadsAndBodiesDoNotDelayOtherClients) {
  constexpr int kTricklers = 50;
  std::atomic<bool> stop{false};
  std::vector<std::thread> tricklers;
  for (int t = 0; t < kTricklers; ++t) {
    tricklers.emplace_back([&, t] {
      RawConnection c;
      if (!c.Connect(port_)) return;
      std::string request = t % 2 == 0 ? std::string(kPing)
                                       : "POST /v1/ping HTTP/1.1\r\nHost: bbs\r\n"
                                         "Content-Length: 100000\r\n\r\n" +
                                             std::string(100000, 'x');
      for (size_t i = 0; i < request.size() && !stop; ++i) {
        if (!c.Send(request.substr(i, 1))) return;
        std::this_thread::sleep_for(20ms);  // the trickle itself
      }
    });
  }
  auto latencies = PingLatencies(port_, 300);
  stop = true;
  for (auto& t : tricklers) t.join();
  std::cout << "pings during " << kTricklers << " trickling clients: p50 "
            << Percentile(latencies, 0.5) << " us, p99 " << Percentile(latencies, 0.99) << " us"
            << std::endl;
  EXPECT_LT(Percentile(latencies, 0.99), kPingP99BudgetMicros);
}

int IdleConnectionCount() {
  const char* env = std::getenv("BBS_RELIABILITY_IDLE_CONNECTIONS");
  return env ? std::atoi(env) : 2000;
}

TEST_F(HostileClientTest, ThousandsOfIdleConnectionsCostBoundedMemoryAndDelayNoOne) {
  const int count = IdleConnectionCount();
  int64_t rss_before = RssKib(bbs_->pid());
  std::vector<RawConnection> idle(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(idle[static_cast<size_t>(i)].Connect(port_)) << "connection " << i;
    // Half of them sent part of a head, the other half nothing at all.
    if (i % 2 == 0) idle[static_cast<size_t>(i)].Send("POST /v1/ping HTTP/1.1\r\nHost:");
  }
  auto latencies = PingLatencies(port_, 300);
  int64_t rss_after = RssKib(bbs_->pid());
  int64_t per_connection = (rss_after - rss_before) * 1024 / count;
  std::cout << count << " idle connections: RSS " << rss_before / 1024 << " -> " << rss_after / 1024
            << " MiB (" << per_connection << " bytes each); pings p50 "
            << Percentile(latencies, 0.5) << " us, p99 " << Percentile(latencies, 0.99) << " us"
            << std::endl;
  EXPECT_LT(Percentile(latencies, 0.99), kPingP99BudgetMicros);
  // The sanitizer build's allocator roughly doubles every allocation; 64 KiB per connection is
  // still far below what would threaten the process at 10,000 connections.
  EXPECT_LT(per_connection, 64 * 1024);
  idle.clear();
  ExpectAlive();
}

// What a never-reading subscriber did to the server while 2,400 events were published.
struct FloodResult {
  int64_t rss_growth_kib = 0;
  size_t events_read_afterwards = 0;
  bool closed = false;
  bool ended_with_last_chunk = false;
};

FloodResult FloodANeverReadingSubscriber(uint16_t port, pid_t pid,
                                         std::chrono::milliseconds read_for) {
  FloodResult result;
  RawConnection subscriber;
  EXPECT_TRUE(subscriber.Connect(port, /*receive_buffer=*/4096));
  EXPECT_TRUE(subscriber.Send(
      "POST /v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\n"));
  // Nothing is read from `subscriber` from now on, until the end.
  int64_t rss_before = RssKib(pid);
  constexpr int kWriters = 4;
  constexpr int kDesiresPerWriter = 100;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      http::TestClient client(port, 30s);
      for (int i = 0; i < kDesiresPerWriter; ++i) {
        models::DesireLRPRequest request;
        // 5 instances each: 6 events per desire, 2,400 in all, more than twice the queue
        // (1,024 events). An 8 KiB argument makes the desired LRP events large enough to fill
        // the socket buffers, so the events pile up in the server's queue.
        auto lrp = NewLrp("pg-" + std::to_string(w) + "-" + std::to_string(i), 5);
        lrp.mutable_action()->mutable_run_action()->add_args(std::string(8 * 1024, 'a'));
        *request.mutable_desired_lrp() = lrp;
        models::DesiredLRPLifecycleResponse response;
        Status s = Call(client, "/v1/desired_lrp/desire.r2", request, &response);
        EXPECT_TRUE(s.ok() && !response.has_error()) << s.ToString();
      }
    });
  }
  for (auto& t : writers) t.join();
  int64_t rss_after = RssKib(pid);
  result.rss_growth_kib = rss_after - rss_before;
  // The subscriber was dropped: reading now drains what was handed to its connection and ends
  // with the last chunk and a close.
  bool closed = false;
  std::string got = subscriber.Read(read_for, &closed, 64 << 20);
  size_t events = 0;
  for (size_t p = got.find("event: "); p != std::string::npos; p = got.find("event: ", p + 1)) {
    ++events;
  }
  std::cout << "never-reading subscriber, 2,400 events published: RSS " << rss_before / 1024
            << " -> " << rss_after / 1024 << " MiB; it then read " << events << " events, "
            << got.size() << " bytes, " << (closed ? "and the close" : "and no close") << std::endl;
  result.events_read_afterwards = events;
  result.closed = closed;
  result.ended_with_last_chunk = got.size() >= 5 && got.substr(got.size() - 5) == "0\r\n\r\n";
  return result;
}

TEST_F(HostileClientTest, AnEventSubscriberThatNeverReadsCostsBoundedMemoryAndStopsNoWriter) {
  FloodResult result = FloodANeverReadingSubscriber(port_, bbs_->pid(), 1s);
  // Every desire above was acknowledged (checked inside); the events of 400 desired LRPs of
  // 8 KiB are about 8 MiB of SSE text, which the sanitizer build's allocator multiplies.
  EXPECT_LT(result.rss_growth_kib, 256 * 1024);
  ExpectAlive();
}

}  // namespace
}  // namespace bbs::reliability
