#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "bbs/base/logger.h"
#include "bbs/clients/fake_peers.h"
#include "bbs/clients/http_client.h"
#include "bbs/clients/test_pki.h"

namespace bbs::clients::testing {

constexpr std::chrono::milliseconds kWait = std::chrono::seconds(10);

// Keeps every log line for assertions.
class CapturingLogSink final : public LogSink {
 public:
  CapturingLogSink() : LogSink(LogLevel::kDebug) {}
  void Write(const std::string& line) override;
  std::vector<std::string> lines() const;
  // True when some line contains every one of `needles`.
  bool Contains(std::initializer_list<std::string_view> needles) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// Records requests and answers from a script (default: 202 with an empty body).
class FakeTransport final : public HttpTransport {
 public:
  HttpResult Send(const HttpRequest& request) override;
  void Script(std::vector<HttpResult> results);
  std::vector<HttpRequest> requests() const;

  static HttpResult Response(int status);
  static HttpResult Error(TransportError error, std::string message = "failed");

 private:
  mutable std::mutex mu_;
  std::vector<HttpRequest> requests_;
  std::deque<HttpResult> script_;
};

// A loopback port bound but not listening: connecting to it is refused.
class RefusingPort {
 public:
  RefusingPort();
  std::string url(std::string_view scheme = "http") const;

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_{io_};  // closed with this object
  uint16_t port_ = 0;
};

// What a client's Create returned, or null after a failed expectation that names the error.
template <typename Pointer>
Pointer CreatedOrNull(Result<Pointer> created) {
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  return created.ok() ? std::move(*created) : nullptr;
}

// A test with one started fake peer (FakeAuctioneer, FakeRep, FakeCallbackReceiver) and a sink
// that keeps the log lines of the client under test.
template <typename Peer>
class FakePeerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fake_.Start().ok()); }
  Logger logger() const { return Logger(sink_, "bbs"); }

  std::shared_ptr<CapturingLogSink> sink_ = std::make_shared<CapturingLogSink>();
  Peer fake_;
};

// One PKI per test process, generated on first use into a temporary directory.
const TestPki& SharedPki();

using ::bbs::http::FindHeader;

// A peer serving https with the shared PKI's server certificate; with `require_client_cert` it
// asks for a client certificate signed by the PKI's CA (mutual TLS).
FakePeerOptions TlsPeer(bool require_client_cert);
// A peer serving https with a certificate from another CA, which clients must reject.
FakePeerOptions UntrustedTlsPeer();

}  // namespace bbs::clients::testing
