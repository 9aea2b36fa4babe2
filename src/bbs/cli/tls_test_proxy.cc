#include "bbs/cli/tls_test_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace bbs::cli {
namespace {

bool Sh(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace

TlsTestPki::TlsTestPki(const std::string& dir) : dir_(dir) {
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  std::ofstream(dir_ + "/server.ext") << "subjectAltName=IP:127.0.0.1\n";
  std::ofstream(dir_ + "/client.ext") << "extendedKeyUsage=clientAuth\n";
  const std::vector<std::string> steps = {
      "openssl req -x509 " + key + " -keyout " + dir_ + "/ca.key -out " + dir_ +
          "/ca.crt -days 1 -subj /CN=bbsctl-test-ca",
      "openssl req -x509 " + key + " -keyout " + dir_ + "/other-ca.key -out " + dir_ +
          "/other-ca.crt -days 1 -subj /CN=other-ca",
      "openssl req " + key + " -keyout " + dir_ + "/server.key -out " + dir_ +
          "/server.csr -subj /CN=127.0.0.1",
      "openssl x509 -req -in " + dir_ + "/server.csr -CA " + dir_ + "/ca.crt -CAkey " + dir_ +
          "/ca.key -CAcreateserial -out " + dir_ + "/server.crt -days 1 -extfile " + dir_ +
          "/server.ext",
      "openssl req " + key + " -keyout " + dir_ + "/client.key -out " + dir_ +
          "/client.csr -subj /CN=bbsctl",
      "openssl x509 -req -in " + dir_ + "/client.csr -CA " + dir_ + "/ca.crt -CAkey " + dir_ +
          "/ca.key -CAcreateserial -out " + dir_ + "/client.crt -days 1 -extfile " + dir_ +
          "/client.ext",
  };
  for (const auto& step : steps) {
    if (!Sh(step)) {
      error_ = "failed: " + step;
      return;
    }
  }
}

TlsTestProxy::TlsTestProxy(const TlsTestPki& pki, int target_port) : target_port_(target_port) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  ctx_ = ctx;
  if (SSL_CTX_use_certificate_chain_file(ctx, pki.server_cert_file().c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, pki.server_key_file().c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_load_verify_locations(ctx, pki.ca_file().c_str(), nullptr) != 1) {
    error_ = "cannot load the test PKI";
    return;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0) {
    error_ = "cannot listen";
    return;
  }
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TlsTestProxy::~TlsTestProxy() {
  stopping_ = true;
  if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : connections_) t.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
}

void TlsTestProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    connections_.emplace_back([this, client] { Serve(client); });
  }
}

void TlsTestProxy::Serve(int client) {
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
  SSL_set_fd(ssl, client);
  int upstream = -1;
  if (SSL_accept(ssl) == 1) {
    upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(target_port_));
    if (connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      char buf[16384];
      for (bool open = true; open && !stopping_;) {
        if (SSL_pending(ssl) == 0) {
          pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
          if (poll(fds, 2, 100) <= 0) continue;
          if ((fds[1].revents & (POLLIN | POLLHUP)) != 0) {
            ssize_t n = read(upstream, buf, sizeof(buf));
            if (n <= 0 || SSL_write(ssl, buf, static_cast<int>(n)) <= 0) break;
          }
          if ((fds[0].revents & (POLLIN | POLLHUP)) == 0) continue;
        }
        int n = SSL_read(ssl, buf, sizeof(buf));
        if (n <= 0) break;
        open = write(upstream, buf, static_cast<size_t>(n)) == n;
      }
    }
  }
  SSL_free(ssl);
  if (upstream >= 0) close(upstream);
  close(client);
}

StaticHttpServer::StaticHttpServer(std::string body, std::vector<std::string> raw_responses)
    : body_(std::move(body)), raw_(std::move(raw_responses)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(listen_fd_, 16);
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      size_t served;
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(request);
        served = requests_.size() - 1;
      }
      std::string response = !raw_.empty()
                                 ? raw_[std::min(served, raw_.size() - 1)]
                                 : "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                                   "Content-Length: " +
                                       std::to_string(body_.size()) +
                                       "\r\nConnection: close\r\n\r\n" + body_;
      if (write(fd, response.data(), response.size()) < 0) {
      }
      close(fd);
    }
  });
}

std::vector<std::string> StaticHttpServer::Requests() {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

StaticHttpServer::~StaticHttpServer() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
}

}  // namespace bbs::cli
