// Fuzz target: the router and the HTTP handling around Beast. Each input is written as raw bytes
// to a real http::Server (loopback, one process-wide instance, the BBS route shapes: unary routes
// and a streaming route) on a fresh connection, the sending side is half-closed, and whatever
// comes back is read until the server closes. The router is also asked directly for the
// input's first line as a method and path. Crashes, sanitizer reports and hangs are findings.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "bbs/events/sse.h"
#include "bbs/http/router.h"
#include "bbs/http/server.h"

namespace {

using bbs::http::Request;
using bbs::http::Responder;
using bbs::http::Response;

class OneEventStream final : public bbs::http::Stream {
 public:
  void Start(std::shared_ptr<bbs::http::StreamWriter> writer) override {
    std::string chunk;
    bbs::events::AppendEventChunk(&chunk, "0", bbs::events::EventBody("ping", "x"));
    writer->Write(std::move(chunk));
    writer->Write(std::string(bbs::events::kStreamTerminator));
    writer->Close();
  }
  void Stop() override {}
};

bbs::http::Router BuildRouter() {
  bbs::http::Router router;
  auto echo = [](Request&& request, Responder respond) {
    Response response;
    response.content_type = "application/x-protobuf";
    response.body = request.body.substr(0, 64) + request.request_id + request.last_event_id;
    respond(std::move(response));
  };
  for (const char* path : {"/v1/ping", "/v1/desired_lrp/desire.r2", "/v1/actual_lrps/claim",
                           "/v1/tasks/list.r3", "/v1/actual_lrps/list"}) {
    router.Add("POST", path, path, echo);
  }
  router.Add("GET", "/v1/actual_lrps/list", "get-list", echo);
  router.Add("POST", "/v1/events/lrp_instances.r1", "stream", [](Request&&, Responder respond) {
    respond(bbs::events::EventStreamResponse(std::make_shared<OneEventStream>()));
  });
  return router;
}

bbs::http::Server& TheServer() {
  static bbs::http::Server* server = [] {
    bbs::http::ServerOptions options;
    options.threads = 1;
    options.max_body_bytes = 64 << 10;
    options.max_header_bytes = 16 << 10;
    options.read_timeout = std::chrono::seconds(2);
    options.write_timeout = std::chrono::seconds(2);
    auto* s = new bbs::http::Server(options, BuildRouter());
    if (!s->Start().ok()) std::abort();
    s->SetReady(true);
    return s;
  }();
  return *server;
}

void Exchange(uint16_t port, std::string_view bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) std::abort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Thousands of connections a second can exhaust the ephemeral ports for a moment: a failed
  // connect is the machine's limit, not a finding, so it is retried.
  for (int attempt = 0; ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0;
       ++attempt) {
    if (attempt == 100) std::abort();
    ::close(fd);
    ::usleep(10000);
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) std::abort();
  }
  // libFuzzer's -timeout check is a SIGALRM every timeout/2+1 s, installed without SA_RESTART:
  // any of these calls may fail with EINTR, which is no finding. (poll() is never restarted; an
  // EINTR taken for a timeout once made this harness report a stalled server after a few
  // thousand inputs, docs/reliability.md.)
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server may close early (400, 413, 431)
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  ::shutdown(fd, SHUT_WR);
  char buf[4096];
  // The server must close a half-closed connection once it has answered what it could. The
  // bound is generous: on a loaded machine a sanitizer build stalls for seconds at times.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      std::fprintf(stderr,
                   "router_fuzz: no answer or close within 20 s (poll: %d, errno %d); "
                   "%zu connections open\n",
                   ready, ready < 0 ? errno : 0, TheServer().connection_count());
      std::abort();
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
  // Reset rather than close: no TIME_WAIT left behind on this side for every input.
  linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  static const bbs::http::Router router = BuildRouter();
  size_t space = in.find(' ');
  size_t line_end = in.find("\r\n");
  if (space != std::string_view::npos && line_end != std::string_view::npos && space < line_end) {
    Response miss;
    (void)router.Find(in.substr(0, space), in.substr(space + 1, line_end - space - 1), &miss);
  }
  Exchange(TheServer().port(), in);
  return 0;
}
