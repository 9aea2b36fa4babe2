#include "bbs/storage/tcp_proxy_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace bbs::storage::testing {

TcpProxy::TcpProxy(uint16_t target_port) : target_port_(target_port) { Listen(); }

TcpProxy::~TcpProxy() {
  Down();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& pump : pumps_) {
    pump.join();
  }
}

void TcpProxy::Listen() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    throw std::runtime_error("proxy: cannot listen");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = fd;
  acceptor_ = std::thread([this, fd] { AcceptLoop(fd); });
}

void TcpProxy::AcceptLoop(int listener) {
  while (true) {
    int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      return;  // Down() shut the listener
    }
    int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(target_port_);
    if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(client);
      ::close(server);
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    sockets_.push_back(client);
    sockets_.push_back(server);
    pumps_.emplace_back([client, server] { Pump(client, server); });
  }
}

void TcpProxy::Pump(int a, int b) {
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char buffer[65536];
  while (::poll(fds, 2, -1) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      ssize_t n = ::read(fds[i].fd, buffer, sizeof(buffer));
      if (n <= 0) {
        return;
      }
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::send(fds[1 - i].fd, buffer + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
        if (w <= 0) {
          return;
        }
        off += w;
      }
    }
  }
}

void TcpProxy::Down() {
  std::thread acceptor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (listener_ >= 0) {
      ::shutdown(listener_, SHUT_RDWR);
      ::close(listener_);
      listener_ = -1;
    }
    for (int fd : sockets_) {
      ::shutdown(fd, SHUT_RDWR);
    }
    acceptor = std::move(acceptor_);
  }
  if (acceptor.joinable()) {
    acceptor.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& pump : pumps_) {
    pump.join();
  }
  pumps_.clear();
  for (int fd : sockets_) {
    ::close(fd);
  }
  sockets_.clear();
}

void TcpProxy::Up() { Listen(); }

}  // namespace bbs::storage::testing
