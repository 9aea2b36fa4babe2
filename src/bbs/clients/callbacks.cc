#include "bbs/clients/callbacks.h"

#include <utility>

#include "bbs/base/go_json.h"

namespace bbs::clients {

std::string EncodeTaskCallback(const std::string& task_guid, bool failed,
                               const std::string& failure_reason, const std::string& result,
                               const std::string& annotation, int64_t created_at) {
  std::string out = "{\"task_guid\":";
  AppendGoJsonString(out, task_guid);
  out += failed ? ",\"failed\":true" : ",\"failed\":false";
  out += ",\"failure_reason\":";
  AppendGoJsonString(out, failure_reason);
  out += ",\"result\":";
  AppendGoJsonString(out, result);
  if (!annotation.empty()) {
    out += ",\"annotation\":";
    AppendGoJsonString(out, annotation);
  }
  out += ",\"created_at\":";
  AppendGoJsonInt(out, created_at);
  out += '}';
  return out;
}

Result<std::unique_ptr<HttpCallbacks>> HttpCallbacks::Create(std::chrono::milliseconds timeout,
                                                             const Logger& logger, TlsOptions tls) {
  HttpClientOptions options;
  options.timeout = timeout;
  options.tls = std::move(tls);
  auto client = HttpClient::Create(std::move(options));
  if (!client.ok()) return client.status();
  return std::make_unique<HttpCallbacks>(logger, std::move(*client));
}

HttpCallbacks::HttpCallbacks(const Logger& logger, std::shared_ptr<HttpTransport> transport)
    : logger_(logger), transport_(std::move(transport)) {}

CallbackOutcome HttpCallbacks::Post(const std::string& url, const std::string& json_body) {
  HttpRequest request;
  request.method = "POST";
  request.url = url;
  request.headers = {{"Content-Type", "application/json"}};
  request.body = json_body;
  CallbackOutcome outcome =
      Classify(SendObserved(*transport_, request, metrics_, metrics::OutboundPeer::kTaskCallback));
  if (outcome.kind != CallbackOutcome::kResponse) {
    logger_.Debug("callback-request-failed",
                  {{"error", outcome.error},
                   {"retryable", outcome.kind == CallbackOutcome::kRetryableTransportError}});
  }
  return outcome;
}

CallbackOutcome HttpCallbacks::Classify(const HttpResult& result) {
  switch (result.error) {
    case TransportError::kNone:
      return CallbackOutcome{CallbackOutcome::kResponse, result.response.status, ""};
    case TransportError::kTimeout:
    case TransportError::kConnectionClosed:
      return CallbackOutcome{CallbackOutcome::kRetryableTransportError, 0, result.message};
    default:
      return CallbackOutcome{CallbackOutcome::kFatalTransportError, 0, result.message};
  }
}

}  // namespace bbs::clients
