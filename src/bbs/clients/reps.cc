#include "bbs/clients/reps.h"

#include <cctype>
#include <utility>

#include "bbs/base/go_json.h"

namespace bbs::clients {
namespace {

constexpr const char* kHttpsRequired =
    "https scheme is required but none of the addresses support it";

bool StartsWithHttps(std::string_view text) {
  constexpr std::string_view kPrefix = "https://";
  if (text.size() < kPrefix.size()) return false;
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != kPrefix[i]) return false;
  }
  return true;
}

std::string InstanceRoute(std::string_view version, const std::string& process_guid,
                          const std::string& instance_guid) {
  return "/" + std::string(version) + "/lrps/" + EscapePathSegment(process_guid) + "/instances/" +
         EscapePathSegment(instance_guid);
}

}  // namespace

std::string EncodeLrpInstanceUpdate(const LrpInstanceUpdate& update) {
  std::string out = "{\"instance_guid\":";
  AppendGoJsonString(out, update.instance_guid);
  out += ",\"process_guid\":";
  AppendGoJsonString(out, update.process_guid);
  out += ",\"index\":";
  AppendGoJsonInt(out, update.index);
  out += ",\"domain\":";
  AppendGoJsonString(out, update.domain);
  out += ",\"internal_routes\":";
  if (update.internal_routes) {
    out += '[';
    bool first = true;
    for (const std::string& hostname : *update.internal_routes) {
      if (!first) out += ',';
      first = false;
      out += "{\"hostname\":";
      AppendGoJsonString(out, hostname);
      out += '}';
    }
    out += ']';
  } else {
    out += "null";
  }
  out += ",\"metric_tags\":";
  if (update.metric_tags) {
    out += '{';
    bool first = true;
    for (const auto& [key, value] : *update.metric_tags) {  // std::map: Go's sorted key order
      if (!first) out += ',';
      first = false;
      AppendGoJsonString(out, key);
      out += ':';
      AppendGoJsonString(out, value);
    }
    out += '}';
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

Result<std::unique_ptr<HttpReps>> HttpReps::Create(Options options, const Logger& logger) {
  HttpClientOptions client_options;
  client_options.timeout = options.timeout;
  client_options.tls = options.tls;
  if (options.tls.any()) client_options.tls_session_cache_size = options.tls_session_cache_size;
  auto client = HttpClient::Create(std::move(client_options));
  if (!client.ok()) return client.status();
  return std::make_unique<HttpReps>(std::move(options), logger, std::move(*client));
}

HttpReps::HttpReps(Options options, const Logger& logger, std::shared_ptr<HttpTransport> transport)
    : options_(std::move(options)),
      logger_(logger),
      transport_(std::move(transport)),
      queue_(options_.workers, options_.max_queued, logger_) {}

HttpReps::~HttpReps() { Shutdown(options_.shutdown_timeout); }

Result<Url> HttpReps::RepBaseUrl(const std::string& rep_url) const {
  if (options_.require_tls && !StartsWithHttps(rep_url)) {
    return Status(ErrorCode::kUnknownError, kHttpsRequired);
  }
  auto url = ParseUrl(rep_url);
  if (!url.ok()) return Status(ErrorCode::kUnknownError, url.status().message());
  return url;
}

HttpResult HttpReps::Send(const std::string& method, const Url& url, const std::string& trace_id,
                          bool json_content_type, std::string body) {
  HttpRequest request;
  request.method = method;
  request.url = url.ToString();
  if (json_content_type) request.headers.emplace_back("Content-Type", "application/json");
  if (!trace_id.empty()) request.headers.emplace_back("X-Vcap-Request-Id", trace_id);
  request.body = std::move(body);
  return SendObserved(*transport_, request, options_.metrics, metrics::OutboundPeer::kRep);
}

Status HttpReps::StopLrpInstance(const std::string& rep_url, const std::string& process_guid,
                                 const std::string& instance_guid, const std::string& trace_id) {
  auto base = RepBaseUrl(rep_url);
  if (!base.ok()) return base.status();
  Url url = base->WithRoute(InstanceRoute("v1", process_guid, instance_guid) + "/stop");
  HttpResult result = Send("POST", url, trace_id, /*json_content_type=*/true, "");
  if (!result.ok()) return UnknownError(result.message);
  if (result.response.status != 202) return UnknownError(HttpStatusError(result.response.status));
  return Status::Ok();
}

void HttpReps::StopLrpInstanceAsync(std::string rep_url, std::string process_guid,
                                    std::string instance_guid, std::string trace_id) {
  nlohmann::json data = {{"process_guid", process_guid}, {"instance_guid", instance_guid}};
  bool queued = queue_.Submit([this, rep_url = std::move(rep_url), process_guid, instance_guid,
                               trace_id = std::move(trace_id), data] {
    Status status = StopLrpInstance(rep_url, process_guid, instance_guid, trace_id);
    if (!status.ok()) logger_.Error("failed-to-stop-lrp-instance", status.message(), data);
  });
  if (!queued) logger_.Error("failed-to-stop-lrp-instance", "rep client is shut down", data);
}

void HttpReps::UpdateLrpInstanceAsync(std::string rep_url, LrpInstanceUpdate update,
                                      std::string trace_id) {
  nlohmann::json data = {{"process_guid", update.process_guid},
                         {"instance_guid", update.instance_guid}};
  bool queued = queue_.Submit([this, rep_url = std::move(rep_url), update = std::move(update),
                               trace_id = std::move(trace_id), data] {
    Status status = UpdateLrpInstance(rep_url, update, trace_id);
    if (!status.ok()) logger_.Error("failed-to-update-lrp-instance", status.message(), data);
  });
  if (!queued) logger_.Error("failed-to-update-lrp-instance", "rep client is shut down", data);
}

Status HttpReps::UpdateLrpInstance(const std::string& rep_url, const LrpInstanceUpdate& update,
                                   const std::string& trace_id) {
  auto base = RepBaseUrl(rep_url);
  if (!base.ok()) return base.status();
  Url v2 = base->WithRoute(InstanceRoute("v2", update.process_guid, update.instance_guid));
  HttpResult result = Send("PUT", v2, trace_id, true, EncodeLrpInstanceUpdate(update));
  if (!result.ok()) return UnknownError(result.message);
  int status = result.response.status;
  if (status == 202) return Status::Ok();
  if (status != 404) return UnknownError(HttpStatusError(status));
  // An old rep without /v2: only internal routes can go to /v1, without the metric tags.
  if (!update.internal_routes) return Status::Ok();
  LrpInstanceUpdate v1_update = update;
  v1_update.metric_tags.reset();
  Url v1 = base->WithRoute(InstanceRoute("v1", update.process_guid, update.instance_guid));
  result = Send("PUT", v1, trace_id, true, EncodeLrpInstanceUpdate(v1_update));
  if (!result.ok()) return UnknownError(result.message);
  status = result.response.status;
  if (status == 202 || status == 404) return Status::Ok();
  return UnknownError(HttpStatusError(status));
}

Status HttpReps::CancelTask(const std::string& rep_url, const std::string& task_guid,
                            const std::string& trace_id) {
  auto base = RepBaseUrl(rep_url);
  if (!base.ok()) return base.status();
  Url url = base->WithRoute("/v1/tasks/" + EscapePathSegment(task_guid) + "/cancel");
  HttpResult result = Send("POST", url, trace_id, /*json_content_type=*/false, "");
  // The task is already COMPLETED; the rep's own reconciliation cleans up after a failure.
  if (!result.ok()) {
    logger_.Error("failed-to-cancel-task", result.message, {{"task_guid", task_guid}});
  } else if (result.response.status != 202) {
    logger_.Error("failed-to-cancel-task", HttpStatusError(result.response.status),
                  {{"task_guid", task_guid}});
  }
  return Status::Ok();
}

void HttpReps::Shutdown(std::chrono::milliseconds timeout) {
  size_t dropped = queue_.Shutdown(timeout, [this] { transport_->Shutdown(); });
  if (dropped > 0) {
    logger_.Error("dropped-rep-requests", "shut down before they were sent", {{"count", dropped}});
  }
}

}  // namespace bbs::clients
