#include "bbs/http/test_client.h"

#include <openssl/ssl.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "bbs/http/asio.h"

namespace bbs::http {
namespace internal {
namespace {

using namespace bbs::http::asio_names;
using Millis = std::chrono::milliseconds;

Status IoFailure(std::string_view what, const IoError& ec) {
  return Status(ErrorCode::kUnknownError, std::string(what) + ": " + ec.message());
}

Status Timeout(std::string_view what) {
  return Status(ErrorCode::kTimeout, std::string(what) + ": timed out");
}

bool HasHeaderNamed(const HeaderList& headers, std::string_view name) {
  return FindHeader(headers, name) != nullptr;
}

}  // namespace

class TestClientImpl {
 public:
  TestClientImpl(uint16_t port, Millis timeout, const std::optional<TestClientTls>& tls)
      : port_(port), timeout_(timeout), plain_(ioc_) {
    if (!tls) return;
    context_.emplace(ssl::context::tls_client);
    SSL_CTX* native = context_->native_handle();
    if (tls->max_version != 0) {
      SSL_CTX_set_security_level(native, 0);
      SSL_CTX_set_min_proto_version(native, 0);
      SSL_CTX_set_max_proto_version(native, tls->max_version);
      SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0");
    }
    if (!tls->tls12_ciphers.empty()) SSL_CTX_set_cipher_list(native, tls->tls12_ciphers.c_str());
    IoError ec;
    if (!tls->ca_file.empty()) {
      context_->load_verify_file(tls->ca_file, ec);
      context_->set_verify_mode(ssl::verify_peer, ec);
    }
    if (!tls->cert_file.empty() && !tls->key_file.empty()) {
      context_->use_certificate_chain_file(tls->cert_file, ec);
      context_->use_private_key_file(tls->key_file, ssl::context::pem, ec);
    }
  }

  Status Connect() {
    if (socket().is_open()) return Status::Ok();
    buffer_.clear();
    if (context_) tls_.emplace(ioc_, *context_);
    IoError ec;
    socket().connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port_), ec);
    if (ec) {
      Close();
      return IoFailure("connect", ec);
    }
    socket().set_option(tcp::no_delay(true), ec);
    ++connections_;
    if (!tls_) return Status::Ok();
    return RunOrClose("tls handshake", [&](auto handler) {
      tls_->async_handshake(ssl::stream_base::client,
                            [handler](const IoError& result) { handler(result, 0); });
    });
  }

  void Close() {
    IoError ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
    buffer_.clear();
  }

  Status Write(std::string_view bytes) {
    if (Status status = Connect(); !status.ok()) return status;
    return RunOrClose("write", [&](auto handler) {
      WithStream([&](auto& stream) {
        asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()), handler);
      });
    });
  }

  Result<TestResponse> ReadResponse(std::string_view request_method) {
    if (!socket().is_open()) return Status(ErrorCode::kUnknownError, "read: not connected");
    for (;;) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(boost::none);
      parser.header_limit(1 << 20);
      if (request_method == "HEAD") parser.skip(true);
      Status read = RunOrClose("read response", [&](auto handler) {
        WithStream([&](auto& stream) { bhttp::async_read(stream, buffer_, parser, handler); });
      });
      if (!read.ok()) return read;
      auto& message = parser.get();
      int status = static_cast<int>(message.result_int());
      if (status / 100 == 1 && status != 101) continue;
      TestResponse response;
      response.status = status;
      for (const auto& field : message) {
        response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      response.body = std::move(message.body());
      if (!message.keep_alive()) Close();
      return response;
    }
  }

  Result<std::string> ReadSome(Millis timeout) {
    if (buffer_.size() > 0) return TakeBuffered(buffer_.size());
    if (!socket().is_open()) return Status(ErrorCode::kUnknownError, "read: not connected");
    IoError ec;
    if (ReadMore(timeout, &ec)) return Timeout("read");
    if (ec == asio::error::eof) return std::string();
    if (ec) return IoFailure("read", ec);
    return TakeBuffered(buffer_.size());
  }

  Result<std::string> ReadUntil(std::string_view needle, Millis timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::string_view have(static_cast<const char*>(buffer_.data().data()), buffer_.size());
      size_t at = have.find(needle);
      if (at != std::string_view::npos) return TakeBuffered(at + needle.size());
      if (!socket().is_open()) return Status(ErrorCode::kUnknownError, "read: not connected");
      auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
      if (left <= Millis(0)) return Timeout("read until \"" + std::string(needle) + "\"");
      IoError ec;
      if (ReadMore(left, &ec)) return Timeout("read until \"" + std::string(needle) + "\"");
      if (ec == asio::error::eof) {
        return Status(
            ErrorCode::kUnknownError,
            "connection closed before \"" + std::string(needle) + "\"; got: " + std::string(have));
      }
      if (ec) return IoFailure("read", ec);
    }
  }

  Result<std::string> ReadToEof(Millis timeout) {
    if (!socket().is_open()) return TakeBuffered(buffer_.size());
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
      if (left <= Millis(0)) return Timeout("read to end of stream");
      IoError ec;
      if (ReadMore(left, &ec)) return Timeout("read to end of stream");
      if (ec == asio::error::eof) {
        Result<std::string> all = TakeBuffered(buffer_.size());
        Close();
        return all;
      }
      if (ec) return IoFailure("read", ec);
    }
  }

  bool connected() const { return socket().is_open(); }
  int connections() const { return connections_; }
  uint16_t port() const { return port_; }
  Millis timeout() const { return timeout_; }

 private:
  // Runs one asynchronous operation for at most `timeout`. Returns true when it timed out
  // (the operation is then cancelled); otherwise *ec is its result.
  template <typename Start>
  bool Run(Start&& start, Millis timeout, IoError* ec) {
    bool done = false;
    start([&](const IoError& result, size_t) {
      *ec = result;
      done = true;
    });
    ioc_.restart();
    ioc_.run_for(timeout);
    if (done) return false;
    IoError ignored;
    socket().cancel(ignored);
    ioc_.restart();
    ioc_.run();
    return true;
  }

  // Run() for at most timeout_, closing the connection when the operation times out or fails.
  template <typename Start>
  Status RunOrClose(std::string_view what, Start&& start) {
    IoError ec;
    const bool timed_out = Run(std::forward<Start>(start), timeout_, &ec);
    if (!timed_out && !ec) return Status::Ok();
    Close();
    return timed_out ? Timeout(what) : IoFailure(what, ec);
  }

  // Appends what arrives next to buffer_. True on timeout.
  bool ReadMore(Millis timeout, IoError* ec) {
    return Run(
        [&](auto handler) {
          WithStream([&](auto& stream) {
            stream.async_read_some(buffer_.prepare(64 * 1024),
                                   [this, handler](const IoError& result, size_t n) {
                                     buffer_.commit(n);
                                     handler(IsEof(result) ? asio::error::eof : result, n);
                                   });
          });
        },
        timeout, ec);
  }

  tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
  const tcp::socket& socket() const { return tls_ ? tls_->next_layer() : plain_; }

  template <typename Fn>
  void WithStream(Fn&& fn) {
    if (tls_) {
      fn(*tls_);
    } else {
      fn(plain_);
    }
  }

  // A TLS peer that closes without close_notify ends the stream too.
  static bool IsEof(const IoError& ec) {
    return ec == asio::error::eof || ec == ssl::error::stream_truncated;
  }

  std::string TakeBuffered(size_t n) {
    std::string out(static_cast<const char*>(buffer_.data().data()), n);
    buffer_.consume(n);
    return out;
  }

  const uint16_t port_;
  const Millis timeout_;
  asio::io_context ioc_{1};
  std::optional<ssl::context> context_;  // set for TLS
  tcp::socket plain_;
  std::optional<ssl::stream<tcp::socket>> tls_;  // per connection, for TLS
  beast::flat_buffer buffer_;
  int connections_ = 0;
};

}  // namespace internal

std::string TestResponse::Header(std::string_view name) const { return HeaderValue(headers, name); }

bool TestResponse::HasHeader(std::string_view name) const {
  return internal::HasHeaderNamed(headers, name);
}

TestClient::TestClient(uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<internal::TestClientImpl>(port, timeout, std::nullopt)) {}

TestClient::TestClient(uint16_t port, const std::optional<TestClientTls>& tls,
                       std::chrono::milliseconds timeout)
    : impl_(std::make_unique<internal::TestClientImpl>(port, timeout, tls)) {}

TestClient::~TestClient() = default;

Result<TestResponse> TestClient::Send(std::string_view method, std::string_view path,
                                      std::string_view body, const HeaderList& headers) {
  if (Status status = StartRequest(method, path, body, headers); !status.ok()) return status;
  return impl_->ReadResponse(method);
}

Status TestClient::StartRequest(std::string_view method, std::string_view path,
                                std::string_view body, const HeaderList& headers) {
  return impl_->Write(FormatRequest(method, path, body, headers, impl_->port()));
}

Status TestClient::Write(std::string_view bytes) { return impl_->Write(bytes); }

Result<TestResponse> TestClient::SendRaw(std::string_view bytes, std::string_view request_method) {
  if (Status status = impl_->Write(bytes); !status.ok()) return status;
  return impl_->ReadResponse(request_method);
}

Result<TestResponse> TestClient::ReadResponse(std::string_view request_method) {
  return impl_->ReadResponse(request_method);
}

Result<std::string> TestClient::ReadSome() { return impl_->ReadSome(impl_->timeout()); }
Result<std::string> TestClient::ReadSome(std::chrono::milliseconds timeout) {
  return impl_->ReadSome(timeout);
}
Result<std::string> TestClient::ReadUntil(std::string_view needle) {
  return impl_->ReadUntil(needle, impl_->timeout());
}
Result<std::string> TestClient::ReadUntil(std::string_view needle,
                                          std::chrono::milliseconds timeout) {
  return impl_->ReadUntil(needle, timeout);
}
Result<std::string> TestClient::ReadToEof() { return impl_->ReadToEof(impl_->timeout()); }
Result<std::string> TestClient::ReadToEof(std::chrono::milliseconds timeout) {
  return impl_->ReadToEof(timeout);
}

Status TestClient::Connect() { return impl_->Connect(); }
void TestClient::Close() { impl_->Close(); }
bool TestClient::connected() const { return impl_->connected(); }
int TestClient::connections() const { return impl_->connections(); }

std::string TestClient::FormatRequest(std::string_view method, std::string_view path,
                                      std::string_view body, const HeaderList& headers,
                                      uint16_t port) {
  std::string out;
  out.reserve(128 + body.size());
  out.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  if (!internal::HasHeaderNamed(headers, "Host")) {
    out.append("Host: 127.0.0.1:").append(std::to_string(port)).append("\r\n");
  }
  if (!internal::HasHeaderNamed(headers, "Content-Length") &&
      !internal::HasHeaderNamed(headers, "Transfer-Encoding")) {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  for (const auto& [name, value] : headers)
    out.append(name).append(": ").append(value).append("\r\n");
  out.append("\r\n").append(body);
  return out;
}

}  // namespace bbs::http
