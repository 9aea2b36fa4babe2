#include "bbs/metrics/debug_server.h"

#include <utility>

#include "bbs/base/log_level_name.h"
#include "bbs/http/router.h"
#include "bbs/http/server.h"

namespace bbs::metrics {
namespace {

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r\n";
  auto begin = s.find_first_not_of(ws);
  if (begin == std::string_view::npos) return {};
  auto end = s.find_last_not_of(ws);
  return s.substr(begin, end - begin + 1);
}

http::Response Text(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

}  // namespace

bool ParseDebugLogLevel(std::string_view text, LogLevel* out) {
  text = Trim(text);
  if (text == "debug" || text == "DEBUG" || text == "d" || text == "0") {
    *out = LogLevel::kDebug;
  } else if (text == "info" || text == "INFO" || text == "i" || text == "1") {
    *out = LogLevel::kInfo;
  } else if (text == "error" || text == "ERROR" || text == "e" || text == "2") {
    *out = LogLevel::kError;
  } else if (text == "fatal" || text == "FATAL" || text == "f" || text == "3") {
    *out = LogLevel::kFatal;
  } else {
    return false;
  }
  return true;
}

DebugServer::DebugServer(DebugServerOptions options, const BbsMetrics* metrics,
                         std::shared_ptr<LogSink> sink, Logger logger) {
  http::Router router;
  router.Add("GET", "/metrics", "Metrics", [metrics](http::Request&&, http::Responder respond) {
    http::Response r = Text(200, metrics->PrometheusText());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    respond(std::move(r));
  });
  router.Add("GET", "/log-level", "GetLogLevel", [sink](http::Request&&, http::Responder respond) {
    respond(Text(200, std::string(LogLevelName(sink->level())) + "\n"));
  });
  auto set_level = [sink, logger](http::Request&& request, http::Responder respond) {
    LogLevel level;
    if (!ParseDebugLogLevel(request.body, &level)) {
      respond(Text(400, "invalid log level; use debug, info, error or fatal\n"));
      return;
    }
    sink->SetLevel(level);
    logger.Info("log-level-changed", {{"level", LogLevelName(level)}});
    respond(Text(200, std::string(LogLevelName(level)) + "\n"));
  };
  router.Add("POST", "/log-level", "SetLogLevel", set_level);
  router.Add("PUT", "/log-level", "SetLogLevel", set_level);
  router.Add("GET", "/healthz", "Healthz",
             [](http::Request&&, http::Responder respond) { respond(Text(200, "ok\n")); });

  http::ServerOptions server_options;
  server_options.host = std::move(options.host);
  server_options.port = options.port;
  server_options.threads = 1;
  server_options.max_body_bytes = 4096;
  server_options.logger = logger.Session("http");
  server_ = std::make_unique<http::Server>(std::move(server_options), std::move(router));
}

DebugServer::~DebugServer() { Stop(); }

Status DebugServer::Start() {
  Status s = server_->Start();
  if (s.ok()) server_->SetReady(true);
  return s;
}

void DebugServer::Stop() { server_->Stop(); }

uint16_t DebugServer::port() const { return server_->port(); }

}  // namespace bbs::metrics
