#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bbs::storage::testing {

// A loopback TCP proxy in front of a database server, to make the server "go away" and "come
// back" under a store without touching the server: Down() drops every proxied connection and
// refuses new ones; Up() accepts again on the same port. Thread-safe.
class TcpProxy {
 public:
  // Forwards 127.0.0.1:port() to 127.0.0.1:target_port. Starts up.
  explicit TcpProxy(uint16_t target_port);
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;
  ~TcpProxy();

  uint16_t port() const { return port_; }
  void Down();
  void Up();

 private:
  void Listen();
  void AcceptLoop(int listener);
  static void Pump(int a, int b);

  uint16_t target_port_;
  uint16_t port_ = 0;
  std::mutex mu_;
  int listener_ = -1;
  std::thread acceptor_;
  std::vector<int> sockets_;
  std::vector<std::thread> pumps_;
};

}  // namespace bbs::storage::testing
