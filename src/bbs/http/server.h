#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "bbs/base/clock.h"
#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/http/message.h"
#include "bbs/http/router.h"

namespace bbs::http {

namespace internal {
class ServerImpl;
}  // namespace internal

// Mutual TLS for a listener (api.md §1.1), as PEM file paths: TLS 1.2 (only
// ECDHE-RSA-AES256-GCM-SHA384 and ECDHE-RSA-AES128-GCM-SHA256) to 1.3, HTTP/1.1 without ALPN,
// and a client certificate signed by `ca_file` required from every client.
struct ServerTlsOptions {
  std::string ca_file;    // the CAs client certificates must chain to
  std::string cert_file;  // the server's certificate chain
  std::string key_file;   // its private key

  // TLS is on when any file is set; Start() then fails unless all three are usable.
  bool enabled() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

struct ServerOptions {
  std::string host = "127.0.0.1";          // an IP address or a resolvable name
  uint16_t port = 0;                       // 0 = any free port; read it back with Server::port()
  int threads = 0;                         // I/O threads; 0 = std::thread::hardware_concurrency()
  std::size_t max_body_bytes = 16 << 20;   // larger bodies get 413 and the connection closes
  std::size_t max_header_bytes = 1 << 20;  // larger request heads get 431 and close
  // A request's head and body must arrive within this time after the server starts waiting
  // for it; also the keep-alive idle timeout. The connection closes silently when it passes.
  std::chrono::milliseconds read_timeout = std::chrono::seconds(120);
  // Every write (a unary response, each batch of stream bytes) must finish within this time.
  std::chrono::milliseconds write_timeout = std::chrono::seconds(120);
  // Stop() waits this long for in-flight requests and stream terminators, then closes
  // whatever is left.
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(10);
  // Source of the `Date` header; no Date header when null.
  std::shared_ptr<const Clock> clock;
  // Also logs "serving" and "done" per request at debug level, with the client certificate's
  // subject.
  Logger logger{LogSink::Null(), "http"};
  ServerTlsOptions tls;  // plain HTTP when !tls.enabled()
  // When set, one "request" line per answered request at info level: route, method, path,
  // status, duration (ns), request and response body bytes, client certificate subject.
  std::optional<Logger> access_logger;
};

// An HTTP/1.1 server (keep-alive, plain or mutual TLS) that knows nothing about BBS: it reads each
// request fully, routes it with a Router and writes the handler's Response, unary or streaming.
// Until SetReady(true) every request gets 503 with an empty body. The public methods are
// thread-safe, but Stop() and the destructor must not be called from a handler.
class Server {
 public:
  Server(ServerOptions options, Router router);
  ~Server();  // Stop()s if needed.
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port, starts listening and starts the I/O threads. Fails when the address
  // cannot be resolved or bound, or a TLS file cannot be read or used. REQUIRES: called at most
  // once.
  Status Start();

  // Graceful shutdown: stops accepting, closes idle connections, lets in-flight requests
  // finish (their responses carry `Connection: close`), calls Stream::Stop() on every open
  // stream and waits for the streams to close, all within options.shutdown_timeout; then closes
  // whatever is left and joins the threads. Idempotent.
  void Stop();

  // The readiness gate (initially false): while false every request gets 503.
  void SetReady(bool ready);
  bool ready() const;

  // The bound port. REQUIRES: Start() succeeded.
  uint16_t port() const;

  // Connections currently open (for tests and metrics).
  std::size_t connection_count() const;

 private:
  std::unique_ptr<internal::ServerImpl> impl_;
};

}  // namespace bbs::http
