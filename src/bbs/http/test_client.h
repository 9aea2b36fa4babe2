#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bbs/base/status.h"
#include "bbs/http/header_list.h"

namespace bbs::http {

namespace internal {
class TestClientImpl;
}  // namespace internal

// TLS for a TestClient, as PEM file paths. Verifies the server against `ca_file` (without a
// host name check) and presents `cert_file`/`key_file` when both are set.
struct TestClientTls {
  TestClientTls() = default;
  TestClientTls(std::string ca, std::string cert, std::string key)
      : ca_file(std::move(ca)), cert_file(std::move(cert)), key_file(std::move(key)) {}

  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // The highest TLS version offered (an OpenSSL constant such as TLS1_1_VERSION); 0 = TLS 1.3.
  // Below TLS 1.2 the client also lowers its own security level so it really offers it.
  int max_version = 0;
  std::string tls12_ciphers;  // OpenSSL cipher list for TLS <= 1.2; "" = OpenSSL's default
};

struct TestResponse {
  int status = 0;
  HeaderList headers;  // in the order received
  std::string body;    // chunked bodies arrive de-chunked

  // The first value of header `name` (case-insensitive), or "" when absent.
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

// A small blocking HTTP/1.1 client for tests, talking plain TCP or TLS to 127.0.0.1:port over one
// kept-alive connection (it connects on first use and again after the connection closed).
// Not thread-safe: use one client per thread. Failures come back as a Status: kTimeout when
// the timeout passed, kUnknownError with the reason otherwise.
//
//   TestClient client(server.port());
//   auto response = client.Send("POST", "/v1/ping", body, {{"X-Vcap-Request-Id", "id"}});
//   ASSERT_TRUE(response.ok()) << response.status().ToString();
//   EXPECT_EQ(response->status, 200);
//
// Raw mode, for byte-exact checks such as the chunk framing of an event stream:
//
//   client.StartRequest("POST", "/v1/events/tasks.r1");
//   auto head = client.ReadUntil("\r\n\r\n");   // the response head
//   auto more = client.ReadSome();              // the next bytes, as they arrive
//   auto rest = client.ReadToEof();             // everything up to the server's close
class TestClient {
 public:
  explicit TestClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Over TLS when `tls` is set (a TLS failure comes back from the first Send/Write/Read).
  TestClient(uint16_t port, const std::optional<TestClientTls>& tls,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  // Sends one request and reads the whole response. Adds `Host` and `Content-Length` (also
  // for an empty body) unless `headers` has them. Closes the connection when the response
  // says `Connection: close`.
  Result<TestResponse> Send(std::string_view method, std::string_view path,
                            std::string_view body = {}, const HeaderList& headers = {});

  // Raw mode. StartRequest writes a request formatted as Send() would and reads nothing;
  // Write sends bytes as they are.
  Status StartRequest(std::string_view method, std::string_view path, std::string_view body = {},
                      const HeaderList& headers = {});
  Status Write(std::string_view bytes);
  // Write(bytes), then ReadResponse(request_method).
  Result<TestResponse> SendRaw(std::string_view bytes, std::string_view request_method = "POST");
  // Reads one response (after StartRequest/Write). Pass the request's method so that a
  // response to HEAD is read without a body. 1xx responses are skipped.
  Result<TestResponse> ReadResponse(std::string_view request_method = "POST");
  // The bytes that arrive next (at least one), or "" once the server has closed the connection.
  Result<std::string> ReadSome();
  Result<std::string> ReadSome(std::chrono::milliseconds timeout);
  // Reads until the received bytes contain `needle`; returns them up to and including it and
  // keeps the rest for the next read. Fails at end of stream.
  Result<std::string> ReadUntil(std::string_view needle);
  Result<std::string> ReadUntil(std::string_view needle, std::chrono::milliseconds timeout);
  // Everything until the server closes the connection.
  Result<std::string> ReadToEof();
  Result<std::string> ReadToEof(std::chrono::milliseconds timeout);

  Status Connect();  // done implicitly by Send/StartRequest/Write
  void Close();
  bool connected() const;
  // How many connections this client has opened so far (1 when keep-alive held).
  int connections() const;

  static std::string FormatRequest(std::string_view method, std::string_view path,
                                   std::string_view body, const HeaderList& headers, uint16_t port);

 private:
  std::unique_ptr<internal::TestClientImpl> impl_;
};

}  // namespace bbs::http
