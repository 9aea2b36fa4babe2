#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "bbs/base/status.h"
#include "bbs/http/test_client.h"
#include "bbs/models/models.h"

// Helpers shared by the reliability tests: requests to a real bbs, a desired LRP, the
// resident memory of a process and a raw TCP connection for clients that misbehave on purpose.
namespace bbs::reliability {

// A valid desired LRP with `instances` instances.
models::DesiredLRP NewLrp(const std::string& guid, int32_t instances);

// POSTs `request` as protobuf to `path` and parses the 200 answer into *response. An error
// Status when the request failed, the status was not 200 or the body did not parse.
Status Call(http::TestClient& client, std::string_view path,
            const google::protobuf::Message& request, google::protobuf::Message* response);

// The resident set size of `pid` in KiB (VmRSS), or -1 when it cannot be read.
int64_t RssKib(pid_t pid);
// The peak resident set size of `pid` in KiB (VmHWM), or -1 when it cannot be read.
int64_t PeakRssKib(pid_t pid);

// A blocking TCP connection to 127.0.0.1:port that sends whatever it is given. Not thread-safe.
class RawConnection {
 public:
  RawConnection() = default;
  ~RawConnection();
  RawConnection(RawConnection&& other) noexcept;
  RawConnection& operator=(RawConnection&& other) noexcept;

  // Connects; false (with errno intact) on failure. A positive `receive_buffer` sets SO_RCVBUF
  // before connecting, so that the advertised window stays that small.
  bool Connect(uint16_t port, int receive_buffer = 0);
  // Sends every byte, false when the peer reset or closed the connection.
  bool Send(std::string_view bytes);
  // Half-closes the sending side.
  void ShutdownWrite();
  // Reads until the peer closes, `timeout` passes or `limit` bytes arrived; *closed says
  // whether the peer closed (EOF or reset).
  std::string Read(std::chrono::milliseconds timeout, bool* closed, size_t limit = 1 << 20);
  int fd() const { return fd_; }
  void Close();

 private:
  int fd_ = -1;
};

}  // namespace bbs::reliability
