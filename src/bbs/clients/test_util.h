#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

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
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  std::string url(std::string_view scheme = "http") const;

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
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
