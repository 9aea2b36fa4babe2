#include "bbs/clients/auctioneer.h"

#include <algorithm>
#include <type_traits>
#include <utility>

#include "bbs/base/go_json.h"

namespace bbs::clients {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Writes `"key":`, after a comma unless it starts the object.
void AppendKey(std::string& out, std::string_view key) {
  if (out.back() != '{') out += ',';
  out += '"';
  out += key;
  out += "\":";
}

// Writes `"key":value` for a string, an int32 or an int32 array.
template <typename Value>
void AppendMember(std::string& out, std::string_view key, const Value& value) {
  AppendKey(out, key);
  if constexpr (std::is_same_v<Value, std::vector<int32_t>>) {
    out += '[';
    for (size_t i = 0; i < value.size(); ++i) {
      if (i > 0) out += ',';
      AppendGoJsonInt(out, value[i]);
    }
    out += ']';
  } else if constexpr (std::is_same_v<Value, int32_t>) {
    AppendGoJsonInt(out, value);
  } else {
    AppendGoJsonString(out, value);
  }
}

// The members LRP and task start requests share, in upstream's order (the auctioneer's
// PlacementConstraint and Resource).
template <typename StartRequest>
void AppendPlacementAndResources(std::string& out, const StartRequest& r) {
  AppendKey(out, "PlacementTags");
  AppendGoJsonStringArray(out, r.placement_tags, /*null_when_empty=*/true);
  AppendKey(out, "VolumeDrivers");
  AppendGoJsonStringArray(out, r.volume_drivers, /*null_when_empty=*/false);
  AppendMember(out, "RootFs", r.root_fs);
  AppendMember(out, "MemoryMB", r.memory_mb);
  AppendMember(out, "DiskMB", r.disk_mb);
  AppendMember(out, "MaxPids", r.max_pids);
}

// A JSON array with one object per request; `append_members` writes an object's members.
template <typename StartRequest, typename AppendMembers>
std::string EncodeStartRequests(const std::vector<StartRequest>& requests,
                                AppendMembers append_members) {
  std::string out = "[";
  for (const StartRequest& r : requests) {
    if (out.size() > 1) out += ',';
    out += '{';
    append_members(out, r);
    out += '}';
  }
  out += ']';
  return out;
}

}  // namespace

std::string EncodeLrpStartRequests(const std::vector<LrpStartRequest>& requests) {
  return EncodeStartRequests(requests, [](std::string& out, const LrpStartRequest& r) {
    AppendMember(out, "process_guid", r.process_guid);
    AppendMember(out, "domain", r.domain);
    AppendMember(out, "indices", r.indices);
    AppendPlacementAndResources(out, r);
  });
}

std::string EncodeTaskStartRequests(const std::vector<TaskStartRequest>& requests) {
  return EncodeStartRequests(requests, [](std::string& out, const TaskStartRequest& r) {
    AppendMember(out, "TaskGuid", r.task_guid);
    AppendMember(out, "Domain", r.domain);
    AppendPlacementAndResources(out, r);
    out += ",\"state\":\"Invalid\",\"failed\":false";
  });
}

Result<std::unique_ptr<HttpAuctioneer>> HttpAuctioneer::Create(const std::string& base_url,
                                                               Options options,
                                                               const Logger& logger) {
  if (base_url.empty()) {
    return Status(ErrorCode::kInvalidRequest, "auctioneer address is required");
  }
  auto url = ParseUrl(base_url);
  if (!url.ok()) return url.status();
  HttpClientOptions client_options;
  client_options.timeout = options.timeout;
  client_options.tls = options.tls;
  auto client = HttpClient::Create(std::move(client_options));
  if (!client.ok()) return client.status();
  return std::make_unique<HttpAuctioneer>(std::move(*url), std::move(options), logger,
                                          std::move(*client));
}

HttpAuctioneer::HttpAuctioneer(Url base_url, Options options, const Logger& logger,
                               std::shared_ptr<HttpTransport> transport)
    : base_url_(std::move(base_url)),
      options_(std::move(options)),
      logger_(logger),
      transport_(std::move(transport)),
      fallback_to_http_(base_url_.scheme == "https" && options_.tls.any() &&
                        !options_.require_tls) {
  int workers = std::max(1, options_.workers);
  senders_.reserve(static_cast<size_t>(workers));
  for (int i = 0; i < workers; ++i) senders_.emplace_back([this] { RunSender(); });
}

HttpAuctioneer::~HttpAuctioneer() { Shutdown(options_.shutdown_timeout); }

void HttpAuctioneer::RequestLrpAuctions(std::vector<LrpStartRequest> requests,
                                        std::string trace_id) {
  if (requests.empty()) return;
  Job job;
  job.trace_id = std::move(trace_id);
  job.lrps = std::move(requests);
  Enqueue(std::move(job));
}

void HttpAuctioneer::RequestTaskAuctions(std::vector<TaskStartRequest> requests) {
  if (requests.empty()) return;
  Job job;
  job.tasks = true;
  job.task_requests = std::move(requests);
  Enqueue(std::move(job));
}

Status HttpAuctioneer::SendLrpAuctions(const std::vector<LrpStartRequest>& requests,
                                       const std::string& trace_id) {
  return SendOnce("/v1/lrps", EncodeLrpStartRequests(requests), trace_id).status;
}

Status HttpAuctioneer::SendTaskAuctions(const std::vector<TaskStartRequest>& requests) {
  return SendOnce("/v1/tasks", EncodeTaskStartRequests(requests), "").status;
}

size_t HttpAuctioneer::queued_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_requests_;
}

size_t HttpAuctioneer::TrimLocked(uint64_t keep_id, size_t keep_tail) {
  const size_t bound = std::max<size_t>(options_.max_queued_requests, 1);
  size_t dropped = 0;
  size_t i = 0;
  while (queued_requests_ > bound && i < queue_.size()) {
    Job& job = queue_[i];
    const size_t n = job.tasks ? job.task_requests.size() : job.lrps.size();
    const size_t kept = job.id == keep_id ? std::min(keep_tail, n) : 0;
    const size_t excess = queued_requests_ - bound;
    if (kept == 0 && n <= excess) {
      dropped += n;
      queued_requests_ -= n;
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    const size_t cut = std::min(excess, n - kept);
    const auto end = static_cast<std::ptrdiff_t>(cut);
    if (job.tasks) {
      job.task_requests.erase(job.task_requests.begin(), job.task_requests.begin() + end);
    } else {
      job.lrps.erase(job.lrps.begin(), job.lrps.begin() + end);
    }
    dropped += cut;
    queued_requests_ -= cut;
    ++i;
  }
  dropped_requests_.fetch_add(dropped);
  return dropped;
}

void HttpAuctioneer::Enqueue(Job job) {
  size_t count = job.tasks ? job.task_requests.size() : job.lrps.size();
  uint64_t log_dropped = 0;
  bool accepted = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepted = accepting_;
    if (accepted) {
      queued_requests_ += count;
      // Requests still waiting for a sender travel together.
      bool merged = false;
      uint64_t keep_id = 0;
      for (Job& waiting : queue_) {
        if (waiting.attempt == 0 && waiting.tasks == job.tasks &&
            waiting.trace_id == job.trace_id) {
          if (job.tasks) {
            std::move(job.task_requests.begin(), job.task_requests.end(),
                      std::back_inserter(waiting.task_requests));
          } else {
            std::move(job.lrps.begin(), job.lrps.end(), std::back_inserter(waiting.lrps));
          }
          merged = true;
          keep_id = waiting.id;
          break;
        }
      }
      if (!merged) {
        job.not_before = SteadyClock::now();
        job.id = keep_id = ++next_job_id_;
        queue_.push_back(std::move(job));
        work_cv_.notify_one();
      }
      if (const size_t dropped = TrimLocked(keep_id, count); dropped > 0) {
        unlogged_drops_ += dropped;
        const auto now = SteadyClock::now();
        if (now - last_drop_log_ >= std::chrono::seconds(1)) {
          last_drop_log_ = now;
          log_dropped = unlogged_drops_;
          unlogged_drops_ = 0;
        }
      }
    }
  }
  if (accepted) {
    if (log_dropped > 0) {
      logger_.Error(
          "auction-queue-full-dropped-oldest",
          "the auctioneer is not keeping up; convergence re-sends unplaced work",
          {{"dropped", log_dropped}, {"max_queued_requests", options_.max_queued_requests}});
    }
    return;
  }
  logger_.Error(job.tasks ? "failed-requesting-task-auction" : "failed-to-request-auction",
                "auctioneer client is shut down", {{"count", count}});
}

void HttpAuctioneer::RunSender() {
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    auto ready = queue_.end();
    for (;;) {
      if (stopping_) return;
      auto now = SteadyClock::now();
      ready = std::find_if(queue_.begin(), queue_.end(),
                           [&](const Job& job) { return job.not_before <= now; });
      if (ready != queue_.end()) break;
      if (queue_.empty()) {
        work_cv_.wait(lock);
      } else {
        // A copy: another sender may take that job (freeing it) while this one waits.
        const auto wake =
            std::min_element(queue_.begin(), queue_.end(), [](const Job& a, const Job& b) {
              return a.not_before < b.not_before;
            })->not_before;
        work_cv_.wait_until(lock, wake);
      }
    }
    Job job = std::move(*ready);
    queue_.erase(ready);
    queued_requests_ -= job.tasks ? job.task_requests.size() : job.lrps.size();
    ++in_flight_;
    lock.unlock();

    Attempt attempt = SendJob(job);
    const bool tasks = job.tasks;
    const size_t count = tasks ? job.task_requests.size() : job.lrps.size();
    const int attempts = job.attempt + 1;
    const bool wants_retry =
        !attempt.status.ok() && attempt.retryable && job.attempt < options_.max_retries;
    bool requeued = false;

    lock.lock();
    if (wants_retry && !stopping_) {
      job.attempt = attempts;
      job.not_before = SteadyClock::now() + options_.retry_backoff * attempts;
      queued_requests_ += count;
      const uint64_t keep_id = job.id;
      queue_.push_back(std::move(job));
      requeued = true;
      work_cv_.notify_one();
      // A retry counts against the bound like new work; the oldest waiting requests give way.
      if (const size_t dropped = TrimLocked(keep_id, count); dropped > 0) {
        unlogged_drops_ += dropped;
      }
    }
    --in_flight_;
    idle_cv_.notify_all();
    lock.unlock();

    nlohmann::json data = {{"count", count}, {"attempt", attempts}};
    if (attempt.status.ok()) {
      logger_.Debug(tasks ? "requested-task-auctions" : "requested-lrp-auctions", data);
    } else if (requeued) {
      logger_.Info("retrying-auction-request",
                   {{"count", count}, {"attempt", attempts}, {"error", attempt.status.message()}});
    } else {
      logger_.Error(tasks ? "failed-requesting-task-auction" : "failed-to-request-auction",
                    attempt.status.message(), data);
    }
  }
}

HttpAuctioneer::Attempt HttpAuctioneer::SendJob(const Job& job) {
  if (job.tasks) return SendOnce("/v1/tasks", EncodeTaskStartRequests(job.task_requests), "");
  return SendOnce("/v1/lrps", EncodeLrpStartRequests(job.lrps), job.trace_id);
}

HttpAuctioneer::Attempt HttpAuctioneer::SendOnce(const std::string& route, const std::string& body,
                                                 const std::string& trace_id) {
  HttpRequest request;
  request.method = "POST";
  request.url = base_url_.WithRoute(route).ToString();
  request.headers = {{"Content-Type", "application/json"}, {"X-Vcap-Request-Id", trace_id}};
  request.body = body;
  HttpResult result =
      SendObserved(*transport_, request, options_.metrics, metrics::OutboundPeer::kAuctioneer);
  if (!result.ok() && fallback_to_http_ && result.error != TransportError::kShutdown) {
    logger_.Info("retrying-on-http", {{"error", result.message}});
    Url plain = base_url_;
    plain.scheme = "http";
    if (!plain.explicit_port) plain.port = 80;
    request.url = plain.WithRoute(route).ToString();
    result =
        SendObserved(*transport_, request, options_.metrics, metrics::OutboundPeer::kAuctioneer);
  }
  Attempt attempt;
  if (!result.ok()) {
    attempt.status = UnknownError(result.message);
    attempt.retryable =
        result.error != TransportError::kShutdown && result.error != TransportError::kInvalidUrl;
  } else if (result.response.status != 202) {
    attempt.status = UnknownError(HttpStatusError(result.response.status));
    attempt.retryable = result.response.status >= 500;
  }
  return attempt;
}

void HttpAuctioneer::Shutdown(std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> serial(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  size_t dropped = 0;
  {
    std::unique_lock<std::mutex> lock(mu_);
    accepting_ = false;
    idle_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && in_flight_ == 0; });
    stopping_ = true;
    for (const Job& job : queue_) dropped += job.tasks ? job.task_requests.size() : job.lrps.size();
    queue_.clear();
    queued_requests_ = 0;
    work_cv_.notify_all();
  }
  transport_->Shutdown();
  for (std::thread& sender : senders_) sender.join();
  senders_.clear();
  if (dropped > 0) {
    logger_.Error("dropped-auction-requests", "shut down before they were sent",
                  {{"count", dropped}});
  }
}

}  // namespace bbs::clients
