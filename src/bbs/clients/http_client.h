#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bbs/base/status.h"
#include "bbs/base/url.h"
#include "bbs/http/header_list.h"
#include "bbs/http/status_text.h"
#include "bbs/metrics/bbs_metrics.h"

namespace bbs::clients {

namespace internal {
class HttpClientImpl;
}  // namespace internal

// TLS material for outbound HTTPS, as PEM file paths. TLS 1.2 (ECDHE-RSA-AES-GCM suites only)
// to 1.3, the server's certificate checked against the URL host.
struct TlsOptions {
  std::string ca_file;    // the only trusted CAs; empty = the system roots
  std::string cert_file;  // client certificate chain, presented when the server asks
  std::string key_file;   // its private key

  // True when any file is set (upstream's "secure client").
  bool any() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

// URLs live in base/url; these names keep the clients' spelling.
using Url = ::bbs::url::Url;
using ::bbs::url::EscapePathSegment;
using ::bbs::url::ParseUrl;
using ::bbs::url::UnescapePath;
// Go's http.StatusText, shared with the server.
using ::bbs::http::StatusText;

// Upstream's error text for a non-success status: "http error: status code 500 (Internal Server
// Error)".
std::string HttpStatusError(int status);

using ::bbs::http::HeaderList;

struct HttpRequest {
  std::string method;  // "POST", "PUT", ...
  std::string url;     // absolute
  HeaderList headers;  // besides Host, User-Agent and Content-Length, which the transport adds
  std::string body;
};

struct HttpResponse {
  int status = 0;
  HeaderList headers;  // in the order received
  std::string body;
  // The first value of header `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

// Why a request got no HTTP response.
enum class TransportError {
  kNone,
  kInvalidUrl,        // the URL (or a redirect's Location) is not a usable http(s) URL
  kResolve,           // the host name did not resolve
  kConnect,           // refused, unreachable, ...
  kTls,               // handshake or certificate failure, a TLS alert
  kTimeout,           // the request's deadline passed (connect, TLS, write or read)
  kConnectionClosed,  // the peer closed or reset the connection before the whole response
  kProtocol,          // a malformed or oversized response, too many redirects
  kShutdown,          // the transport was shut down
};

const char* TransportErrorName(TransportError error);

// What one Send() produced: an HTTP response, or a transport error with a message such as
// `POST "http://127.0.0.1:9/v1/lrps": connect: Connection refused`.
struct HttpResult {
  TransportError error = TransportError::kNone;
  std::string message;
  HttpResponse response;

  bool ok() const { return error == TransportError::kNone; }
};

// What one Send() produced, as a metrics outcome: the transport succeeded with a 2xx status.
inline bool Succeeded(const HttpResult& result) {
  return result.ok() && result.response.status >= 200 && result.response.status < 300;
}

// Sends HTTP requests. The clients take one, so tests can substitute a recording fake for the
// network. Implementations are thread-safe.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends `request` and returns the final response (redirects followed) or the transport error.
  // Blocks for at most the transport's timeout (per redirect hop chain, not per hop).
  virtual HttpResult Send(const HttpRequest& request) = 0;
  // Aborts requests in flight and fails later ones with kShutdown. Idempotent.
  virtual void Shutdown() {}
};

// transport.Send(request), recorded on `metrics` (when not null) as one outbound call to `peer`
// with its duration and outcome (Succeeded).
HttpResult SendObserved(HttpTransport& transport, const HttpRequest& request,
                        metrics::BbsMetrics* metrics, metrics::OutboundPeer peer);

// Looks host names up for HttpClient. A lookup cannot be aborted (getaddrinfo), so the client
// races it against the request's deadline and ignores an answer that comes too late.
// Implementations are thread-safe.
class HostResolver {
 public:
  // `error` is "" on success, else the lookup's error text ("Host not found ..."); `addresses`
  // are IP literals.
  using Done = std::function<void(std::string error, std::vector<std::string> addresses)>;
  virtual ~HostResolver() = default;
  // Starts looking `host` up and returns; calls `done` once, on any thread, possibly after the
  // request that asked has given up.
  virtual void Resolve(const std::string& host, Done done) = 0;
};

// The process-wide resolver: Asio's async_resolve (getaddrinfo on Asio's resolver threads).
std::shared_ptr<HostResolver> AsioHostResolver();

struct HttpClientOptions {
  // Whole-request deadline: connect, TLS, write, headers and body. Zero = none (upstream's
  // behaviour when communication_timeout is absent).
  std::chrono::milliseconds timeout = std::chrono::seconds(10);
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  TlsOptions tls;             // for https:// URLs
  int max_idle_per_host = 2;  // kept-alive connections kept per scheme://host:port
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(90);
  int max_redirects = 10;                    // 301/302/303 become a body-less GET, 307/308 resend
  std::size_t max_response_bytes = 4 << 20;  // larger bodies: kProtocol
  std::string user_agent = "Go-http-client/1.1";
  // TLS session resumption (Go's ClientSessionCache): the last session of up to this many
  // hosts is kept and offered on the next connection to the same host. 0 = Go's default size
  // (64); negative = no resumption.
  int tls_session_cache_size = -1;
  // Host-name lookups; null = AsioHostResolver(). IP literals are never looked up.
  std::shared_ptr<HostResolver> resolver;
};

// A small blocking HTTP/1.1 client on Boost.Beast: http:// and https://, keep-alive
// connection reuse per host, an overall deadline per request, Go's redirect rules. Each
// connection runs its own private io_context on the calling thread; no lock is held during
// network I/O. A request that fails on a reused connection before any response byte arrived is
// retried once on a fresh connection (the peer closed the idle connection). Thread-safe.
class HttpClient final : public HttpTransport {
 public:
  // Fails when a TLS file cannot be read or used.
  static Result<std::shared_ptr<HttpClient>> Create(HttpClientOptions options);
  ~HttpClient() override;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult Send(const HttpRequest& request) override;
  void Shutdown() override;

  // Connections opened so far (tests check keep-alive reuse with it).
  int connections_opened() const;
  // Idle connections currently pooled.
  int idle_connections() const;
  // TLS handshakes that resumed a cached session.
  int tls_sessions_resumed() const;

 private:
  explicit HttpClient(std::unique_ptr<internal::HttpClientImpl> impl);
  std::unique_ptr<internal::HttpClientImpl> impl_;
};

}  // namespace bbs::clients
