#include "bbs/clients/http_client.h"

#include <poll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <openssl/ssl.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/http/write.hpp>

#include "bbs/http/asio.h"

namespace bbs::clients {

// ------------------------------------------------------------------------------------------
// Status texts

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string HttpStatusError(int status) {
  return "http error: status code " + std::to_string(status) + " (" +
         std::string(StatusText(status)) + ")";
}

std::string HttpResponse::Header(std::string_view name) const {
  return http::HeaderValue(headers, name);
}

const char* TransportErrorName(TransportError error) {
  // In the enum's order.
  static constexpr std::array<const char*, 9> kNames = {
      "none",    "invalid-url",       "resolve",  "connect", "tls",
      "timeout", "connection-closed", "protocol", "shutdown"};
  static_assert(kNames.size() == static_cast<size_t>(TransportError::kShutdown) + 1);
  const auto index = static_cast<size_t>(error);
  return index < kNames.size() ? kNames[index] : "unknown";
}

// ------------------------------------------------------------------------------------------
// The client

namespace internal {
namespace {

using namespace bbs::http::asio_names;
using SteadyClock = std::chrono::steady_clock;
using TlsStream = ssl::stream<beast::tcp_stream>;
using Request = bhttp::request<bhttp::string_body>;

constexpr const char* kTls12Ciphers = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256";

struct Deadline {
  bool set = false;
  SteadyClock::time_point at;

  Deadline Earlier(std::chrono::milliseconds limit) const {
    auto other = SteadyClock::now() + limit;
    return Deadline{true, set ? std::min(at, other) : other};
  }
};

// One kept-alive connection. Its io_context runs only on the thread using the connection, so
// a connection needs no lock; Abort() arrives as a handler posted to that io_context.
struct Connection {
  explicit Connection(std::string pool_key) : key(std::move(pool_key)) {}

  beast::tcp_stream& lowest() { return tls ? tls->next_layer() : *plain; }
  template <typename Fn>
  IoError Visit(Fn&& fn) {
    if (tls) return fn(*tls);
    return fn(*plain);
  }
  void Abort() {
    IoError ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  asio::io_context ioc{1};  // declared first: destroyed after the streams using it
  std::optional<beast::tcp_stream> plain;
  std::optional<TlsStream> tls;
  beast::flat_buffer buffer;
  std::string key;
  SteadyClock::time_point idle_since;
};

void SetExpiry(beast::tcp_stream& stream, const Deadline& deadline) {
  if (deadline.set) {
    stream.expires_at(deadline.at);
  } else {
    stream.expires_never();
  }
}

// Runs one asynchronous operation on the connection's io_context until it completes. The
// stream's expiry bounds it, so this returns by the deadline.
template <typename Start>
IoError Run(Connection& connection, Start&& start) {
  IoError result = asio::error::operation_aborted;
  start([&result](const IoError& ec, auto&&...) { result = ec; });
  connection.ioc.restart();
  connection.ioc.run();
  return result;
}

// True when the idle connection shows no sign of having been closed by the peer (nothing to
// read: neither an end of stream nor unexpected bytes).
bool LooksReusable(Connection& connection) {
  auto& socket = connection.lowest().socket();
  if (!socket.is_open() || connection.buffer.size() > 0) return false;
  pollfd pfd{};
  pfd.fd = socket.native_handle();
  pfd.events = POLLIN;
  return ::poll(&pfd, 1, 0) == 0;
}

// Asio's resolver on io_contexts that live as long as the process: destroying one joins Asio's
// resolver thread, which may be stuck in getaddrinfo. That thread runs one getaddrinfo at a
// time, so host names are spread over a few contexts by hash: a name that hangs delays only
// the names that share its context, and each waiter still gives up at its own deadline.
class AsioResolver final : public HostResolver {
 public:
  AsioResolver() {
    for (auto& shard : shards_) {
      shard = std::make_unique<Shard>();
      std::thread([shard = shard.get()] { shard->ioc.run(); }).detach();
    }
  }

  void Resolve(const std::string& host, Done done) override {
    Shard& shard = *shards_[std::hash<std::string>{}(host) % shards_.size()];
    // The resolver object lives in its own handler; the io_context outlives both.
    auto resolver = std::make_shared<tcp::resolver>(shard.ioc);
    resolver->async_resolve(
        host, "0",
        [resolver, done = std::move(done)](const IoError& ec, tcp::resolver::results_type results) {
          std::vector<std::string> addresses;
          for (const auto& entry : results) {
            addresses.push_back(entry.endpoint().address().to_string());
          }
          done(ec ? ec.message() : std::string(), std::move(addresses));
        });
  }

 private:
  struct Shard {
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  };
  std::array<std::unique_ptr<Shard>, 4> shards_;
};

// One lookup, shared by the waiting request and the resolver's callback, so that either may
// finish first: a callback after the request gave up writes into state nobody reads again.
struct PendingLookup {
  std::mutex mu;
  std::condition_variable cv;
  bool answered = false;
  std::string error;
  std::vector<std::string> addresses;
};

// The endpoints of `host`:`port`, looked up with `resolver` raced against the deadline. Sets
// *timed_out when the deadline came first, *error when the lookup failed.
std::vector<tcp::endpoint> Resolve(HostResolver& resolver, const std::string& host, uint16_t port,
                                   const Deadline& deadline, bool* timed_out, std::string* error) {
  IoError ec;
  asio::ip::address literal = asio::ip::make_address(host, ec);
  if (!ec) return {tcp::endpoint(literal, port)};
  auto lookup = std::make_shared<PendingLookup>();
  resolver.Resolve(host, [lookup](std::string lookup_error, std::vector<std::string> addresses) {
    std::lock_guard<std::mutex> lock(lookup->mu);
    lookup->answered = true;
    lookup->error = std::move(lookup_error);
    lookup->addresses = std::move(addresses);
    lookup->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(lookup->mu);
  auto answered = [&] { return lookup->answered; };
  if (!deadline.set) {
    lookup->cv.wait(lock, answered);
  } else if (!lookup->cv.wait_until(lock, deadline.at, answered)) {
    *timed_out = true;
    return {};
  }
  *error = lookup->error;
  std::vector<tcp::endpoint> endpoints;
  for (const std::string& address : lookup->addresses) {
    asio::ip::address parsed = asio::ip::make_address(address, ec);
    if (!ec) endpoints.emplace_back(parsed, port);
  }
  return endpoints;
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Go writes "Post", "Put" in its error texts.
std::string GoMethodName(std::string_view method) {
  std::string out = Lower(method);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

const boost::system::error_category& BeastHttpCategory() {
  static const boost::system::error_category& category =
      bhttp::make_error_code(bhttp::error::end_of_stream).category();
  return category;
}

bool IsClosedError(const IoError& ec) {
  return ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
         ec == bhttp::error::partial_message || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == asio::error::not_connected || ec == asio::error::bad_descriptor ||
         ec == asio::error::operation_aborted || ec == ssl::error::stream_truncated;
}

Result<std::unique_ptr<ssl::context>> MakeTlsContext(const TlsOptions& tls) {
  auto fail = [](const std::string& what, const IoError& ec) {
    return Status(ErrorCode::kUnknownError, "tls: " + what + ": " + ec.message());
  };
  std::unique_ptr<ssl::context> context;
  try {
    context = std::make_unique<ssl::context>(ssl::context::tls_client);
  } catch (const std::exception& e) {
    return Status(ErrorCode::kUnknownError, std::string("tls: creating context: ") + e.what());
  }
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return Status(ErrorCode::kUnknownError, "tls: cipher suites not supported");
  }
  IoError ec;
  context->set_verify_mode(ssl::verify_peer, ec);
  // Without a CA file the system roots are loaded on first https use (HttpClientImpl::Connect):
  // loading them costs ~100 ms, and most clients never speak https.
  if (!tls.ca_file.empty()) {
    context->load_verify_file(tls.ca_file, ec);
    if (ec) return fail("loading CA file " + tls.ca_file, ec);
  }
  if (!tls.cert_file.empty() || !tls.key_file.empty()) {
    if (tls.cert_file.empty() || tls.key_file.empty()) {
      return Status(ErrorCode::kUnknownError,
                    "tls: a client certificate needs both a cert file and a key file");
    }
    context->use_certificate_chain_file(tls.cert_file, ec);
    if (ec) return fail("loading certificate " + tls.cert_file, ec);
    context->use_private_key_file(tls.key_file, ssl::context::pem, ec);
    if (ec) return fail("loading key " + tls.key_file, ec);
  }
  return context;
}

}  // namespace

class HttpClientImpl {
 public:
  HttpClientImpl(HttpClientOptions options, std::unique_ptr<ssl::context> tls)
      : options_(std::move(options)),
        tls_(std::move(tls)),
        resolver_(options_.resolver ? options_.resolver : AsioHostResolver()) {}

  ~HttpClientImpl() {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.clear();
  }

  HttpResult Send(const HttpRequest& request) {
    Deadline deadline;
    if (options_.timeout.count() > 0) {
      deadline = Deadline{true, SteadyClock::now() + options_.timeout};
    }
    std::string method = request.method;
    std::string body = request.body;
    auto parsed = ParseUrl(request.url);
    if (!parsed.ok()) {
      return Failure(TransportError::kInvalidUrl, method, request.url, parsed.status().message());
    }
    Url url = std::move(parsed).value();
    for (int hops = 0;; ++hops) {
      HttpResult result = SendOnce(method, url, request.headers, body, deadline);
      if (!result.ok() || !IsRedirect(result.response.status)) return result;
      std::string location = result.response.Header("Location");
      if (location.empty()) return result;
      if (hops >= options_.max_redirects) {
        return Failure(TransportError::kProtocol, method, url.ToString(),
                       "stopped after " + std::to_string(options_.max_redirects) + " redirects");
      }
      auto next = bbs::url::ResolveReference(url, location);
      if (!next.ok()) {
        return Failure(TransportError::kInvalidUrl, method, url.ToString(),
                       "failed to follow redirect: " + next.status().message());
      }
      int status = result.response.status;
      if (status == 301 || status == 302 || status == 303) {
        if (method != "GET" && method != "HEAD") method = "GET";
        body.clear();
      }
      url = std::move(next).value();
    }
  }

  void Shutdown() {
    std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_.store(true);
      for (Connection* connection : active_) {
        asio::post(connection->ioc, [connection] { connection->Abort(); });
      }
      idle.swap(idle_);
    }
  }

  int connections_opened() const { return opened_.load(); }
  int tls_sessions_resumed() const { return resumed_.load(); }

  int idle_connections() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t count = 0;
    for (const auto& [key, connections] : idle_) count += connections.size();
    return static_cast<int>(count);
  }

 private:
  enum class Phase { kConnect, kHandshake, kExchange };

  static HttpResult Failure(TransportError error, std::string_view method, const std::string& url,
                            const std::string& detail) {
    HttpResult result;
    result.error = error;
    result.message = GoMethodName(method) + " \"" + url + "\": " + detail;
    return result;
  }

  HttpResult IoFailure(Phase phase, const IoError& ec, std::string_view method, const Url& url,
                       const std::string& what) const {
    TransportError error;
    std::string detail = what + ": " + ec.message();
    if (shutdown_.load()) {
      error = TransportError::kShutdown;
      detail = "client shut down";
    } else if (ec == beast::error::timeout) {
      error = TransportError::kTimeout;
      detail = what + ": timeout (Client.Timeout exceeded)";
    } else if (phase == Phase::kConnect) {
      error = TransportError::kConnect;
    } else if (phase == Phase::kHandshake) {
      error = TransportError::kTls;
    } else if (!IsClosedError(ec) && ec.category() == BeastHttpCategory()) {
      error = TransportError::kProtocol;
    } else if (!IsClosedError(ec) && (ec.category() == asio::error::get_ssl_category() ||
                                      ec.category() == ssl::error::get_stream_category())) {
      error = TransportError::kTls;
    } else {
      // Closed or reset by the peer, or another socket failure in the middle of the exchange.
      error = TransportError::kConnectionClosed;
    }
    return Failure(error, method, url.ToString(), detail);
  }

  static std::string PoolKey(const Url& url) {
    return url.scheme + "://" + url.host + ":" + std::to_string(url.port);
  }

  Request BuildRequest(const std::string& method, const Url& url, const HeaderList& headers,
                       const std::string& body) const {
    Request request;
    bhttp::verb verb = bhttp::string_to_verb(method);
    if (verb == bhttp::verb::unknown) {
      request.method_string(method);
    } else {
      request.method(verb);
    }
    request.target(url.Target());
    request.version(11);
    request.set(bhttp::field::host, url.Authority());
    if (!options_.user_agent.empty()) request.set(bhttp::field::user_agent, options_.user_agent);
    for (const auto& [name, value] : headers) {
      if (beast::iequals(name, "Host") || beast::iequals(name, "Content-Length")) continue;
      request.insert(name, value);
    }
    if (!body.empty() || (method != "GET" && method != "HEAD")) {
      request.content_length(body.size());
    }
    request.body() = body;
    return request;
  }

  HttpResult SendOnce(const std::string& method, const Url& url, const HeaderList& headers,
                      const std::string& body, const Deadline& deadline) {
    if (shutdown_.load()) {
      return Failure(TransportError::kShutdown, method, url.ToString(), "client shut down");
    }
    Request request = BuildRequest(method, url, headers, body);
    std::string key = PoolKey(url);
    if (std::unique_ptr<Connection> reused = TakeIdle(key)) {
      bool keep_alive = false;
      bool got_some = false;
      HttpResult result = Exchange(*reused, request, method, url, deadline, &keep_alive, &got_some);
      if (result.ok() || got_some || result.error != TransportError::kConnectionClosed) {
        Release(std::move(reused), result.ok() && keep_alive);
        return result;
      }
      // The peer closed the idle connection while we were writing: try a fresh one.
      Release(std::move(reused), false);
    }
    std::unique_ptr<Connection> connection;
    HttpResult connected = Connect(method, url, key, deadline, &connection);
    if (!connected.ok()) return connected;
    bool keep_alive = false;
    bool got_some = false;
    HttpResult result =
        Exchange(*connection, request, method, url, deadline, &keep_alive, &got_some);
    Release(std::move(connection), result.ok() && keep_alive);
    return result;
  }

  HttpResult Connect(const std::string& method, const Url& url, const std::string& key,
                     const Deadline& deadline, std::unique_ptr<Connection>* out) {
    if (url.scheme == "https") {
      if (tls_ == nullptr) {
        return Failure(TransportError::kTls, method, url.ToString(), "TLS is not configured");
      }
      std::call_once(system_roots_once_, [this] {
        if (!options_.tls.ca_file.empty()) return;
        IoError ec;
        tls_->set_default_verify_paths(ec);
        if (ec) system_roots_error_ = "loading system roots: " + ec.message();
      });
      if (!system_roots_error_.empty()) {
        return Failure(TransportError::kTls, method, url.ToString(), system_roots_error_);
      }
    }
    bool timed_out = false;
    std::string lookup_error;
    std::vector<tcp::endpoint> endpoints =
        Resolve(*resolver_, url.host, url.port, deadline, &timed_out, &lookup_error);
    if (timed_out) {
      return Failure(TransportError::kTimeout, method, url.ToString(),
                     "dial tcp: lookup " + url.host + ": timeout (Client.Timeout exceeded)");
    }
    if (!lookup_error.empty() || endpoints.empty()) {
      return Failure(TransportError::kResolve, method, url.ToString(),
                     "dial tcp: lookup " + url.host + ": " +
                         (lookup_error.empty() ? std::string("no such host") : lookup_error));
    }
    auto connection = std::make_unique<Connection>(key);
    if (url.scheme == "https") {
      connection->tls.emplace(connection->ioc, *tls_);
      IoError ignored;
      asio::ip::make_address(url.host, ignored);
      if (ignored) SSL_set_tlsext_host_name(connection->tls->native_handle(), url.host.c_str());
      connection->tls->set_verify_callback(ssl::host_name_verification(url.host));
      OfferCachedSession(key, connection->tls->native_handle());
    } else {
      connection->plain.emplace(connection->ioc);
    }
    if (!Activate(connection.get())) {
      return Failure(TransportError::kShutdown, method, url.ToString(), "client shut down");
    }
    opened_.fetch_add(1);
    Connection& c = *connection;
    SetExpiry(c.lowest(), deadline.Earlier(options_.connect_timeout));
    IoError ec =
        Run(c, [&](auto handler) { c.lowest().async_connect(endpoints, std::move(handler)); });
    if (ec) {
      HttpResult failure = IoFailure(
          Phase::kConnect, ec, method, url,
          "dial tcp " + endpoints.front().address().to_string() + ":" + std::to_string(url.port));
      Release(std::move(connection), false);
      return failure;
    }
    IoError ignored;
    c.lowest().socket().set_option(tcp::no_delay(true), ignored);
    if (c.tls) {
      SetExpiry(c.lowest(), deadline);
      ec = Run(c, [&](auto handler) {
        c.tls->async_handshake(ssl::stream_base::client, std::move(handler));
      });
      if (ec) {
        HttpResult failure = IoFailure(Phase::kHandshake, ec, method, url, "tls handshake");
        Release(std::move(connection), false);
        return failure;
      }
      if (SSL_session_reused(c.tls->native_handle()) == 1) resumed_.fetch_add(1);
    }
    *out = std::move(connection);
    return HttpResult{};
  }

  HttpResult Exchange(Connection& c, Request& request, const std::string& method, const Url& url,
                      const Deadline& deadline, bool* keep_alive, bool* got_some) {
    SetExpiry(c.lowest(), deadline);
    IoError ec = c.Visit([&](auto& stream) {
      return Run(c, [&](auto handler) { bhttp::async_write(stream, request, std::move(handler)); });
    });
    if (ec) return IoFailure(Phase::kExchange, ec, method, url, "write request");
    for (;;) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(options_.max_response_bytes);
      parser.header_limit(1 << 20);
      if (method == "HEAD") parser.skip(true);
      ec = c.Visit([&](auto& stream) {
        return Run(c, [&](auto handler) {
          bhttp::async_read(stream, c.buffer, parser, std::move(handler));
        });
      });
      if (parser.got_some()) *got_some = true;
      if (ec) return IoFailure(Phase::kExchange, ec, method, url, "read response");
      auto& message = parser.get();
      int status = static_cast<int>(message.result_int());
      if (status / 100 == 1 && status != 101) continue;
      HttpResult result;
      result.response.status = status;
      for (const auto& field : message) {
        result.response.headers.emplace_back(std::string(field.name_string()),
                                             std::string(field.value()));
      }
      result.response.body = std::move(message.body());
      *keep_alive = message.keep_alive() && status != 101;
      return result;
    }
  }

  bool Activate(Connection* connection) {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_.load()) return false;
    active_.insert(connection);
    return true;
  }

  // Takes an idle connection to `key` that still looks usable, or returns null.
  std::unique_ptr<Connection> TakeIdle(const std::string& key) {
    for (;;) {
      std::unique_ptr<Connection> candidate;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutdown_.load()) return nullptr;
        auto it = idle_.find(key);
        if (it == idle_.end() || it->second.empty()) return nullptr;
        candidate = std::move(it->second.back());
        it->second.pop_back();
      }
      bool fresh = SteadyClock::now() - candidate->idle_since < options_.idle_timeout;
      if (fresh && LooksReusable(*candidate)) {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutdown_.load()) return nullptr;
        active_.insert(candidate.get());
        return candidate;
      }
      // Stale: dropped here, outside the lock; look at the next one.
    }
  }

  // Ends the use of an active connection: back to the pool when reusable and there is room,
  // otherwise closed (outside the lock).
  void Release(std::unique_ptr<Connection> connection, bool reusable) {
    // TLS 1.3 tickets arrive after the handshake: by now the session is the resumable one.
    if (connection->tls) CacheSession(connection->key, connection->tls->native_handle());
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_.erase(connection.get());
      if (reusable && !shutdown_.load() && options_.max_idle_per_host > 0) {
        auto& pool = idle_[connection->key];
        if (pool.size() < static_cast<size_t>(options_.max_idle_per_host)) {
          connection->idle_since = SteadyClock::now();
          pool.push_back(std::move(connection));
          return;
        }
      }
    }
    connection.reset();
  }

  size_t SessionCacheCapacity() const {
    if (options_.tls_session_cache_size < 0) return 0;
    return options_.tls_session_cache_size == 0
               ? 64
               : static_cast<size_t>(options_.tls_session_cache_size);
  }

  void OfferCachedSession(const std::string& key, SSL* ssl) {
    if (SessionCacheCapacity() == 0) return;
    std::lock_guard<std::mutex> lock(session_mu_);
    auto it = sessions_.find(key);
    if (it == sessions_.end()) return;
    SSL_set_session(ssl, it->second.session.get());  // takes its own reference
    session_order_.splice(session_order_.begin(), session_order_, it->second.order);
  }

  void CacheSession(const std::string& key, SSL* ssl) {
    const size_t capacity = SessionCacheCapacity();
    if (capacity == 0) return;
    SSL_SESSION* current = SSL_get0_session(ssl);
    if (current == nullptr || SSL_SESSION_is_resumable(current) != 1) return;
    // A copy: OpenSSL marks the connection's own session not resumable when the connection is
    // freed without a close_notify, which is how pooled connections end.
    SessionPtr session(SSL_SESSION_dup(current));
    if (!session) return;
    std::lock_guard<std::mutex> lock(session_mu_);
    auto it = sessions_.find(key);
    if (it != sessions_.end()) {
      it->second.session = std::move(session);
      session_order_.splice(session_order_.begin(), session_order_, it->second.order);
      return;
    }
    session_order_.push_front(key);
    sessions_.emplace(key, CachedSession{std::move(session), session_order_.begin()});
    if (sessions_.size() > capacity) {
      sessions_.erase(session_order_.back());
      session_order_.pop_back();
    }
  }

  struct SessionFree {
    void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
  };
  using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;
  struct CachedSession {
    SessionPtr session;
    std::list<std::string>::iterator order;
  };

  const HttpClientOptions options_;
  const std::unique_ptr<ssl::context> tls_;  // outlives every connection (declared before)
  const std::shared_ptr<HostResolver> resolver_;
  std::atomic<int> resumed_{0};
  std::mutex session_mu_;  // guards the session cache (LRU, most recent first)
  std::list<std::string> session_order_;
  std::unordered_map<std::string, CachedSession> sessions_;
  std::once_flag system_roots_once_;
  std::string system_roots_error_;  // written once under system_roots_once_
  std::atomic<int> opened_{0};
  std::atomic<bool> shutdown_{false};
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
  std::unordered_set<Connection*> active_;
};

}  // namespace internal

std::shared_ptr<HostResolver> AsioHostResolver() {
  // Leaked on purpose (see AsioResolver): never destroyed, so never joined.
  static auto* const resolver = new std::shared_ptr<HostResolver>(new internal::AsioResolver());
  return *resolver;
}

Result<std::shared_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options) {
  auto tls = internal::MakeTlsContext(options.tls);
  if (!tls.ok()) return tls.status();
  auto impl = std::make_unique<internal::HttpClientImpl>(std::move(options), std::move(*tls));
  return std::shared_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpClient::HttpClient(std::unique_ptr<internal::HttpClientImpl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

HttpResult HttpClient::Send(const HttpRequest& request) { return impl_->Send(request); }

HttpResult SendObserved(HttpTransport& transport, const HttpRequest& request,
                        metrics::BbsMetrics* metrics, metrics::OutboundPeer peer) {
  if (metrics == nullptr) return transport.Send(request);
  auto started = std::chrono::steady_clock::now();
  HttpResult result = transport.Send(request);
  metrics->ObserveOutbound(
      peer, Succeeded(result),
      std::chrono::duration_cast<metrics::Nanos>(std::chrono::steady_clock::now() - started));
  return result;
}
void HttpClient::Shutdown() { impl_->Shutdown(); }
int HttpClient::connections_opened() const { return impl_->connections_opened(); }
int HttpClient::tls_sessions_resumed() const { return impl_->tls_sessions_resumed(); }
int HttpClient::idle_connections() const { return impl_->idle_connections(); }

}  // namespace bbs::clients
