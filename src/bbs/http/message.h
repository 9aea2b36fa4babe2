#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bbs::http {

namespace internal {
class Session;
class PostGate;
}  // namespace internal

// One HTTP request as a handler sees it: the whole body has been read.
struct Request {
  std::string method;  // as sent, e.g. "POST"
  std::string path;    // the target without the query string
  std::string body;
  std::string request_id;       // the X-Vcap-Request-Id header value ("" when absent or empty)
  bool has_request_id = false;  // true when X-Vcap-Request-Id was present, even if empty
  std::string last_event_id;    // the Last-Event-ID header value, "" when absent
  std::string content_type;     // the Content-Type header value, "" when absent
  std::string accept;           // the Accept header values joined by ',', "" when absent
  // The subject of the client's certificate ("/CN=rep/O=..."), shared by the connection's
  // requests; null on a plain-HTTP connection.
  std::shared_ptr<const std::string> peer_subject;
};

class StreamWriter;

// The body of a streaming response (server-sent events). The server calls Start() once when
// the response head has been queued, then Stop() exactly once when the connection ends for
// any reason: the peer closed it or a read or write failed, the stream Close()d the writer
// itself and the queue drained, or the server is shutting down (then Stop() comes first and
// the stream may still Write a terminator and Close() the writer; the server waits, bounded,
// for those bytes). Both are called on the connection's I/O thread and must not block.
// A stream whose response is never delivered (the connection was already gone when the
// handler answered, or the server was destroyed) is released without Start() or Stop(),
// so implementations release their resources in the destructor too.
class Stream {
 public:
  virtual ~Stream();
  virtual void Start(std::shared_ptr<StreamWriter> writer) = 0;
  virtual void Stop() = 0;
};

// Writes the raw bytes of a streaming response. Thread-safe: any thread may call any method.
class StreamWriter {
 public:
  virtual ~StreamWriter();
  // Queues `bytes` (already framed by the caller, e.g. its own chunk framing); bytes are written
  // in the order queued. A no-op once closed().
  virtual void Write(std::string bytes) = 0;
  // Nothing more is accepted; the connection closes once the queued bytes are written.
  virtual void Close() = 0;
  // True after Close() or once the connection is gone.
  virtual bool closed() const = 0;
  // Bytes queued by Write() and not yet handed to the socket; lets a producer detect a slow
  // consumer.
  virtual std::size_t queued_bytes() const { return 0; }
};

// The body of a large unary response, pulled by the server in chunks while it writes it, so
// the whole body never exists at once. Its exact length is known up front: the response goes
// out with the same Content-Length and bytes as if `body` held them. The server calls Read() on
// the connection's I/O thread (so it must not block) until size() bytes have been read, and
// releases the source when the body is written or the connection is gone.
class BodySource {
 public:
  virtual ~BodySource();
  // The exact number of bytes Read() yields in total.
  virtual std::size_t size() const = 0;
  // Copies the next min(capacity, bytes left) bytes to `out` and returns how many.
  virtual std::size_t Read(char* out, std::size_t capacity) = 0;
};

// What a handler answers. A unary response is sent with `Content-Type` (omitted when empty),
// `Content-Length` and `headers`, never chunked; the server writes Content-Length, Date and
// Connection itself, so `headers` must not contain them. The body is `body`, or when
// `body_source` is set the bytes it yields (then `body` is ignored). When `stream` is set the
// server writes only the head (status, content type, `headers` as given and Date; no
// Content-Length) and hands the connection to the stream.
struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::shared_ptr<BodySource> body_source;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<Stream> stream;
};

// Delivers a handler's Response to its connection. Copyable; call it exactly once, from any
// thread. Later calls are ignored, and so is a call after the connection or the server is
// gone. A Responder that is never called leaves its connection waiting until server shutdown.
class Responder {
 public:
  // A Responder that passes the response to `fn`: for testing handlers without a server.
  explicit Responder(std::function<void(Response)> fn) : fn_(std::move(fn)) {}

  void operator()(Response response) const;

 private:
  friend class internal::Session;
  Responder(std::weak_ptr<internal::Session> session, std::shared_ptr<internal::PostGate> gate,
            uint64_t sequence)
      : session_(std::move(session)), gate_(std::move(gate)), sequence_(sequence) {}

  std::function<void(Response)> fn_;
  std::weak_ptr<internal::Session> session_;
  std::shared_ptr<internal::PostGate> gate_;
  uint64_t sequence_ = 0;
};

// Handles one request. Runs on a server I/O thread: a handler that may take long should hand
// the work to its own threads and answer through the Responder from there.
using Handler = std::function<void(Request&&, Responder)>;

}  // namespace bbs::http
