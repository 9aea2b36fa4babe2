#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/clients/http_client.h"

namespace bbs::clients {

// One entry of `POST /v1/lrps` (outbound.md §3.3): place these indices of one desired LRP.
struct LrpStartRequest {
  std::string process_guid, domain;
  std::vector<int32_t> indices;
  std::vector<std::string> placement_tags;  // written as null when empty
  std::vector<std::string> volume_drivers;  // written as [] when empty
  std::string root_fs;
  int32_t memory_mb = 0, disk_mb = 0, max_pids = 0;
};

// One entry of `POST /v1/tasks` (outbound.md §3.4).
struct TaskStartRequest {
  std::string task_guid, domain;
  std::vector<std::string> placement_tags;  // null when empty
  std::vector<std::string> volume_drivers;  // [] when empty
  std::string root_fs;
  int32_t memory_mb = 0, disk_mb = 0, max_pids = 0;
};

// The exact bodies upstream sends: a JSON array with upstream's key names and order, Go's
// escaping, tasks with "state":"Invalid","failed":false.
std::string EncodeLrpStartRequests(const std::vector<LrpStartRequest>& requests);
std::string EncodeTaskStartRequests(const std::vector<TaskStartRequest>& requests);

// Asks the auctioneer to place LRP instances and tasks. Never blocks the caller; failures are
// logged, not returned (convergence re-sends what was not placed). Thread-safe.
class Auctioneer {
 public:
  virtual ~Auctioneer() = default;
  // `trace_id` goes into X-Vcap-Request-Id (sent even when empty).
  virtual void RequestLrpAuctions(std::vector<LrpStartRequest> requests, std::string trace_id) = 0;
  // Always sent with an empty X-Vcap-Request-Id, as upstream.
  virtual void RequestTaskAuctions(std::vector<TaskStartRequest> requests) = 0;
};

struct HttpAuctioneerOptions {
  std::chrono::milliseconds timeout = std::chrono::seconds(10);  // per attempt; 0 = none
  int max_retries = 2;  // extra attempts after a transport error or a 5xx
  int workers = 4;      // sender threads
  // Wait before retry n is n * retry_backoff.
  std::chrono::milliseconds retry_backoff = std::chrono::milliseconds(200);
  // When any file is set the client is "secure". A secure client whose https request fails
  // without an HTTP response sends it once more over plain http:// (upstream's fallback) unless
  // require_tls is set.
  TlsOptions tls;
  bool require_tls = false;
  // The destructor drains the queue for at most this long.
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(10);
  // Where each request is recorded (peer auctioneer); null = nowhere.
  metrics::BbsMetrics* metrics = nullptr;
  // Start requests (LRP instances plus tasks, over every queued job, retries included) that may
  // wait for a sender. While the auctioneer hangs the queue would otherwise grow with the
  // request rate; beyond the bound the oldest waiting requests are dropped, counted in
  // dropped_requests() and logged ("auction-queue-full-dropped-oldest", at most once a
  // second). The batch of one call is never cut, so the most that waits is this bound plus the
  // largest batch (a desire's instances, a convergence pass's re-auctions). Dropping is safe:
  // convergence re-finds unplaced work (pending tasks are kicked after kick_task_duration,
  // unclaimed instances re-auctioned after 30 s).
  size_t max_queued_requests = 10000;
};

// The auctioneer over HTTP (outbound.md §3). Requests are queued and sent by `workers` threads;
// requests of one kind with the same trace id that are waiting when a sender picks them up go
// out as one POST (one JSON array). An attempt succeeds on 202; transport errors and 5xx are
// retried up to max_retries times with a short back-off, anything else is logged and dropped.
// Logs go to `logger` as given (the caller names the session). Thread-safe.
class HttpAuctioneer final : public Auctioneer {
 public:
  using Options = HttpAuctioneerOptions;

  // Fails when base_url is not an http(s) URL or a TLS file cannot be used.
  static Result<std::unique_ptr<HttpAuctioneer>> Create(const std::string& base_url,
                                                        Options options, const Logger& logger);
  // Sends through `transport` (a fake, or a client shared with others).
  HttpAuctioneer(Url base_url, Options options, const Logger& logger,
                 std::shared_ptr<HttpTransport> transport);
  ~HttpAuctioneer() override;  // Shutdown(options.shutdown_timeout)
  HttpAuctioneer(const HttpAuctioneer&) = delete;
  HttpAuctioneer& operator=(const HttpAuctioneer&) = delete;

  void RequestLrpAuctions(std::vector<LrpStartRequest> requests, std::string trace_id) override;
  void RequestTaskAuctions(std::vector<TaskStartRequest> requests) override;

  // One attempt on the calling thread (with the plain-http fallback), no queue, no retry: OK on
  // 202, otherwise the error text that would be logged.
  Status SendLrpAuctions(const std::vector<LrpStartRequest>& requests, const std::string& trace_id);
  Status SendTaskAuctions(const std::vector<TaskStartRequest>& requests);

  // Stops accepting requests (later ones are logged and dropped), sends what is queued until
  // `timeout` passes, then drops the rest, aborts requests in flight (shutting the transport
  // down) and joins the senders. Idempotent.
  void Shutdown(std::chrono::milliseconds timeout);

  // Start requests dropped so far because the queue was full.
  uint64_t dropped_requests() const { return dropped_requests_.load(); }
  // Start requests waiting for a sender now.
  size_t queued_requests() const;

 private:
  struct Job {
    bool tasks = false;
    std::string trace_id;
    std::vector<LrpStartRequest> lrps;
    std::vector<TaskStartRequest> task_requests;
    int attempt = 0;
    std::chrono::steady_clock::time_point not_before;
    uint64_t id = 0;  // unique per queued job
  };
  struct Attempt {
    Status status;
    bool retryable = false;
  };

  void Enqueue(Job job);
  // Drops the oldest waiting requests beyond max_queued_requests, except the last `keep_tail`
  // of job `keep_id` (the batch just queued: one batch is never cut); returns how many.
  // REQUIRES: mu_ held.
  size_t TrimLocked(uint64_t keep_id, size_t keep_tail);
  void RunSender();
  Attempt SendOnce(const std::string& route, const std::string& body, const std::string& trace_id);
  Attempt SendJob(const Job& job);

  const Url base_url_;
  const Options options_;
  const Logger logger_;
  const std::shared_ptr<HttpTransport> transport_;
  const bool fallback_to_http_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // senders wait for jobs
  std::condition_variable idle_cv_;  // Shutdown waits for the queue to drain
  std::deque<Job> queue_;
  size_t queued_requests_ = 0;  // start requests in queue_
  uint64_t next_job_id_ = 0;
  std::atomic<uint64_t> dropped_requests_{0};
  uint64_t unlogged_drops_ = 0;                          // guarded by mu_
  std::chrono::steady_clock::time_point last_drop_log_;  // guarded by mu_
  int in_flight_ = 0;
  bool accepting_ = true;
  bool stopping_ = false;
  std::vector<std::thread> senders_;
  std::mutex shutdown_mu_;  // serialises Shutdown()
  bool shut_down_ = false;
};

}  // namespace bbs::clients
