#include "bbs/http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <exception>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include "bbs/http/asio.h"
#include "bbs/http/status_text.h"

namespace bbs::http {
namespace internal {
namespace {

using namespace bbs::http::asio_names;
using SteadyClock = std::chrono::steady_clock;

using Strand = asio::strand<asio::io_context::executor_type>;
using Socket = asio::basic_stream_socket<tcp, Strand>;
using Acceptor = asio::basic_socket_acceptor<tcp, Strand>;
using Timer = asio::basic_waitable_timer<SteadyClock, asio::wait_traits<SteadyClock>, Strand>;

constexpr std::string_view k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";
// How long a connection we close keeps draining what the peer still sends, so that the kernel
// does not answer unread bytes with a reset that could destroy our last response in flight.
constexpr std::chrono::milliseconds kLingerTimeout(1000);
constexpr std::chrono::milliseconds kAcceptRetryDelay(50);
constexpr std::chrono::milliseconds kForceCloseTimeout(2000);
// The two TLS 1.2 suites upstream allows (api.md §1.1); TLS 1.3 keeps OpenSSL's defaults.
constexpr const char* kTls12Ciphers = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256";
// Over TLS a response body up to this size goes out in the same record as its head.
constexpr size_t kTlsCoalesceBytes = 16 << 10;
// A streamed body (Response::body_source) is read and written in chunks of this size, one
// reused buffer per connection. Each chunk costs a trip through the I/O threads' queue, which
// is long when they are busy (a full 250k list is 77-113 MB): 1 MiB keeps those trips under a
// hundred per list while a chunk's copy holds the I/O thread well under a millisecond.
constexpr size_t kBodyChunkBytes = 1 << 20;

// A connection's byte stream: the accepted socket, or a TLS stream over it. Satisfies Asio's
// and Beast's AsyncReadStream/AsyncWriteStream for completion-handler callbacks.
class Connection {
 public:
  using executor_type = Strand;

  explicit Connection(Socket socket) : plain_(std::move(socket)) {}

  void WrapInTls(ssl::context& context) {
    tls_.emplace(std::move(*plain_), context);
    plain_.reset();
  }
  bool is_tls() const { return tls_.has_value(); }
  ssl::stream<Socket>& tls() { return *tls_; }
  Socket& lowest() { return tls_ ? tls_->next_layer() : *plain_; }
  executor_type get_executor() { return lowest().get_executor(); }

  template <typename Buffers, typename Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_read_some(buffers, std::forward<Handler>(handler));
    }
  }

  template <typename Buffers, typename Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_write_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_write_some(buffers, std::forward<Handler>(handler));
    }
  }

 private:
  std::optional<Socket> plain_;
  std::optional<ssl::stream<Socket>> tls_;
};

Result<std::unique_ptr<ssl::context>> MakeServerTlsContext(const ServerTlsOptions& tls) {
  auto fail = [](const std::string& what, const std::string& detail) {
    return Status(ErrorCode::kUnknownError, "tls: " + what + ": " + detail);
  };
  if (tls.ca_file.empty() || tls.cert_file.empty() || tls.key_file.empty()) {
    return Status(ErrorCode::kUnknownError,
                  "tls: ca_file, cert_file and key_file must all be set for mutual TLS");
  }
  std::unique_ptr<ssl::context> context;
  try {
    context = std::make_unique<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    return fail("creating context", e.what());
  }
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return fail("cipher suites", "not supported by this OpenSSL");
  }
  IoError ec;
  context->use_certificate_chain_file(tls.cert_file, ec);
  if (ec) return fail("loading certificate " + tls.cert_file, ec.message());
  context->use_private_key_file(tls.key_file, ssl::context::pem, ec);
  if (ec) return fail("loading key " + tls.key_file, ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail("key " + tls.key_file, "does not match certificate " + tls.cert_file);
  }
  context->load_verify_file(tls.ca_file, ec);
  if (ec) return fail("loading CA file " + tls.ca_file, ec.message());
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.ca_file.c_str())) {
    SSL_CTX_set_client_CA_list(native, names);
  }
  context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  if (ec) return fail("verify mode", ec.message());
  // Without a session id context OpenSSL refuses to resume sessions of verified clients.
  static constexpr unsigned char kSessionContext[] = "bbs";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  return context;
}

// Parses one request, keeping only what the server uses. Unlike Beast's request_parser it does
// not store every field in a basic_fields, which throws (out of the I/O loop, leaving the
// connection unanswered) on a field value of 64 KiB or more: here any field fits as long as
// the whole head stays within the header limit.
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  bhttp::verb method() const { return method_; }
  const std::string& method_string() const { return method_string_; }
  const std::string& target() const { return target_; }
  int version() const { return version_; }
  bool expect_continue() const { return expect_continue_; }
  bool has_request_id() const { return has_request_id_; }
  std::string& request_id() { return request_id_; }
  std::string& last_event_id() { return last_event_id_; }
  std::string& content_type() { return content_type_; }
  std::string& accept() { return accept_; }
  std::string& body() { return body_; }

 private:
  void on_request_impl(bhttp::verb method, beast::string_view method_str, beast::string_view target,
                       int version, IoError&) override {
    method_ = method;
    method_string_.assign(method_str.data(), method_str.size());
    target_.assign(target.data(), target.size());
    version_ = version;
  }
  void on_response_impl(int, beast::string_view, int, IoError&) override {}
  void on_field_impl(bhttp::field name, beast::string_view name_string, beast::string_view value,
                     IoError&) override {
    if (name == bhttp::field::expect) {
      expect_continue_ = beast::iequals(value, "100-continue");
    } else if (name == bhttp::field::content_type) {
      content_type_.assign(value.data(), value.size());
    } else if (name == bhttp::field::accept) {
      if (!accept_.empty()) accept_ += ',';
      accept_.append(value.data(), value.size());
    } else if (name != bhttp::field::unknown) {
      return;
    } else if (!has_request_id_ && beast::iequals(name_string, "X-Vcap-Request-Id")) {
      has_request_id_ = true;
      request_id_.assign(value.data(), value.size());
    } else if (!has_last_event_id_ && beast::iequals(name_string, "Last-Event-ID")) {
      has_last_event_id_ = true;
      last_event_id_.assign(value.data(), value.size());
    }
  }
  void on_header_impl(IoError&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, IoError&) override {
    if (content_length) body_.reserve(static_cast<size_t>(*content_length));
  }
  size_t on_body_impl(beast::string_view body, IoError&) override {
    body_.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, IoError&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, IoError&) override {
    body_.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(IoError&) override {}

  bhttp::verb method_ = bhttp::verb::unknown;
  std::string method_string_;
  std::string target_;
  int version_ = 11;
  bool expect_continue_ = false;
  bool has_request_id_ = false;
  bool has_last_event_id_ = false;
  std::string request_id_;
  std::string last_event_id_;
  std::string content_type_;
  std::string accept_;
  std::string body_;
};

std::string PeerSubject(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return "";
  char buffer[512];
  const char* text = X509_NAME_oneline(X509_get_subject_name(cert), buffer, sizeof(buffer));
  return text == nullptr ? "" : text;
}

void AppendNumber(std::string& out, uint64_t value) {
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, result.ptr);
}

void AppendStatusLine(std::string& out, int status) {
  out += "HTTP/1.1 ";
  AppendNumber(out, static_cast<uint64_t>(status));
  out += ' ';
  std::string_view reason = StatusText(status);
  if (reason.empty()) {
    out += "status code ";  // what Go writes for codes it has no text for
    AppendNumber(out, static_cast<uint64_t>(status));
  } else {
    out.append(reason);
  }
  out += "\r\n";
}

void AppendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += ": ";
  out.append(value);
  out += "\r\n";
}

// "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n", formatted at most once a second per thread.
void AppendDate(std::string& out, const Clock& clock) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local int64_t cached_second = std::numeric_limits<int64_t>::min();
  thread_local char cached[128];
  thread_local size_t cached_size = 0;
  int64_t second = clock.NowNanos() / kNanosPerSecond;
  if (second != cached_second) {
    std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    gmtime_r(&t, &tm);
    int n = std::snprintf(cached, sizeof(cached), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                          kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900,
                          tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_size = n > 0 ? static_cast<size_t>(n) : 0;
    cached_second = second;
  }
  out.append(cached, cached_size);
}

const boost::system::error_category& HttpCategory() {
  static const boost::system::error_category& category =
      bhttp::make_error_code(bhttp::error::end_of_stream).category();
  return category;
}

}  // namespace

class Session;
class StreamWriterImpl;

// Lets threads outside the server reach a connection only while its io_context exists: the
// server closes the gate (under the mutex) before it destroys the io_context, and nothing
// holds a strong reference to a session outside the gate's lock or the io_context.
class PostGate {
 public:
  // Runs fn(session) on the session's strand. False when the session or the server is gone.
  template <typename Fn>
  bool Post(const std::weak_ptr<Session>& weak, Fn fn);

  // Delivers a handler's response: inline when already on the session's strand.
  void Deliver(const std::weak_ptr<Session>& weak, uint64_t sequence, Response response);

  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_.store(false, std::memory_order_release);
  }

 private:
  std::mutex mu_;
  std::atomic<bool> open_{true};  // written under mu_
};

// The gate of the server whose I/O thread this is (null on any other thread). Its io_context
// cannot go away while one of its threads runs, so such a thread needs no lock to reach a
// session.
thread_local const PostGate* t_io_thread_gate = nullptr;

class ServerImpl {
 public:
  ServerImpl(ServerOptions options, Router router);
  ~ServerImpl();

  Status Start();
  void Stop();
  void SetReady(bool ready) { ready_.store(ready, std::memory_order_release); }
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  uint16_t port() const { return port_; }
  size_t connection_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sessions_.size();
  }

  const ServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }
  const Logger& logger() const { return log_; }
  const std::shared_ptr<PostGate>& gate() const { return gate_; }
  ssl::context* tls_context() const { return tls_context_.get(); }
  void Unregister(Session* session);

 private:
  void DoAccept();
  void OnAccept(const IoError& ec, Socket socket);
  void RunThread();

  const ServerOptions options_;
  const Router router_;
  const Logger log_;
  std::unique_ptr<ssl::context> tls_context_;  // null for plain HTTP; outlives every session
  // Declared before everything that uses it, so destroyed after all of them.
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  Acceptor acceptor_;
  Timer accept_retry_;
  std::vector<std::thread> threads_;
  std::shared_ptr<PostGate> gate_ = std::make_shared<PostGate>();
  std::atomic<bool> ready_{false};
  std::atomic<bool> accepting_{false};
  uint16_t port_ = 0;
  bool started_ = false;

  std::mutex stop_mu_;  // serialises Stop()
  bool stopped_ = false;

  mutable std::mutex mu_;
  std::condition_variable drained_;
  bool stopping_ = false;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;
};

// The write side of a streaming response. Write() and Close() queue under a mutex and nudge the
// session's strand once; the session takes the whole queue and writes it with one gather write.
class StreamWriterImpl final : public StreamWriter {
 public:
  StreamWriterImpl(std::weak_ptr<Session> session, std::shared_ptr<PostGate> gate)
      : session_(std::move(session)), gate_(std::move(gate)) {}

  void Write(std::string bytes) override {
    if (bytes.empty()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (dead_ || close_requested_) return;
      queued_.fetch_add(bytes.size(), std::memory_order_relaxed);
      pending_.push_back(std::move(bytes));
      if (flush_due_) return;
      flush_due_ = true;
    }
    Nudge();
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (dead_ || close_requested_) return;
      close_requested_ = true;
      if (flush_due_) return;
      flush_due_ = true;
    }
    Nudge();
  }

  bool closed() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return dead_ || close_requested_;
  }

  size_t queued_bytes() const override { return queued_.load(std::memory_order_relaxed); }

  // Session side, on its strand. Moves the queue into *out (which must be empty) and tells
  // whether Close() was called.
  bool Take(std::vector<std::string>* out) {
    std::lock_guard<std::mutex> lock(mu_);
    out->swap(pending_);
    flush_due_ = false;
    return close_requested_;
  }
  void Written(size_t bytes) { queued_.fetch_sub(bytes, std::memory_order_relaxed); }
  void MarkDead() {
    std::vector<std::string> dropped;
    std::lock_guard<std::mutex> lock(mu_);
    dead_ = true;
    dropped.swap(pending_);
    queued_.store(0, std::memory_order_relaxed);
  }

 private:
  void Nudge();

  mutable std::mutex mu_;
  std::vector<std::string> pending_;
  bool close_requested_ = false;
  bool dead_ = false;
  // True while a flush is posted or a write is in flight whose completion flushes again.
  bool flush_due_ = false;
  std::atomic<size_t> queued_{0};
  const std::weak_ptr<Session> session_;
  const std::shared_ptr<PostGate> gate_;
};

// One connection. Everything except construction runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ServerImpl* server, Socket socket)
      : server_(server),
        options_(server->options()),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()) {
    if (server->tls_context() != nullptr) socket_.WrapInTls(*server->tls_context());
  }

  Strand executor() { return socket_.get_executor(); }
  bool OnStrand() { return socket_.get_executor().running_in_this_thread(); }

  void Begin() {
    if (!socket_.is_tls()) {
      DoRead();
      return;
    }
    ArmDeadline(options_.read_timeout);
    socket_.tls().async_handshake(
        ssl::stream_base::server,
        [self = shared_from_this()](const IoError& ec) { self->OnHandshake(ec); });
  }

  // The server is stopping: close if idle, otherwise finish the request in flight and close;
  // ask an open stream to end.
  void Shutdown() {
    if (closed_) return;
    stopping_ = true;
    switch (state_) {
      case State::kReading:
        if (!parser_ || (!parser_->got_some() && buffer_.size() == 0)) Close();
        break;
      case State::kStreaming:
        StopStream();
        break;
      case State::kLingering:
        Close();
        break;
      default:
        break;
    }
  }

  void ForceClose() { Close(); }

  void Deliver(uint64_t sequence, Response response) {
    if (closed_ || state_ != State::kHandling || sequence != sequence_) return;
    if (response.stream) {
      StartStreaming(std::move(response));
    } else {
      WriteResponse(std::move(response));
    }
  }

  void FlushStream() {
    if (closed_ || state_ != State::kStreaming || writing_) return;
    bool close = writer_->Take(&inflight_);
    if (inflight_.empty()) {
      if (close) Linger();
      return;
    }
    inflight_buffers_.clear();
    inflight_bytes_ = 0;
    for (const std::string& bytes : inflight_) inflight_bytes_ += bytes.size();
    if (socket_.is_tls() && inflight_.size() > 1) {
      // A TLS stream writes one buffer per record: gather the batch into one.
      std::string joined;
      joined.reserve(inflight_bytes_);
      for (const std::string& bytes : inflight_) joined += bytes;
      inflight_.clear();
      inflight_.push_back(std::move(joined));
    }
    for (const std::string& bytes : inflight_) {
      inflight_buffers_.emplace_back(bytes.data(), bytes.size());
    }
    writing_ = true;
    ArmDeadline(options_.write_timeout);
    asio::async_write(
        socket_, inflight_buffers_,
        [self = shared_from_this()](const IoError& ec, size_t) { self->OnStreamWritten(ec); });
  }

 private:
  enum class State { kReading, kHandling, kWriting, kStreaming, kLingering, kClosed };

  std::string PeerText() const { return peer_subject_ ? *peer_subject_ : std::string(); }

  // The "done" debug line and the access log line of the request just answered (for a stream:
  // when its head is queued).
  void TraceDone(std::string_view error) {
    tracing_ = false;
    const int64_t nanos =
        std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - trace_start_)
            .count();
    if (server_->logger().DebugEnabled()) {
      nlohmann::json data = {{"route", trace_route_},
                             {"status", trace_status_},
                             {"duration", nanos},
                             {"peer", PeerText()}};
      if (!error.empty()) data["error"] = std::string(error);
      server_->logger().Debug("done", std::move(data));
    }
    if (options_.access_logger) {
      options_.access_logger->Info("request", {{"route", trace_route_},
                                               {"method", trace_method_},
                                               {"path", trace_path_},
                                               {"status", trace_status_},
                                               {"duration", nanos},
                                               {"request_bytes", trace_request_bytes_},
                                               {"response_bytes", trace_response_bytes_},
                                               {"peer", PeerText()}});
    }
  }

  void OnHandshake(const IoError& ec) {
    if (closed_) return;
    ClearDeadline();
    if (ec) {
      if (server_->logger().DebugEnabled()) {
        server_->logger().Debug("tls-handshake-failed", {{"error", ec.message()}});
      }
      Close();
      return;
    }
    peer_subject_ = std::make_shared<const std::string>(PeerSubject(socket_.tls().native_handle()));
    DoRead();
  }

  void DoRead() {
    if (stopping_) {
      Close();
      return;
    }
    state_ = State::kReading;
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(options_.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    ArmDeadline(options_.read_timeout);
    bhttp::async_read_header(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](const IoError& ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(const IoError& ec) {
    if (closed_) return;
    if (ec) {
      OnReadError(ec);
      return;
    }
    if (!parser_->is_done() && parser_->expect_continue()) {
      asio::async_write(socket_, asio::buffer(k100Continue.data(), k100Continue.size()),
                        [self = shared_from_this()](const IoError& ec, size_t) {
                          if (self->closed_) return;
                          if (ec) {
                            self->Close();
                          } else {
                            self->ReadBody();
                          }
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) {
      OnRequest();
      return;
    }
    bhttp::async_read(socket_, buffer_, *parser_,
                      [self = shared_from_this()](const IoError& ec, size_t) {
                        if (self->closed_) return;
                        if (ec) {
                          self->OnReadError(ec);
                        } else {
                          self->OnRequest();
                        }
                      });
  }

  void OnReadError(const IoError& ec) {
    ClearDeadline();
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
        ec.category() != HttpCategory()) {
      Close();  // the peer went away or the socket failed: nobody to answer
      return;
    }
    if (server_->logger().DebugEnabled()) {
      server_->logger().Debug("bad-request", {{"error", ec.message()}});
    }
    if (ec == bhttp::error::body_limit) {
      SendErrorAndClose(413, "413 Request Entity Too Large");
    } else if (ec == bhttp::error::header_limit) {
      SendErrorAndClose(431, "431 Request Header Fields Too Large");
    } else {
      SendErrorAndClose(400, "400 Bad Request");
    }
  }

  void SendErrorAndClose(int status, std::string body) {
    tracing_ = options_.access_logger.has_value() || server_->logger().DebugEnabled();
    if (tracing_) {
      trace_start_ = SteadyClock::now();
      trace_method_.clear();
      trace_path_.clear();
      trace_route_.clear();
      trace_request_bytes_ = 0;
    }
    state_ = State::kHandling;
    keep_alive_ = false;
    is_head_ = false;
    Response response;
    response.status = status;
    response.content_type = "text/plain; charset=utf-8";
    response.body = std::move(body);
    WriteResponse(std::move(response));
  }

  void OnRequest() {
    ClearDeadline();
    RequestParser& parsed = *parser_;
    keep_alive_ = parsed.keep_alive();
    http10_ = parsed.version() < 11;
    is_head_ = parsed.method() == bhttp::verb::head;

    Request request;
    request.method = parsed.method_string();
    const std::string& target = parsed.target();
    size_t query = target.find('?');
    request.path.assign(target, 0, query);
    request.body = std::move(parsed.body());
    tracing_ = options_.access_logger.has_value() || server_->logger().DebugEnabled();
    if (tracing_) {
      trace_start_ = SteadyClock::now();
      trace_method_ = request.method;
      trace_path_ = request.path;
      trace_route_.clear();
      trace_request_bytes_ = request.body.size();
    }
    request.has_request_id = parsed.has_request_id();
    request.request_id = std::move(parsed.request_id());
    request.last_event_id = std::move(parsed.last_event_id());
    request.content_type = std::move(parsed.content_type());
    request.accept = std::move(parsed.accept());
    request.peer_subject = peer_subject_;
    parser_.reset();

    state_ = State::kHandling;
    const uint64_t sequence = ++sequence_;
    if (!server_->ready()) {
      Response unavailable;
      unavailable.status = 503;
      Deliver(sequence, std::move(unavailable));
      return;
    }
    Response miss;
    const Route* route = server_->router().Find(request.method, request.path, &miss);
    if (route == nullptr) {
      Deliver(sequence, std::move(miss));
      return;
    }
    if (tracing_) {
      trace_route_ = route->name;
      if (server_->logger().DebugEnabled()) {
        server_->logger().Debug("serving", {{"route", trace_route_},
                                            {"method", trace_method_},
                                            {"path", trace_path_},
                                            {"peer", PeerText()}});
      }
    }
    try {
      route->handler(std::move(request), Responder(weak_from_this(), server_->gate(), sequence));
    } catch (const std::exception& e) {
      server_->logger().Error("handler-threw", e.what(), {{"route", route->name}});
      if (state_ == State::kHandling && sequence == sequence_) Close();
    } catch (...) {
      server_->logger().Error("handler-threw", "unknown exception", {{"route", route->name}});
      if (state_ == State::kHandling && sequence == sequence_) Close();
    }
  }

  void WriteResponse(Response response) {
    source_ = std::move(response.body_source);
    const size_t body_size = source_ ? source_->size() : response.body.size();
    if (tracing_) {
      trace_status_ = response.status;
      trace_response_bytes_ = body_size;
    }
    close_after_ = !keep_alive_ || stopping_;
    head_.clear();
    AppendStatusLine(head_, response.status);
    if (!response.content_type.empty()) AppendHeader(head_, "Content-Type", response.content_type);
    head_ += "Content-Length: ";
    AppendNumber(head_, body_size);
    head_ += "\r\n";
    for (const auto& [name, value] : response.headers) AppendHeader(head_, name, value);
    if (options_.clock) AppendDate(head_, *options_.clock);
    if (close_after_) {
      head_ += "Connection: close\r\n";
    } else if (http10_) {
      head_ += "Connection: keep-alive\r\n";
    }
    head_ += "\r\n";
    asio::const_buffer body;
    if (source_) {
      source_left_ = is_head_ ? 0 : body_size;
      if (is_head_) source_.reset();
      // The head goes out with the first chunk.
      if (source_left_ > 0 && !FillChunk()) return;
      body = asio::const_buffer(chunk_.get(), chunk_size_);
    } else {
      body_ = std::move(response.body);
      if (socket_.is_tls() && body_.size() <= kTlsCoalesceBytes) {
        // One TLS record (and one socket write) instead of two.
        if (!is_head_) head_ += body_;
        body_.clear();
      }
      body = asio::const_buffer(body_.data(), is_head_ ? 0 : body_.size());
    }

    state_ = State::kWriting;
    ArmDeadline(options_.write_timeout);
    std::array<asio::const_buffer, 2> buffers{asio::const_buffer(head_.data(), head_.size()), body};
    asio::async_write(socket_, buffers, [self = shared_from_this()](const IoError& ec, size_t) {
      self->OnWritten(ec);
    });
  }

  // Reads the next chunk of a streamed body into chunk_ (one buffer for the whole body). False
  // (and the connection closed) when the source yields nothing although bytes are left: the
  // length promised by Content-Length cannot be kept.
  bool FillChunk() {
    const size_t want = std::min(source_left_, kBodyChunkBytes);
    if (!chunk_ || chunk_capacity_ < want) {
      chunk_ = std::make_unique_for_overwrite<char[]>(want);
      chunk_capacity_ = want;
    }
    chunk_size_ = source_->Read(chunk_.get(), want);
    if (chunk_size_ == 0 || chunk_size_ > want) {
      server_->logger().Error("body-source-short", "a body source yielded the wrong byte count",
                              {{"bytes_left", source_left_}});
      Close();
      return false;
    }
    source_left_ -= chunk_size_;
    if (source_left_ == 0) source_.reset();  // release what it holds as soon as possible
    return true;
  }

  void OnWritten(const IoError& ec) {
    if (closed_) return;
    ClearDeadline();
    if (!ec && source_left_ > 0) {
      // The next chunk of a streamed body; each chunk gets its own write timeout.
      if (!FillChunk()) return;
      ArmDeadline(options_.write_timeout);
      asio::async_write(
          socket_, asio::const_buffer(chunk_.get(), chunk_size_),
          [self = shared_from_this()](const IoError& ec, size_t) { self->OnWritten(ec); });
      return;
    }
    source_.reset();
    source_left_ = 0;
    chunk_.reset();
    if (tracing_) TraceDone(ec ? "write failed" : "");
    std::string().swap(body_);
    if (ec) {
      Close();
    } else if (close_after_) {
      Linger();
    } else {
      DoRead();
    }
  }

  void StartStreaming(Response response) {
    if (tracing_) {
      trace_status_ = response.status;
      trace_response_bytes_ = 0;
      TraceDone("");
    }
    state_ = State::kStreaming;
    stream_ = std::move(response.stream);
    writer_ = std::make_shared<StreamWriterImpl>(weak_from_this(), server_->gate());
    std::string head;
    AppendStatusLine(head, response.status);
    if (!response.content_type.empty()) AppendHeader(head, "Content-Type", response.content_type);
    for (const auto& [name, value] : response.headers) AppendHeader(head, name, value);
    if (options_.clock) AppendDate(head, *options_.clock);
    head += "\r\n";
    // The connection now belongs to the stream; whatever the peer sent after the request is
    // read and dropped from here on.
    buffer_.consume(buffer_.size());
    writer_->Write(std::move(head));
    FlushStream();
    StartDiscardRead();
    stream_->Start(writer_);
    if (stopping_) StopStream();
  }

  void OnStreamWritten(const IoError& ec) {
    writing_ = false;
    if (closed_) return;
    ClearDeadline();
    writer_->Written(inflight_bytes_);
    inflight_.clear();
    if (ec) {
      Close();
      return;
    }
    FlushStream();
  }

  void StopStream() {
    if (stream_ && !stream_stopped_) {
      stream_stopped_ = true;
      stream_->Stop();
    }
  }

  // Reads and drops whatever the peer sends until it closes or the read fails.
  void StartDiscardRead() {
    discard_reading_ = true;
    socket_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](const IoError& ec, size_t) {
                              if (self->closed_) return;
                              if (ec) {
                                self->Close();
                              } else {
                                self->StartDiscardRead();
                              }
                            });
  }

  // Ends our side of the connection and waits, bounded, for the peer to close its side.
  void Linger() {
    state_ = State::kLingering;
    IoError ec;
    socket_.lowest().shutdown(tcp::socket::shutdown_send, ec);
    if (ec || stopping_) {
      Close();
      return;
    }
    ArmDeadline(std::min<std::chrono::milliseconds>(kLingerTimeout, options_.read_timeout));
    if (!discard_reading_) StartDiscardRead();
  }

  void Close() {
    if (closed_) return;
    auto self = shared_from_this();
    closed_ = true;
    state_ = State::kClosed;
    IoError ignored;
    socket_.lowest().shutdown(tcp::socket::shutdown_both, ignored);
    socket_.lowest().close(ignored);
    timer_.cancel();
    if (writer_) writer_->MarkDead();
    source_.reset();
    source_left_ = 0;
    StopStream();
    std::shared_ptr<Stream> stream = std::move(stream_);
    server_->Unregister(this);
  }

  // One timer per connection, re-armed only when it fires or when a new deadline is earlier
  // than the armed one: most requests cost no timer operation at all.
  void ArmDeadline(std::chrono::milliseconds timeout) {
    deadline_ = SteadyClock::now() + timeout;
    if (timer_armed_ && armed_expiry_ <= deadline_) return;
    StartTimer();
  }

  void ClearDeadline() { deadline_ = SteadyClock::time_point::max(); }

  void StartTimer() {
    timer_armed_ = true;
    armed_expiry_ = deadline_;
    const uint64_t generation = ++timer_generation_;
    timer_.expires_at(deadline_);
    timer_.async_wait(
        [self = shared_from_this(), generation](const IoError&) { self->OnTimer(generation); });
  }

  void OnTimer(uint64_t generation) {
    if (generation != timer_generation_ || closed_) return;
    timer_armed_ = false;
    if (deadline_ == SteadyClock::time_point::max()) return;
    if (SteadyClock::now() >= deadline_) {
      if (server_->logger().DebugEnabled()) {
        server_->logger().Debug("connection-timed-out", {{"state", static_cast<int>(state_)}});
      }
      Close();
      return;
    }
    StartTimer();
  }

  ServerImpl* const server_;
  const ServerOptions& options_;
  Connection socket_;
  std::shared_ptr<const std::string> peer_subject_;  // set after the TLS handshake

  // Request tracing (debug lines and the access log), only while someone listens.
  bool tracing_ = false;
  SteadyClock::time_point trace_start_;
  std::string trace_method_;
  std::string trace_path_;
  std::string trace_route_;
  int trace_status_ = 0;
  size_t trace_request_bytes_ = 0;
  size_t trace_response_bytes_ = 0;
  Timer timer_;
  State state_ = State::kReading;
  bool closed_ = false;
  bool stopping_ = false;

  // Request side.
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  uint64_t sequence_ = 0;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool is_head_ = false;

  // Unary response.
  std::string head_;
  std::string body_;
  // A streamed body: its source while bytes are left, how many, and the chunk being written.
  std::shared_ptr<BodySource> source_;
  size_t source_left_ = 0;
  std::unique_ptr<char[]> chunk_;
  size_t chunk_capacity_ = 0;
  size_t chunk_size_ = 0;
  bool close_after_ = false;

  // Streaming response.
  std::shared_ptr<Stream> stream_;
  std::shared_ptr<StreamWriterImpl> writer_;
  std::vector<std::string> inflight_;
  std::vector<asio::const_buffer> inflight_buffers_;
  size_t inflight_bytes_ = 0;
  bool writing_ = false;
  bool stream_stopped_ = false;
  bool discard_reading_ = false;
  std::array<char, 1024> discard_;

  // Deadline.
  SteadyClock::time_point deadline_ = SteadyClock::time_point::max();
  SteadyClock::time_point armed_expiry_;
  uint64_t timer_generation_ = 0;
  bool timer_armed_ = false;
};

template <typename Fn>
bool PostGate::Post(const std::weak_ptr<Session>& weak, Fn fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!open_) return false;
  std::shared_ptr<Session> session = weak.lock();
  if (!session) return false;
  Strand executor = session->executor();
  asio::post(executor, [session = std::move(session), fn = std::move(fn)]() { fn(*session); });
  return true;
}

void PostGate::Deliver(const std::weak_ptr<Session>& weak, uint64_t sequence, Response response) {
  if (t_io_thread_gate == this) {
    // A handler that answered in place, on the session's strand (the common case): no lock.
    std::shared_ptr<Session> session = weak.lock();
    if (!session) return;
    if (session->OnStrand() && open_.load(std::memory_order_acquire)) {
      session->Deliver(sequence, std::move(response));
      return;
    }
  }
  std::shared_ptr<Session> session;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return;
    session = weak.lock();
    if (!session) return;
    if (!session->OnStrand()) {
      Strand executor = session->executor();
      asio::post(executor, [session = std::move(session), sequence,
                            response = std::move(response)]() mutable {
        session->Deliver(sequence, std::move(response));
      });
      return;
    }
  }
  // On the session's strand, hence on a running I/O thread: the io_context cannot go away.
  session->Deliver(sequence, std::move(response));
}

void StreamWriterImpl::Nudge() {
  bool posted = gate_->Post(session_, [](Session& session) { session.FlushStream(); });
  if (!posted) MarkDead();
}

ServerImpl::ServerImpl(ServerOptions options, Router router)
    : options_(std::move(options)),
      router_(std::move(router)),
      log_(options_.logger),
      ioc_(options_.threads > 0
               ? options_.threads
               : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
      acceptor_(asio::make_strand(ioc_)),
      accept_retry_(acceptor_.get_executor()) {}

ServerImpl::~ServerImpl() {
  Stop();
  gate_->Close();
  std::unordered_map<Session*, std::shared_ptr<Session>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(sessions_);
  }
}

Status ServerImpl::Start() {
  if (started_) return Status(ErrorCode::kUnknownError, "http server started twice");
  if (options_.tls.enabled()) {
    auto context = MakeServerTlsContext(options_.tls);
    if (!context.ok()) return context.status();
    tls_context_ = std::move(*context);
  }
  IoError ec;
  tcp::endpoint endpoint;
  asio::ip::address address = asio::ip::make_address(options_.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, options_.port);
  } else {
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
    if (ec || results.empty()) {
      return Status(ErrorCode::kUnknownError,
                    "resolve " + options_.host + ": " + (ec ? ec.message() : "no address"));
    }
    endpoint = results.begin()->endpoint();
  }
  const std::string where = "listen tcp " + options_.host + ":" + std::to_string(options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    IoError ignored;
    acceptor_.close(ignored);
    return Status(ErrorCode::kUnknownError, where + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  started_ = true;
  accepting_ = true;
  work_.emplace(asio::make_work_guard(ioc_));
  DoAccept();
  const int threads = options_.threads > 0
                          ? options_.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { RunThread(); });
  log_.Info("listening", {{"address", options_.host + ":" + std::to_string(port_)},
                          {"threads", threads},
                          {"tls", tls_context_ != nullptr}});
  return Status::Ok();
}

void ServerImpl::RunThread() {
  t_io_thread_gate = gate_.get();
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      log_.Error("handler-threw", e.what());
    } catch (...) {
      log_.Error("handler-threw", "unknown exception");
    }
  }
}

void ServerImpl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](const IoError& ec, Socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void ServerImpl::OnAccept(const IoError& ec, Socket socket) {
  if (!accepting_.load()) return;
  if (ec) {
    // Typically out of file descriptors: back off instead of spinning.
    log_.Error("accept-failed", ec.message());
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([this](const IoError& wait_ec) {
      if (!wait_ec && accepting_.load()) DoAccept();
    });
    return;
  }
  IoError ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto session = std::make_shared<Session>(this, std::move(socket));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;  // the socket closes with the session
    sessions_.emplace(session.get(), session);
  }
  Strand executor = session->executor();
  asio::post(executor, [session = std::move(session)] { session->Begin(); });
  DoAccept();
}

void ServerImpl::Unregister(Session* session) {
  std::shared_ptr<Session> removed;  // released outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  removed = std::move(it->second);
  sessions_.erase(it);
  if (sessions_.empty() && stopping_) drained_.notify_all();
}

namespace {

// Calls `wind_down` (Shutdown or ForceClose) on each session on its own strand; empties
// `sessions`.
void PostToEach(std::vector<std::shared_ptr<Session>>& sessions, void (Session::*wind_down)()) {
  for (auto& session : sessions) {
    Strand executor = session->executor();
    asio::post(executor, [session = std::move(session), wind_down] { (*session.*wind_down)(); });
  }
  sessions.clear();
}

}  // namespace

void ServerImpl::Stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;

  // 1. Stop accepting.
  std::promise<void> acceptor_closed;
  asio::post(acceptor_.get_executor(), [this, &acceptor_closed] {
    accepting_ = false;
    IoError ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();

  // 2. Ask every connection to wind down.
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [raw, session] : sessions_) open.push_back(session);
  }
  log_.Info("stopping", {{"connections", open.size()}});
  PostToEach(open, &Session::Shutdown);

  // 3. Wait for them, then close whatever is left.
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!drained_.wait_for(lock, options_.shutdown_timeout, [this] { return sessions_.empty(); })) {
      for (auto& [raw, session] : sessions_) open.push_back(session);
    }
  }
  if (!open.empty()) {
    log_.Info("forcing-close", {{"connections", open.size()}});
    PostToEach(open, &Session::ForceClose);
    std::unique_lock<std::mutex> lock(mu_);
    drained_.wait_for(lock, kForceCloseTimeout, [this] { return sessions_.empty(); });
  }

  // 4. Stop the threads.
  work_.reset();
  ioc_.stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  log_.Info("stopped");
}

}  // namespace internal

void Responder::operator()(Response response) const {
  if (fn_) {
    fn_(std::move(response));
    return;
  }
  if (gate_) gate_->Deliver(session_, sequence_, std::move(response));
}

Server::Server(ServerOptions options, Router router)
    : impl_(std::make_unique<internal::ServerImpl>(std::move(options), std::move(router))) {}

Server::~Server() = default;

Status Server::Start() { return impl_->Start(); }
void Server::Stop() { impl_->Stop(); }
void Server::SetReady(bool ready) { impl_->SetReady(ready); }
bool Server::ready() const { return impl_->ready(); }
uint16_t Server::port() const { return impl_->port(); }
size_t Server::connection_count() const { return impl_->connection_count(); }

}  // namespace bbs::http
