#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/metrics/bbs_metrics.h"

namespace bbs::http {
class Server;
}  // namespace bbs::http

namespace bbs::metrics {

struct DebugServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = any free port; read it back with port()
};

// The debug listener (`debug_address` / -debugAddr), plain HTTP:
//   GET /metrics              Prometheus text format of every metric (BbsMetrics).
//   GET /log-level            the current level name ("info\n").
//   POST|PUT /log-level       body = a level as upstream's debug server accepts it ("debug",
//                             "DEBUG", "d", "0", ... "fatal", "FATAL", "f", "3"; surrounding
//                             whitespace ignored); 200 with the new level name, 400 for
//                             anything else (upstream answered 200 and changed nothing).
//   GET /healthz              liveness: 200 "ok\n" while the process serves.
// Unknown paths get 404. Go's pprof endpoints have no equivalent here. Thread-safe.
class DebugServer {
 public:
  // `metrics` must outlive the server; `sink` is the log sink whose level is switched.
  DebugServer(DebugServerOptions options, const BbsMetrics* metrics, std::shared_ptr<LogSink> sink,
              Logger logger);
  ~DebugServer();
  DebugServer(const DebugServer&) = delete;
  DebugServer& operator=(const DebugServer&) = delete;

  // Binds and starts serving. Fails when the address cannot be bound.
  Status Start();
  void Stop();
  uint16_t port() const;

 private:
  std::unique_ptr<http::Server> server_;
};

// Parses a level the way upstream's /log-level does. Returns false for anything else.
bool ParseDebugLogLevel(std::string_view text, LogLevel* out);

}  // namespace bbs::metrics
