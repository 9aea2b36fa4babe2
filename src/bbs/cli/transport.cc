#include "bbs/cli/transport.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <mutex>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "bbs/http/asio.h"

namespace bbs::cli {
namespace {

using namespace bbs::http::asio_names;
using Parser = bhttp::response_parser<bhttp::string_body>;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// An I/O error in Go's words: "connection refused", "EOF".
std::string GoText(const IoError& ec) {
  if (ec == asio::error::eof || ec == bhttp::error::end_of_stream) return "EOF";
  if (ec == bhttp::error::partial_message) return "unexpected EOF";
  if (ec == asio::error::host_not_found) return "no such host";
  return Lower(ec.message());
}

Status IoFailure(const std::string& op, const IoError& ec) {
  if (ec == beast::error::timeout) return Status(ErrorCode::kTimeout, op + ": i/o timeout");
  return Status(kTransportError, op + ": " + GoText(ec));
}

bool IsIpLiteral(const std::string& host) {
  IoError ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// One TCP connection, optionally TLS, driven by Beast's asynchronous operations on a private
// io_context so that tcp_stream's deadline bounds them.
class Connection {
 public:
  // Connects to `url`'s host and port, shaking hands when `context` is set. `timeout` (0 =
  // none) is the deadline of everything up to the response head.
  Status Dial(const url::Url& url, ssl::context* context, bool verify,
              std::chrono::milliseconds timeout) {
    std::string address = url::HostPort{url.host, url.port}.ToString();
    IoError ec;
    tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
    if (ec) return Status(kTransportError, "dial tcp: lookup " + url.host + ": " + GoText(ec));
    if (context != nullptr) {
      tls_.emplace(ioc_, *context);
    } else {
      plain_.emplace(ioc_);
    }
    SetTimeout(timeout);
    ec = Run([&](auto done) { Tcp().async_connect(endpoints, done); });
    if (ec == beast::error::timeout) return IoFailure("dial tcp " + address, ec);
    if (ec) return IoFailure("dial tcp " + address + ": connect", ec);
    Tcp().socket().set_option(tcp::no_delay(true), ec);
    if (!tls_) return Status::Ok();
    SSL* ssl = tls_->native_handle();
    bool ip = IsIpLiteral(url.host);
    if (!ip) SSL_set_tlsext_host_name(ssl, url.host.c_str());
    if (verify && ip) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str());
    if (verify && !ip) SSL_set1_host(ssl, url.host.c_str());
    ec = Run([&](auto done) { tls_->async_handshake(ssl::stream_base::client, done); });
    if (!ec) return Status::Ok();
    long verified = SSL_get_verify_result(ssl);
    if (ec != beast::error::timeout && verified != X509_V_OK) {
      return Status(kTransportError, std::string("tls: handshake failed: x509: ") +
                                         X509_verify_cert_error_string(verified));
    }
    return IoFailure("tls: handshake failed", ec);
  }

  void SetTimeout(std::chrono::milliseconds timeout) {
    if (timeout.count() > 0) {
      Tcp().expires_after(timeout);
    } else {
      Tcp().expires_never();
    }
  }

  Status Write(const bhttp::request<bhttp::string_body>& request) {
    IoError ec =
        Run([&](auto done) { WithStream([&](auto& s) { bhttp::async_write(s, request, done); }); });
    return ec ? IoFailure("write", ec) : Status::Ok();
  }

  // Reads into `parser` up to the end of the header or of the message.
  enum class Until { kHeader, kEnd };
  Status Read(Parser& parser, Until until) {
    IoError ec = Run([&](auto done) {
      WithStream([&](auto& s) {
        if (until == Until::kHeader) {
          bhttp::async_read_header(s, buffer_, parser, done);
        } else {
          bhttp::async_read(s, buffer_, parser, done);
        }
      });
    });
    if (ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
        ec == bhttp::error::partial_message) {
      return Status(kTransportError, GoText(ec));
    }
    return ec ? IoFailure("read", ec) : Status::Ok();
  }

  // Appends to `out` the raw bytes after the head read so far: those buffered, else what
  // arrives next.
  Status ReadRaw(std::string* out) {
    if (buffer_.size() == 0) {
      size_t n = 0;
      IoError ec = Run([&](auto done) {
        WithStream([&](auto& s) {
          s.async_read_some(buffer_.prepare(16384), [&n, done](const IoError& e, size_t got) {
            n = got;
            done(e);
          });
        });
      });
      buffer_.commit(n);
      if (ec) return Status(kTransportError, GoText(ec));
    }
    out->append(beast::buffers_to_string(buffer_.data()));
    buffer_.consume(buffer_.size());
    return Status::Ok();
  }

  // Shuts the socket down from any thread, failing the operation in progress.
  void Interrupt() {
    asio::post(ioc_, [this] {
      IoError ignored;
      Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

 private:
  beast::tcp_stream& Tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

  template <class F>
  void WithStream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  // Runs the asynchronous operation `start` begins (with a completion handler) to its end.
  template <class Start>
  IoError Run(Start&& start) {
    IoError result;
    start([&result](const IoError& ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  asio::io_context ioc_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
};

HttpResponse HeadOf(const Parser& parser) {
  HttpResponse response;
  response.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    response.headers[Lower(std::string(field.name_string()))] = std::string(field.value());
  }
  return response;
}

// Decodes a chunked body. Upstream ends every chunk-size line of an event stream with an empty
// extension ("1f;\r\n", api.md §4.3), which Beast's parser rejects (RFC 9112 wants a name
// after ';') and Go's reader accepts; so event streams are de-chunked here.
class Dechunker {
 public:
  // Appends the data of the complete chunks in what arrived so far to `out`; false when the
  // framing is malformed.
  bool Feed(std::string_view bytes, std::string* out) {
    raw_.append(bytes);
    while (!done_) {
      size_t eol = raw_.find("\r\n");
      if (eol == std::string::npos) return true;
      size_t size = 0;
      auto [end, ec] = std::from_chars(raw_.data(), raw_.data() + eol, size, 16);
      if (ec != std::errc() || (end != raw_.data() + eol && *end != ';')) return false;
      if (size == 0) {
        done_ = true;  // the last chunk; trailers are not read
      } else if (raw_.size() < eol + 2 + size + 2) {
        return true;
      } else {
        out->append(raw_, eol + 2, size);
        raw_.erase(0, eol + 2 + size + 2);
      }
    }
    return true;
  }
  bool done() const { return done_; }

 private:
  std::string raw_;
  bool done_ = false;
};

// Splits the body of an event stream into server-sent events (api.md §4.4).
class SseStream : public EventStream {
 public:
  explicit SseStream(std::unique_ptr<Connection> connection) : connection_(std::move(connection)) {}

  Result<std::optional<SseEvent>> Next() override {
    SseEvent event;
    bool has_data = false;
    for (;;) {
      size_t nl = text_.find('\n', pos_);
      if (nl == std::string::npos) {
        text_.erase(0, pos_);
        pos_ = 0;
        if (body_.done()) return std::optional<SseEvent>();
        std::string raw;
        Status read = connection_->ReadRaw(&raw);
        if (!read.ok()) {
          if (interrupted_) return std::optional<SseEvent>();
          return read;
        }
        if (!body_.Feed(raw, &text_)) {
          return Status(kTransportError, "malformed chunked encoding");
        }
        continue;
      }
      std::string line = text_.substr(pos_, nl - pos_);
      pos_ = nl + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
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
    connection_->Interrupt();
  }

 private:
  std::unique_ptr<Connection> connection_;
  Dechunker body_;
  std::string text_;
  size_t pos_ = 0;
  std::atomic<bool> interrupted_{false};
};

// Go's url.Error prints the method capitalised: "Post", "Get".
std::string MethodName(const std::string& method) {
  std::string out = Lower(method);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

Status Decorate(const Status& s, const std::string& method, const url::Url& target) {
  std::string prefix = MethodName(method) + " \"" + target.ToString() + "\": ";
  if (s.code() == ErrorCode::kTimeout) {
    return Status(
        ErrorCode::kTimeout,
        prefix + "context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
  }
  return Status(s.code(), prefix + s.message());
}

bhttp::request<bhttp::string_body> MakeRequest(const std::string& method, const url::Url& target,
                                               std::string_view body,
                                               const std::string& content_type) {
  bhttp::request<bhttp::string_body> request;
  request.method_string(method);
  request.target(target.Target());
  request.version(11);
  request.set(bhttp::field::host, target.Authority());
  request.set(bhttp::field::user_agent, "bbsctl");
  if (!content_type.empty()) request.set(bhttp::field::content_type, content_type);
  request.body() = std::string(body);
  request.prepare_payload();
  return request;
}

}  // namespace

struct HttpClient::Tls {
  std::mutex mu;  // guards the lazy creation of context: streams open from several threads
  std::optional<ssl::context> context;
};

std::string HttpResponse::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

HttpClient::HttpClient(url::Url base, TlsOptions tls, std::chrono::milliseconds timeout)
    : base_(std::move(base)),
      tls_options_(std::move(tls)),
      timeout_(timeout),
      tls_(std::make_unique<Tls>()) {}

HttpClient::~HttpClient() = default;

url::Url HttpClient::Target(const std::string& path) const {
  return path.empty() ? base_ : base_.WithRoute(path);
}

namespace {

Status LoadContext(const TlsOptions& options, ssl::context& context) {
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  IoError ec;
  if (options.skip_verify) {
    context.set_verify_mode(ssl::verify_none);
  } else {
    context.set_verify_mode(ssl::verify_peer);
    if (options.ca_file.empty()) {
      context.set_default_verify_paths(ec);
    } else if (context.load_verify_file(options.ca_file, ec); ec) {
      return Status(kTransportError,
                    "failed to load CA cert file '" + options.ca_file + "': " + ec.message());
    }
  }
  if (options.cert_file.empty()) return Status::Ok();
  if (context.use_certificate_chain_file(options.cert_file, ec); ec) {
    return Status(kTransportError,
                  "failed to load client cert file '" + options.cert_file + "': " + ec.message());
  }
  if (context.use_private_key_file(options.key_file, ssl::context::pem, ec); ec) {
    return Status(kTransportError,
                  "failed to load client key file '" + options.key_file + "': " + ec.message());
  }
  return Status::Ok();
}

// Connects (with TLS for https, the context made on first use) and sends the request.
Result<std::unique_ptr<Connection>> Send(const url::Url& target, const TlsOptions& options,
                                         std::mutex& mu, std::optional<ssl::context>& context,
                                         std::chrono::milliseconds timeout,
                                         const bhttp::request<bhttp::string_body>& request) {
  ssl::context* tls = nullptr;
  if (target.scheme == "https") {
    std::lock_guard<std::mutex> lock(mu);
    if (!context) {
      context.emplace(ssl::context::tls_client);
      if (Status s = LoadContext(options, *context); !s.ok()) {
        context.reset();
        return s;
      }
    }
    tls = &*context;
  }
  auto connection = std::make_unique<Connection>();
  if (Status s = connection->Dial(target, tls, !options.skip_verify, timeout); !s.ok()) return s;
  if (Status s = connection->Write(request); !s.ok()) return s;
  return connection;
}

}  // namespace

Result<HttpResponse> HttpClient::Request(const std::string& method, const std::string& path,
                                         std::string_view body, const std::string& content_type) {
  url::Url target = Target(path);
  auto request = MakeRequest(method, target, body, content_type);
  request.keep_alive(false);
  auto connection = Send(target, tls_options_, tls_->mu, tls_->context, timeout_, request);
  if (!connection.ok()) return Decorate(connection.status(), method, target);
  Parser parser;
  parser.body_limit(boost::none);  // long lists
  Status read = (*connection)->Read(parser, Connection::Until::kEnd);
  if (!read.ok()) return Decorate(read, method, target);
  HttpResponse response = HeadOf(parser);
  response.body = std::move(parser.get().body());
  return response;
}

Result<HttpClient::Opened> HttpClient::OpenStream(const std::string& method,
                                                  const std::string& path, std::string_view body,
                                                  const std::string& last_event_id) {
  url::Url target = Target(path);
  auto request = MakeRequest(method, target, body, "application/x-protobuf");
  request.set(bhttp::field::accept, "text/event-stream");
  if (!last_event_id.empty()) request.set("Last-Event-ID", last_event_id);
  auto connection = Send(target, tls_options_, tls_->mu, tls_->context, timeout_, request);
  if (!connection.ok()) return Decorate(connection.status(), method, target);
  Parser parser;
  Status read = (*connection)->Read(parser, Connection::Until::kHeader);
  if (!read.ok()) return Decorate(read, method, target);
  Opened opened;
  opened.head = HeadOf(parser);
  if (opened.head.status != 200) {
    if ((*connection)->Read(parser, Connection::Until::kEnd).ok()) {
      opened.head.body = std::move(parser.get().body());
    }
    return opened;
  }
  (*connection)->SetTimeout(std::chrono::milliseconds(0));
  opened.stream = std::make_unique<SseStream>(std::move(*connection));
  return opened;
}

}  // namespace bbs::cli
