#include "bbs/clients/test_util.h"

#include <strings.h>
#include <cstdlib>

#include <gtest/gtest.h>

namespace bbs::clients::testing {

void CapturingLogSink::Write(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  lines_.push_back(line);
}

std::vector<std::string> CapturingLogSink::lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

bool CapturingLogSink::Contains(std::initializer_list<std::string_view> needles) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& line : lines_) {
    bool all = true;
    for (std::string_view needle : needles) all = all && line.find(needle) != std::string::npos;
    if (all) return true;
  }
  return false;
}

HttpResult FakeTransport::Send(const HttpRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.push_back(request);
  if (script_.empty()) return Response(202);
  HttpResult result = std::move(script_.front());
  script_.pop_front();
  return result;
}

void FakeTransport::Script(std::vector<HttpResult> results) {
  std::lock_guard<std::mutex> lock(mu_);
  for (HttpResult& result : results) script_.push_back(std::move(result));
}

std::vector<HttpRequest> FakeTransport::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

HttpResult FakeTransport::Response(int status) {
  HttpResult result;
  result.response.status = status;
  return result;
}

HttpResult FakeTransport::Error(TransportError error, std::string message) {
  HttpResult result;
  result.error = error;
  result.message = std::move(message);
  return result;
}

RefusingPort::RefusingPort() {
  using boost::asio::ip::tcp;
  boost::system::error_code ec;
  socket_.open(tcp::v4(), ec);
  if (!ec) socket_.bind(tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0), ec);
  if (!ec) port_ = socket_.local_endpoint(ec).port();
  if (ec) ADD_FAILURE() << "cannot reserve a loopback port: " << ec.message();
}

std::string RefusingPort::url(std::string_view scheme) const {
  return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_);
}

const TestPki& SharedPki() {
  static const TestPki pki = [] {
    std::string pattern = ::testing::TempDir() + "bbs_clients_pki_XXXXXX";
    char* directory = ::mkdtemp(pattern.data());
    if (directory == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return TestPki{};
    }
    auto created = TestPki::Create(directory);
    if (!created.ok()) {
      ADD_FAILURE() << created.status().ToString();
      return TestPki{};
    }
    return *created;
  }();
  return pki;
}

FakePeerOptions TlsPeer(bool require_client_cert) {
  const TestPki& pki = SharedPki();
  FakePeerOptions options;
  options.cert_file = pki.server_cert_file;
  options.key_file = pki.server_key_file;
  if (require_client_cert) options.client_ca_file = pki.ca_file;
  return options;
}

FakePeerOptions UntrustedTlsPeer() {
  const TestPki& pki = SharedPki();
  FakePeerOptions options;
  options.cert_file = pki.untrusted_cert_file;
  options.key_file = pki.untrusted_key_file;
  return options;
}

}  // namespace bbs::clients::testing
