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
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

namespace bbs::http {
namespace internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

using Strand = asio::strand<asio::io_context::executor_type>;
using Socket = asio::basic_stream_socket<tcp, Strand>;
using Acceptor = asio::basic_socket_acceptor<tcp, Strand>;
using Timer = asio::basic_waitable_timer<SteadyClock, asio::wait_traits<SteadyClock>, Strand>;
using IoError = boost::system::error_code;

constexpr std::string_view k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";
// How long a connection we close keeps draining what the peer still sends, so that the kernel
// does not answer unread bytes with a reset that could destroy our last response in flight.
constexpr std::chrono::milliseconds kLingerTimeout(1000);
constexpr std::chrono::milliseconds kAcceptRetryDelay(50);
constexpr std::chrono::milliseconds kForceCloseTimeout(2000);

void AppendNumber(std::string& out, uint64_t value) {
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, result.ptr);
}

void AppendStatusLine(std::string& out, int status) {
  out += "HTTP/1.1 ";
  AppendNumber(out, static_cast<uint64_t>(status));
  out += ' ';
  bhttp::status known = bhttp::int_to_status(static_cast<unsigned>(status));
  if (known == bhttp::status::unknown) {
    out += "status code ";  // what Go writes for codes it has no text for
    AppendNumber(out, static_cast<uint64_t>(status));
  } else {
    beast::string_view reason = bhttp::obsolete_reason(known);
    out.append(reason.data(), reason.size());
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
    open_ = false;
  }

 private:
  std::mutex mu_;
  bool open_ = true;
};

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
  void Unregister(Session* session);

 private:
  void DoAccept();
  void OnAccept(const IoError& ec, Socket socket);
  void RunThread();

  const ServerOptions options_;
  const Router router_;
  const Logger log_;
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
        timer_(socket_.get_executor()) {}

  Strand executor() { return socket_.get_executor(); }
  bool OnStrand() { return socket_.get_executor().running_in_this_thread(); }

  void Begin() { DoRead(); }

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
    for (const std::string& bytes : inflight_) {
      inflight_buffers_.emplace_back(bytes.data(), bytes.size());
      inflight_bytes_ += bytes.size();
    }
    writing_ = true;
    ArmDeadline(options_.write_timeout);
    asio::async_write(
        socket_, inflight_buffers_,
        [self = shared_from_this()](const IoError& ec, size_t) { self->OnStreamWritten(ec); });
  }

 private:
  enum class State { kReading, kHandling, kWriting, kStreaming, kLingering, kClosed };

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
    if (!parser_->is_done() &&
        beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
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
    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    http10_ = message.version() < 11;
    is_head_ = message.method() == bhttp::verb::head;

    Request request;
    beast::string_view method = message.method_string();
    request.method.assign(method.data(), method.size());
    beast::string_view target = message.target();
    size_t query = target.find('?');
    request.path.assign(target.data(), query == beast::string_view::npos ? target.size() : query);
    request.body = std::move(message.body());
    if (auto it = message.find("X-Vcap-Request-Id"); it != message.end()) {
      request.has_request_id = true;
      request.request_id.assign(it->value().data(), it->value().size());
    }
    if (auto it = message.find("Last-Event-ID"); it != message.end()) {
      request.last_event_id.assign(it->value().data(), it->value().size());
    }
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
    close_after_ = !keep_alive_ || stopping_;
    head_.clear();
    AppendStatusLine(head_, response.status);
    if (!response.content_type.empty()) AppendHeader(head_, "Content-Type", response.content_type);
    head_ += "Content-Length: ";
    AppendNumber(head_, response.body.size());
    head_ += "\r\n";
    for (const auto& [name, value] : response.headers) AppendHeader(head_, name, value);
    if (options_.clock) AppendDate(head_, *options_.clock);
    if (close_after_) {
      head_ += "Connection: close\r\n";
    } else if (http10_) {
      head_ += "Connection: keep-alive\r\n";
    }
    head_ += "\r\n";
    body_ = std::move(response.body);

    state_ = State::kWriting;
    ArmDeadline(options_.write_timeout);
    std::array<asio::const_buffer, 2> buffers{
        asio::const_buffer(head_.data(), head_.size()),
        asio::const_buffer(body_.data(), is_head_ ? 0 : body_.size())};
    asio::async_write(socket_, buffers, [self = shared_from_this()](const IoError& ec, size_t) {
      self->OnWritten(ec);
    });
  }

  void OnWritten(const IoError& ec) {
    if (closed_) return;
    ClearDeadline();
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
    socket_.shutdown(tcp::socket::shutdown_send, ec);
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
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
    if (writer_) writer_->MarkDead();
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
  Socket socket_;
  Timer timer_;
  State state_ = State::kReading;
  bool closed_ = false;
  bool stopping_ = false;

  // Request side.
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  uint64_t sequence_ = 0;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool is_head_ = false;

  // Unary response.
  std::string head_;
  std::string body_;
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
  log_.Info("listening",
            {{"address", options_.host + ":" + std::to_string(port_)}, {"threads", threads}});
  return Status::Ok();
}

void ServerImpl::RunThread() {
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
  for (auto& session : open) {
    Strand executor = session->executor();
    asio::post(executor, [session = std::move(session)] { session->Shutdown(); });
  }
  open.clear();

  // 3. Wait for them, then close whatever is left.
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!drained_.wait_for(lock, options_.shutdown_timeout, [this] { return sessions_.empty(); })) {
      for (auto& [raw, session] : sessions_) open.push_back(session);
    }
  }
  if (!open.empty()) {
    log_.Info("forcing-close", {{"connections", open.size()}});
    for (auto& session : open) {
      Strand executor = session->executor();
      asio::post(executor, [session = std::move(session)] { session->ForceClose(); });
    }
    open.clear();
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
