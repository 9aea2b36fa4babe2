#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bbs::cli {

// Test PKI made with the openssl command in `dir`: a CA, a server certificate for 127.0.0.1, a
// client certificate, and a second CA that signed neither.
class TlsTestPki {
 public:
  explicit TlsTestPki(const std::string& dir);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  std::string ca_file() const { return dir_ + "/ca.crt"; }
  std::string other_ca_file() const { return dir_ + "/other-ca.crt"; }
  std::string server_cert_file() const { return dir_ + "/server.crt"; }
  std::string server_key_file() const { return dir_ + "/server.key"; }
  std::string client_cert_file() const { return dir_ + "/client.crt"; }
  std::string client_key_file() const { return dir_ + "/client.key"; }

 private:
  std::string dir_;
  std::string error_;
};

// Terminates mutual TLS on 127.0.0.1:port() (client certificates must be signed by the PKI's
// CA) and forwards each connection's bytes to 127.0.0.1:target_port in plain TCP: the tests'
// stand-in for a bbs serving TLS itself. Connections are served on their own threads.
class TlsTestProxy {
 public:
  TlsTestProxy(const TlsTestPki& pki, int target_port);
  ~TlsTestProxy();
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int port() const { return port_; }

 private:
  void AcceptLoop();
  void Serve(int client);

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  void* ctx_ = nullptr;  // SSL_CTX
  std::string error_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

// A plain HTTP server on 127.0.0.1:port(), one connection at a time. By default it answers
// every request with 200 and `body` (the tests' stand-in for the metrics endpoint); with
// `raw_responses` it writes the n-th of them, byte for byte, to the n-th connection and closes
// it (the last one repeats). Records each request's head.
class StaticHttpServer {
 public:
  explicit StaticHttpServer(std::string body, std::vector<std::string> raw_responses = {});
  ~StaticHttpServer();
  int port() const { return port_; }
  std::vector<std::string> Requests();

 private:
  std::string body_;
  std::vector<std::string> raw_;
  std::mutex mu_;
  std::vector<std::string> requests_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace bbs::cli
