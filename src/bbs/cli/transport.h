#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bbs/base/status.h"
#include "bbs/base/url.h"

namespace bbs::cli {

// The error code bbsctl uses for failures that are not BBS errors (connection refused, TLS
// handshake, malformed URL): cfdot reports those with exit code 5, BBS errors with 4.
inline constexpr ErrorCode kTransportError = static_cast<ErrorCode>(-1);

// TLS settings of a connection: mutual TLS when cert_file/key_file are set; the server is
// verified against ca_file (and its name) unless skip_verify.
struct TlsOptions {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool skip_verify = false;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

// One server-sent event (api.md §4.4).
struct SseEvent {
  std::string id;
  std::string name;
  std::string data;
};

// A response body read as a chunked SSE stream. Not thread-safe.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // The next event; nullopt at the clean end of the stream (the last chunk); an error when the
  // connection broke. Blocks until an event or the end arrives.
  virtual Result<std::optional<SseEvent>> Next() = 0;
  // Unblocks a Next() in progress on another thread (shuts the socket down).
  virtual void Interrupt() = 0;
};

// An HTTP/1.1 client (Boost.Beast, plain or TLS): one connection per request, which is all a
// command-line tool needs. Requests go to `base` with the route appended to its path.
// `timeout` bounds connecting and each request (0 = none); streams are never timed out once
// open. Thread-safe (holds no connection).
class HttpClient {
 public:
  HttpClient(url::Url base, TlsOptions tls, std::chrono::milliseconds timeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method` to the base URL plus `path` ("" = the base URL itself, query included) with
  // `body` and reads the whole response. Errors: kTimeout when the
  // deadline passed (Go's client reports a models.Error of type Timeout), kTransportError for
  // anything else, with Go's wording ("Post \"url\": dial tcp host:port: connect: connection
  // refused").
  Result<HttpResponse> Request(const std::string& method, const std::string& path,
                               std::string_view body, const std::string& content_type = "");
  // Opens an SSE stream: answers the response on a non-200 status (stream null).
  struct Opened {
    HttpResponse head;  // body empty on 200
    std::unique_ptr<EventStream> stream;
  };
  Result<Opened> OpenStream(const std::string& method, const std::string& path,
                            std::string_view body, const std::string& last_event_id);

  const url::Url& base() const { return base_; }
  const TlsOptions& tls() const { return tls_options_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  // The URL a request for `path` goes to.
  url::Url Target(const std::string& path) const;

 private:
  struct Tls;
  url::Url base_;
  TlsOptions tls_options_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Tls> tls_;
};

}  // namespace bbs::cli
