#include "reliability_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <utility>

namespace bbs::reliability {

models::DesiredLRP NewLrp(const std::string& guid, int32_t instances) {
  models::DesiredLRP lrp;
  lrp.set_process_guid(guid);
  lrp.set_domain("cf-apps");
  lrp.set_root_fs("preloaded:cflinuxfs4");
  lrp.set_instances(instances);
  lrp.set_log_guid("log-" + guid);
  lrp.set_memory_mb(256);
  lrp.set_disk_mb(1024);
  auto* run = lrp.mutable_action()->mutable_run_action();
  run->set_path("/bin/sleep");
  run->add_args("1000");
  run->set_user("vcap");
  (*lrp.mutable_metric_tags())["source_id"].set_static_("app-guid");
  return lrp;
}

Status Call(http::TestClient& client, std::string_view path,
            const google::protobuf::Message& request, google::protobuf::Message* response) {
  auto reply = client.Send("POST", path, request.SerializeAsString(),
                           {{"Content-Type", "application/x-protobuf"}});
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return Status(ErrorCode::kUnknownError,
                  std::string(path) + " answered " + std::to_string(reply->status));
  }
  if (!response->ParseFromString(reply->body)) {
    return Status(ErrorCode::kUnknownError, std::string(path) + ": undecodable response");
  }
  return Status::Ok();
}

namespace {

int64_t StatusField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

}  // namespace

int64_t RssKib(pid_t pid) { return StatusField(pid, "VmRSS"); }
int64_t PeakRssKib(pid_t pid) { return StatusField(pid, "VmHWM"); }

RawConnection::~RawConnection() { Close(); }

RawConnection::RawConnection(RawConnection&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

RawConnection& RawConnection::operator=(RawConnection&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

bool RawConnection::Connect(uint16_t port, int receive_buffer) {
  Close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  if (receive_buffer > 0) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int saved = errno;
    Close();
    errno = saved;
    return false;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void RawConnection::ShutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

std::string RawConnection::Read(std::chrono::milliseconds timeout, bool* closed, size_t limit) {
  std::string out;
  *closed = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  while (out.size() < limit) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *closed = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

void RawConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace bbs::reliability
