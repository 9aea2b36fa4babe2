#include "bbs/clients/fake_peers.h"

#include <sys/socket.h>

#include <thread>
#include <utility>

#include <openssl/ssl.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "bbs/http/asio.h"

namespace bbs::clients {

namespace internal {

using namespace bbs::http::asio_names;

// A thread-per-connection HTTP/1.1 server using blocking socket calls. Stop() unblocks every
// thread by shutting the listening and connected sockets down (shutdown(2) makes blocked
// accept/recv calls return); a socket's descriptor is closed only under mu_, after it was
// marked closed, so Stop() never touches a reused descriptor.
class PeerServer {
 public:
  using Handler = std::function<FakeReply(RecordedRequest)>;

  PeerServer(FakePeerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}
  ~PeerServer() { Stop(); }

  Status Start() {
    IoError ec;
    if (!options_.cert_file.empty()) {
      tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
      tls_->use_certificate_chain_file(options_.cert_file, ec);
      if (!ec) tls_->use_private_key_file(options_.key_file, ssl::context::pem, ec);
      if (!ec && !options_.client_ca_file.empty()) {
        tls_->load_verify_file(options_.client_ca_file, ec);
        if (!ec) tls_->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
      }
      // Lets clients resume sessions even though their certificates are verified.
      static constexpr unsigned char kSessionContext[] = "fake-peer";
      SSL_CTX_set_session_id_context(tls_->native_handle(), kSessionContext,
                                     sizeof(kSessionContext) - 1);
      if (ec) return UnknownError("fake peer tls: " + ec.message());
    }
    tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return UnknownError("fake peer listen: " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    {
      std::lock_guard<std::mutex> lock(mu_);
      started_ = true;
    }
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    return Status::Ok();
  }

  void Stop() {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      if (!started_) return;
      ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
      for (const auto& connection : connections_) {
        if (!connection->closed) ::shutdown(connection->fd, SHUT_RDWR);
      }
    }
    accept_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
    IoError ignored;
    acceptor_.close(ignored);
  }

  uint16_t port() const { return port_; }
  bool tls() const { return tls_ != nullptr; }
  int accepted() const { return accepted_.load(); }

 private:
  struct Connection {
    int fd = -1;
    bool closed = false;  // guarded by mu_
  };

  void AcceptLoop() {
    for (;;) {
      tcp::socket socket(ioc_);
      IoError ec;
      acceptor_.accept(socket, ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (ec) continue;
      accepted_.fetch_add(1);
      auto connection = std::make_shared<Connection>();
      connection->fd = socket.native_handle();
      connections_.push_back(connection);
      threads_.emplace_back([this, socket = std::move(socket), connection]() mutable {
        Serve(std::move(socket), connection);
      });
    }
  }

  void Serve(tcp::socket socket, const std::shared_ptr<Connection>& connection) {
    if (tls_) {
      ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
      IoError ec;
      stream.handshake(ssl::stream_base::server, ec);
      if (!ec) ServeStream(stream);
      Close(connection, stream.next_layer());
    } else {
      ServeStream(socket);
      Close(connection, socket);
    }
  }

  void Close(const std::shared_ptr<Connection>& connection, tcp::socket& socket) {
    std::lock_guard<std::mutex> lock(mu_);
    connection->closed = true;
    IoError ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  template <typename Stream>
  void ServeStream(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(64 << 20);
      parser.header_limit(1 << 20);
      IoError ec;
      bhttp::read(stream, buffer, parser, ec);
      if (ec) return;
      auto& message = parser.get();
      RecordedRequest request;
      request.method = std::string(message.method_string());
      request.target = std::string(message.target());
      request.path = request.target.substr(0, request.target.find('?'));
      for (const auto& field : message) {
        request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      request.body = std::move(message.body());
      request.json = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
      const bool keep_alive = message.keep_alive();

      FakeReply reply = handler_(std::move(request));
      if (reply.kind == FakeReply::Kind::kCloseConnection) return;

      bhttp::response<bhttp::string_body> response;
      response.version(11);
      response.result(static_cast<unsigned>(reply.status));
      for (const auto& [name, value] : reply.headers) response.insert(name, value);
      if (!reply.content_type.empty()) response.set(bhttp::field::content_type, reply.content_type);
      response.body() = std::move(reply.body);
      response.keep_alive(keep_alive);
      response.prepare_payload();
      bhttp::write(stream, response, ec);
      if (ec || !keep_alive) return;
    }
  }

  const FakePeerOptions options_;
  const Handler handler_;
  asio::io_context ioc_;  // never run: every socket call is blocking
  std::unique_ptr<ssl::context> tls_;
  tcp::acceptor acceptor_{ioc_};
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  bool started_ = false;
  bool stopping_ = false;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<std::thread> threads_;
};

}  // namespace internal

// ------------------------------------------------------------------------------------------

std::string RecordedRequest::Header(std::string_view name) const {
  return http::HeaderValue(headers, name);
}

bool RecordedRequest::HasHeader(std::string_view name) const {
  return http::FindHeader(headers, name) != nullptr;
}

FakeReply FakeReply::Respond(int status, std::string body, std::string content_type) {
  FakeReply reply;
  reply.status = status;
  reply.body = std::move(body);
  reply.content_type = std::move(content_type);
  return reply;
}

FakeReply FakeReply::CloseConnection() {
  FakeReply reply;
  reply.kind = Kind::kCloseConnection;
  return reply;
}

FakeReply FakeReply::Hang(int status) {
  FakeReply reply;
  reply.kind = Kind::kHang;
  reply.status = status;
  return reply;
}

FakePeer::FakePeer(FakePeerOptions options, FakeReply default_reply)
    : options_(std::move(options)), default_reply_(std::move(default_reply)) {
  server_ = std::make_unique<internal::PeerServer>(
      options_, [this](RecordedRequest request) { return Handle(std::move(request)); });
}

FakePeer::~FakePeer() { Stop(); }

Status FakePeer::Start() { return server_->Start(); }

void FakePeer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  server_->Stop();
}

std::string FakePeer::url() const {
  return std::string(server_->tls() ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(server_->port());
}

uint16_t FakePeer::port() const { return server_->port(); }

void FakePeer::SetDefaultReply(FakeReply reply) {
  std::lock_guard<std::mutex> lock(mu_);
  default_reply_ = std::move(reply);
}

void FakePeer::Script(std::vector<FakeReply> replies) {
  std::lock_guard<std::mutex> lock(mu_);
  for (FakeReply& reply : replies) script_.push_back(std::move(reply));
}

void FakePeer::ReleaseHung() {
  std::lock_guard<std::mutex> lock(mu_);
  ++release_generation_;
  cv_.notify_all();
}

std::vector<RecordedRequest> FakePeer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t FakePeer::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

bool FakePeer::WaitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

bool FakePeer::WaitUntil(const std::function<bool(const std::vector<RecordedRequest>&)>& done,
                         std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return done(requests_); });
}

int FakePeer::connections_accepted() const { return server_->accepted(); }

FakeReply FakePeer::Handle(RecordedRequest request) {
  std::optional<FakeReply> own = Route(request);
  std::unique_lock<std::mutex> lock(mu_);
  requests_.push_back(std::move(request));
  cv_.notify_all();
  FakeReply reply;
  if (own) {
    reply = std::move(*own);
  } else if (!script_.empty()) {
    reply = std::move(script_.front());
    script_.pop_front();
  } else {
    reply = default_reply_;
  }
  if (reply.kind == FakeReply::Kind::kHang) {
    const uint64_t generation = release_generation_;
    cv_.wait(lock, [&] { return stopping_ || release_generation_ != generation; });
    reply.kind = FakeReply::Kind::kRespond;
  }
  return reply;
}

// ------------------------------------------------------------------------------------------

FakeAuctioneer::FakeAuctioneer(FakePeerOptions options)
    : FakePeer(std::move(options), FakeReply::Respond(202, "{}", "application/json")) {}

FakeAuctioneer::~FakeAuctioneer() { Stop(); }

std::optional<FakeReply> FakeAuctioneer::Route(const RecordedRequest& request) {
  if (request.path != "/v1/lrps" && request.path != "/v1/tasks") {
    return FakeReply::Respond(404, "404 page not found\n", "text/plain; charset=utf-8");
  }
  if (request.method != "POST") {
    FakeReply reply = FakeReply::Respond(405, "", "");
    reply.headers.emplace_back("Allow", "POST");
    return reply;
  }
  if (!request.json.is_array()) {
    nlohmann::json error = {
        {"error", request.json.is_discarded() ? "invalid JSON body" : "body is not a JSON array"}};
    return FakeReply::Respond(400, error.dump(), "application/json");
  }
  return std::nullopt;
}

std::vector<RecordedRequest> FakeAuctioneer::lrp_requests() const {
  std::vector<RecordedRequest> out;
  for (RecordedRequest& request : requests()) {
    if (request.method == "POST" && request.path == "/v1/lrps") out.push_back(std::move(request));
  }
  return out;
}

std::vector<RecordedRequest> FakeAuctioneer::task_requests() const {
  std::vector<RecordedRequest> out;
  for (RecordedRequest& request : requests()) {
    if (request.method == "POST" && request.path == "/v1/tasks") out.push_back(std::move(request));
  }
  return out;
}

// ------------------------------------------------------------------------------------------

namespace {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 1;  // skip the leading '/'
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    parts.push_back(UnescapePath(path.substr(start, slash - start)));
    start = slash + 1;
  }
  return parts;
}

}  // namespace

FakeRep::FakeRep(FakePeerOptions options) : FakePeer(std::move(options), FakeReply::Respond(202)) {}

FakeRep::~FakeRep() { Stop(); }

void FakeRep::SetV2UpdateEnabled(bool enabled) { v2_enabled_.store(enabled); }
void FakeRep::SetV1UpdateEnabled(bool enabled) { v1_enabled_.store(enabled); }

std::optional<RepCall> FakeRep::ParseCall(const RecordedRequest& request) {
  if (request.path.empty() || request.path.front() != '/') return std::nullopt;
  std::vector<std::string> p = SplitPath(request.path);
  RepCall call;
  if (request.method == "POST" && p.size() == 6 && p[0] == "v1" && p[1] == "lrps" &&
      p[3] == "instances" && p[5] == "stop") {
    call.kind = RepCall::Kind::kStop;
    call.process_guid = p[2];
    call.instance_guid = p[4];
  } else if (request.method == "POST" && p.size() == 4 && p[0] == "v1" && p[1] == "tasks" &&
             p[3] == "cancel") {
    call.kind = RepCall::Kind::kCancel;
    call.task_guid = p[2];
  } else if (request.method == "PUT" && p.size() == 5 && (p[0] == "v1" || p[0] == "v2") &&
             p[1] == "lrps" && p[3] == "instances") {
    call.kind = p[0] == "v2" ? RepCall::Kind::kUpdateV2 : RepCall::Kind::kUpdateV1;
    call.process_guid = p[2];
    call.instance_guid = p[4];
  } else {
    return std::nullopt;
  }
  call.request = request;
  return call;
}

std::optional<FakeReply> FakeRep::Route(const RecordedRequest& request) {
  std::optional<RepCall> call = ParseCall(request);
  if (!call) return FakeReply::Respond(404, "404 page not found\n", "text/plain; charset=utf-8");
  if ((call->kind == RepCall::Kind::kUpdateV2 && !v2_enabled_.load()) ||
      (call->kind == RepCall::Kind::kUpdateV1 && !v1_enabled_.load())) {
    return FakeReply::Respond(404, "404 page not found\n", "text/plain; charset=utf-8");
  }
  bool empty_parameter = call->kind == RepCall::Kind::kCancel
                             ? call->task_guid.empty()
                             : call->process_guid.empty() || call->instance_guid.empty();
  if (empty_parameter) return FakeReply::Respond(400);
  return std::nullopt;
}

std::vector<RepCall> FakeRep::calls() const {
  std::vector<RepCall> out;
  for (const RecordedRequest& request : requests()) {
    if (auto call = ParseCall(request)) out.push_back(std::move(*call));
  }
  return out;
}

bool FakeRep::WaitForCalls(size_t n, std::chrono::milliseconds timeout) const {
  return WaitUntil(
      [n](const std::vector<RecordedRequest>& requests) {
        size_t count = 0;
        for (const RecordedRequest& request : requests) {
          if (ParseCall(request)) ++count;
        }
        return count >= n;
      },
      timeout);
}

// ------------------------------------------------------------------------------------------

FakeCallbackReceiver::FakeCallbackReceiver(FakePeerOptions options)
    : FakePeer(std::move(options), FakeReply::Respond(200)) {}

FakeCallbackReceiver::~FakeCallbackReceiver() { Stop(); }

std::optional<FakeReply> FakeCallbackReceiver::Route(const RecordedRequest&) {
  return std::nullopt;
}

}  // namespace bbs::clients
