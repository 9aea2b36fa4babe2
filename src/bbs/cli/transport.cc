#include "bbs/cli/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace bbs::cli {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "tls error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// One TCP connection, optionally wrapped in TLS.
class Socket {
 public:
  ~Socket() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }

  // Connects to host:port within `timeout` (0 = the OS default).
  Status Connect(const Endpoint& ep, std::chrono::milliseconds timeout) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(ep.host.c_str(), ep.port.c_str(), &hints, &res);
    if (rc != 0) {
      return Status(kTransportError, "dial tcp: lookup " + ep.host + ": " + gai_strerror(rc));
    }
    std::string last = "connection refused";
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) continue;
      int flags = fcntl(fd, F_GETFL, 0);
      fcntl(fd, F_SETFL, flags | O_NONBLOCK);
      int c = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
      if (c != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int n = ::poll(&p, 1, timeout.count() > 0 ? static_cast<int>(timeout.count()) : -1);
        if (n == 0) {
          ::close(fd);
          freeaddrinfo(res);
          return Status(ErrorCode::kTimeout,
                        "dial tcp " + ep.host + ":" + ep.port + ": i/o timeout");
        }
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        c = err == 0 ? 0 : -1;
        errno = err;
      }
      if (c != 0) {
        last = std::strerror(errno);
        std::transform(last.begin(), last.end(), last.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        ::close(fd);
        continue;
      }
      fcntl(fd, F_SETFL, flags);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
      fd_ = fd;
      break;
    }
    freeaddrinfo(res);
    if (fd_ < 0) {
      return Status(kTransportError, "dial tcp " + ep.host + ":" + ep.port + ": connect: " + last);
    }
    SetTimeout(timeout);
    return Status::Ok();
  }

  void SetTimeout(std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

  Status StartTls(SSL_CTX* ctx, const Endpoint& ep, bool skip_verify) {
    ssl_ = SSL_new(ctx);
    if (ssl_ == nullptr) return Status(kTransportError, OpenSslError());
    SSL_set_fd(ssl_, fd_);
    if (!IsIpLiteral(ep.host)) SSL_set_tlsext_host_name(ssl_, ep.host.c_str());
    if (!skip_verify) {
      if (IsIpLiteral(ep.host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), ep.host.c_str());
      } else {
        SSL_set1_host(ssl_, ep.host.c_str());
      }
    }
    if (SSL_connect(ssl_) != 1) {
      long verify = SSL_get_verify_result(ssl_);
      std::string why = verify != X509_V_OK
                            ? std::string("x509: ") + X509_verify_cert_error_string(verify)
                            : OpenSslError();
      return Status(kTransportError, "tls: handshake failed: " + why);
    }
    return Status::Ok();
  }

  Status WriteAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n;
      if (ssl_ != nullptr) {
        n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
      } else {
        n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      }
      if (n <= 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          return Status(ErrorCode::kTimeout, "i/o timeout");
        return Status(kTransportError, std::string("write: ") + std::strerror(errno));
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  // Reads up to `n` bytes; 0 at EOF.
  Result<size_t> Read(char* buf, size_t n) {
    for (;;) {
      errno = 0;
      ssize_t r;
      if (ssl_ != nullptr) {
        r = SSL_read(ssl_, buf, static_cast<int>(n));
        if (r <= 0) {
          int err = SSL_get_error(ssl_, static_cast<int>(r));
          if (err == SSL_ERROR_ZERO_RETURN) return size_t{0};
          if (err == SSL_ERROR_SYSCALL && errno == 0) return size_t{0};
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return Status(ErrorCode::kTimeout, "i/o timeout");
          }
          if (errno == EINTR) continue;
          return Status(kTransportError, "read: " + (errno != 0 ? std::string(std::strerror(errno))
                                                                : OpenSslError()));
        }
      } else {
        r = ::recv(fd_, buf, n, 0);
        if (r < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return Status(ErrorCode::kTimeout, "i/o timeout");
          }
          return Status(kTransportError, std::string("read: ") + std::strerror(errno));
        }
      }
      return static_cast<size_t>(r);
    }
  }

  void Shutdown() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }

 private:
  int fd_ = -1;
  SSL* ssl_ = nullptr;
};

// Buffered reads over a Socket: lines, exact byte counts, chunked bodies.
class Reader {
 public:
  explicit Reader(Socket& socket) : socket_(socket) {}

  Status Fill() {
    char tmp[16384];
    auto n = socket_.Read(tmp, sizeof(tmp));
    if (!n.ok()) return n.status();
    if (*n == 0) return Status(kTransportError, "unexpected EOF");
    buf_.append(tmp, *n);
    return Status::Ok();
  }

  Result<std::string> Line() {
    for (;;) {
      size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        std::string line = buf_.substr(pos_, nl - pos_);
        pos_ = nl + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        Compact();
        return line;
      }
      Status s = Fill();
      if (!s.ok()) return s;
    }
  }

  Result<std::string> Exactly(size_t n) {
    while (buf_.size() - pos_ < n) {
      Status s = Fill();
      if (!s.ok()) return s;
    }
    std::string out = buf_.substr(pos_, n);
    pos_ += n;
    Compact();
    return out;
  }

  Result<std::string> UntilEof() {
    for (;;) {
      char tmp[16384];
      auto n = socket_.Read(tmp, sizeof(tmp));
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      buf_.append(tmp, *n);
    }
    std::string out = buf_.substr(pos_);
    buf_.clear();
    pos_ = 0;
    return out;
  }

  // The next chunk of a chunked body; empty at the last chunk (trailers consumed).
  Result<std::string> Chunk() {
    auto line = Line();
    if (!line.ok()) return line.status();
    size_t size = 0;
    size_t i = 0;
    for (; i < line->size() && std::isxdigit(static_cast<unsigned char>((*line)[i])); ++i) {
      char c = static_cast<char>(std::tolower(static_cast<unsigned char>((*line)[i])));
      size = size * 16 + static_cast<size_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    if (i == 0) return Status(kTransportError, "malformed chunked encoding");
    if (size == 0) {
      for (;;) {
        auto trailer = Line();
        if (!trailer.ok() || trailer->empty()) break;
      }
      return std::string();
    }
    auto data = Exactly(size);
    if (!data.ok()) return data;
    auto crlf = Line();
    if (!crlf.ok()) return crlf.status();
    return data;
  }

 private:
  void Compact() {
    if (pos_ > 65536) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
  }

  Socket& socket_;
  std::string buf_;
  size_t pos_ = 0;
};

Result<HttpResponse> ReadHead(Reader& reader) {
  HttpResponse resp;
  auto status = reader.Line();
  if (!status.ok()) return status.status();
  // "HTTP/1.1 200 OK"
  size_t sp = status->find(' ');
  if (status->rfind("HTTP/", 0) != 0 || sp == std::string::npos) {
    return Status(kTransportError, "malformed HTTP response: " + *status);
  }
  resp.status = std::atoi(status->c_str() + sp + 1);
  for (;;) {
    auto line = reader.Line();
    if (!line.ok()) return line.status();
    if (line->empty()) break;
    size_t colon = line->find(':');
    if (colon == std::string::npos) continue;
    std::string value = line->substr(colon + 1);
    size_t start = value.find_first_not_of(" \t");
    value = start == std::string::npos ? "" : value.substr(start);
    resp.headers[Lower(line->substr(0, colon))] = value;
  }
  return resp;
}

class SseStream : public EventStream {
 public:
  explicit SseStream(std::unique_ptr<Socket> socket)
      : socket_(std::move(socket)), reader_(*socket_) {}

  Result<std::optional<SseEvent>> Next() override {
    SseEvent event;
    bool has_data = false;
    for (;;) {
      size_t nl = text_.find('\n', pos_);
      if (nl == std::string::npos) {
        text_.erase(0, pos_);
        pos_ = 0;
        if (ended_) return std::optional<SseEvent>();
        auto chunk = reader_.Chunk();
        if (!chunk.ok()) {
          if (interrupted_) return std::optional<SseEvent>();
          return chunk.status();
        }
        if (chunk->empty()) {
          ended_ = true;
          continue;
        }
        text_ += *chunk;
        continue;
      }
      std::string line = text_.substr(pos_, nl - pos_);
      pos_ = nl + 1;
      if (line.empty()) {
        if (has_data) return std::optional<SseEvent>(std::move(event));
        event = SseEvent();
        continue;
      }
      if (line[0] == ':') continue;
      size_t colon = line.find(':');
      std::string field = line.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (field == "id") {
        event.id = value;
      } else if (field == "event") {
        event.name = value;
      } else if (field == "data") {
        if (has_data) event.data += '\n';
        event.data += value;
        has_data = true;
      }
    }
  }

  void Interrupt() override {
    interrupted_ = true;
    socket_->Shutdown();
  }

  // The response head (and, when not 200, the body) read through the stream's own buffer.
  Result<HttpResponse> Head() {
    auto head = ReadHead(reader_);
    if (!head.ok() || head->status == 200) return head;
    if (!head->Header("content-length").empty()) {
      auto b = reader_.Exactly(static_cast<size_t>(std::stoull(head->Header("content-length"))));
      if (b.ok()) head->body = std::move(*b);
    }
    return head;
  }

  void NoTimeout() { socket_->SetTimeout(std::chrono::milliseconds(0)); }

 private:
  std::unique_ptr<Socket> socket_;
  Reader reader_;
  std::string text_;
  size_t pos_ = 0;
  bool ended_ = false;
  std::atomic<bool> interrupted_{false};
};

std::string MethodName(const std::string& method) {
  // Go's url.Error prints the method capitalised: "Post", "Get".
  if (method.empty()) return method;
  std::string out = method.substr(0, 1);
  for (size_t i = 1; i < method.size(); ++i) {
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(method[i])));
  }
  return out;
}

}  // namespace

struct HttpClient::Tls {
  std::mutex mu;  // guards the lazy creation of ctx: streams open from several threads
  SSL_CTX* ctx = nullptr;
  ~Tls() {
    if (ctx != nullptr) SSL_CTX_free(ctx);
  }
};

std::string HttpResponse::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

Result<Endpoint> ParseEndpoint(std::string_view url) {
  Endpoint ep;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return Status(kTransportError, "missing scheme in URL '" + std::string(url) + "'");
  }
  ep.scheme = Lower(std::string(url.substr(0, scheme_end)));
  std::string_view rest = url.substr(scheme_end + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) ep.base = std::string(rest.substr(slash));
  while (!ep.base.empty() && ep.base.back() == '/') ep.base.pop_back();
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status(kTransportError, "malformed host in URL");
    ep.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      ep.port = std::string(authority.substr(close + 2));
    }
  } else {
    size_t colon = authority.rfind(':');
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) ep.port = std::string(authority.substr(colon + 1));
  }
  if (ep.port.empty()) ep.port = ep.scheme == "https" ? "443" : "80";
  if (ep.host.empty())
    return Status(kTransportError, "missing host in URL '" + std::string(url) + "'");
  return ep;
}

HttpClient::HttpClient(Endpoint endpoint, TlsOptions tls, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)),
      tls_options_(std::move(tls)),
      timeout_(timeout),
      tls_(std::make_unique<Tls>()) {}

HttpClient::~HttpClient() = default;

std::string HttpClient::Url(const std::string& path) const {
  std::string host =
      endpoint_.host.find(':') != std::string::npos ? "[" + endpoint_.host + "]" : endpoint_.host;
  return endpoint_.scheme + "://" + host + ":" + endpoint_.port + endpoint_.base + path;
}

namespace {

Status MakeContext(const TlsOptions& options, SSL_CTX** out) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return Status(kTransportError, OpenSslError());
  *out = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (!options.skip_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (!options.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
        return Status(kTransportError,
                      "failed to load CA cert file '" + options.ca_file + "': " + OpenSslError());
      }
    } else {
      SSL_CTX_set_default_verify_paths(ctx);
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
      return Status(kTransportError, "failed to load client cert file '" + options.cert_file +
                                         "': " + OpenSslError());
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return Status(kTransportError,
                    "failed to load client key file '" + options.key_file + "': " + OpenSslError());
    }
  }
  return Status::Ok();
}

}  // namespace

namespace {

// Connects and, for https, shakes hands. The context is created on first use.
Result<std::unique_ptr<Socket>> Dial(const Endpoint& ep, const TlsOptions& options, SSL_CTX** ctx,
                                     std::mutex* mu, std::chrono::milliseconds timeout) {
  auto socket = std::make_unique<Socket>();
  Status s = socket->Connect(ep, timeout);
  if (!s.ok()) return s;
  if (ep.scheme == "https") {
    SSL_CTX* context = nullptr;
    {
      std::lock_guard<std::mutex> lock(*mu);
      if (*ctx == nullptr) {
        SSL_CTX* made = nullptr;
        s = MakeContext(options, &made);
        if (!s.ok()) {
          SSL_CTX_free(made);
          return s;
        }
        *ctx = made;
      }
      context = *ctx;
    }
    s = socket->StartTls(context, ep, options.skip_verify);
    if (!s.ok()) return s;
  }
  return socket;
}

std::string RequestHead(const std::string& method, const Endpoint& ep, const std::string& path,
                        size_t body_size, const std::string& content_type,
                        const std::string& extra) {
  std::string head = method + " " + ep.base + path + " HTTP/1.1\r\nHost: " + ep.host + ":" +
                     ep.port + "\r\nUser-Agent: bbsctl\r\n";
  if (!content_type.empty()) head += "Content-Type: " + content_type + "\r\n";
  head += "Content-Length: " + std::to_string(body_size) + "\r\n";
  head += extra;
  head += "\r\n";
  return head;
}

Status Decorate(const Status& s, const std::string& method, const std::string& url) {
  if (s.code() == ErrorCode::kTimeout) {
    return Status(ErrorCode::kTimeout,
                  MethodName(method) + " \"" + url +
                      "\": context deadline exceeded (Client.Timeout exceeded while awaiting "
                      "headers)");
  }
  return Status(s.code(), MethodName(method) + " \"" + url + "\": " + s.message());
}

}  // namespace

Result<HttpResponse> HttpClient::Request(const std::string& method, const std::string& path,
                                         std::string_view body, const std::string& content_type) {
  std::string url = Url(path);
  auto socket = Dial(endpoint_, tls_options_, &tls_->ctx, &tls_->mu, timeout_);
  if (!socket.ok()) return Decorate(socket.status(), method, url);
  std::string request =
      RequestHead(method, endpoint_, path, body.size(), content_type, "Connection: close\r\n");
  request.append(body);
  Status s = (*socket)->WriteAll(request);
  if (!s.ok()) return Decorate(s, method, url);
  Reader reader(**socket);
  auto resp = ReadHead(reader);
  if (!resp.ok()) return Decorate(resp.status(), method, url);
  if (Lower(resp->Header("transfer-encoding")) == "chunked") {
    for (;;) {
      auto chunk = reader.Chunk();
      if (!chunk.ok()) return Decorate(chunk.status(), method, url);
      if (chunk->empty()) break;
      resp->body += *chunk;
    }
  } else if (!resp->Header("content-length").empty()) {
    auto b = reader.Exactly(static_cast<size_t>(std::stoull(resp->Header("content-length"))));
    if (!b.ok()) return Decorate(b.status(), method, url);
    resp->body = std::move(*b);
  } else {
    auto b = reader.UntilEof();
    if (!b.ok()) return Decorate(b.status(), method, url);
    resp->body = std::move(*b);
  }
  return resp;
}

Result<HttpClient::Opened> HttpClient::OpenStream(const std::string& method,
                                                  const std::string& path, std::string_view body,
                                                  const std::string& last_event_id) {
  std::string url = Url(path);
  auto socket = Dial(endpoint_, tls_options_, &tls_->ctx, &tls_->mu, timeout_);
  if (!socket.ok()) return Decorate(socket.status(), method, url);
  std::string extra = "Accept: text/event-stream\r\n";
  if (!last_event_id.empty()) extra += "Last-Event-ID: " + last_event_id + "\r\n";
  std::string request =
      RequestHead(method, endpoint_, path, body.size(), "application/x-protobuf", extra);
  request.append(body);
  Status s = (*socket)->WriteAll(request);
  if (!s.ok()) return Decorate(s, method, url);
  auto stream = std::make_unique<SseStream>(std::move(*socket));
  auto head = stream->Head();
  if (!head.ok()) return Decorate(head.status(), method, url);
  Opened opened;
  opened.head = std::move(*head);
  if (opened.head.status != 200) return opened;
  stream->NoTimeout();
  opened.stream = std::move(stream);
  return opened;
}

}  // namespace bbs::cli
