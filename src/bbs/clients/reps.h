#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/clients/http_client.h"
#include "bbs/clients/send_queue.h"

namespace bbs::clients {

// The body of R3, `PUT /v2/lrps/{process_guid}/instances/{instance_guid}` (outbound.md §4.5).
struct LrpInstanceUpdate {
  std::string process_guid, instance_guid, domain;
  int32_t index = 0;
  std::optional<std::vector<std::string>> internal_routes;        // hostnames; nullopt -> null
  std::optional<std::map<std::string, std::string>> metric_tags;  // nullopt -> null
};

// {"instance_guid":..,"process_guid":..,"index":..,"domain":..,"internal_routes":[{"hostname":
// ..}]|null,"metric_tags":{..}|null}, Go's encoding (map keys sorted).
std::string EncodeLrpInstanceUpdate(const LrpInstanceUpdate& update);

// Calls on cell reps (outbound.md §4). `rep_url` is the cell presence's rep_url (a base URL,
// possibly with a path prefix). Thread-safe.
class Reps {
 public:
  virtual ~Reps() = default;
  // Synchronous, one attempt (the caller retries): R1 stop. OK only on 202.
  virtual Status StopLrpInstance(const std::string& rep_url, const std::string& process_guid,
                                 const std::string& instance_guid, const std::string& trace_id) = 0;
  // Asynchronous fire-and-forget variants (queued, one attempt, failures logged).
  virtual void StopLrpInstanceAsync(std::string rep_url, std::string process_guid,
                                    std::string instance_guid, std::string trace_id) = 0;
  virtual void UpdateLrpInstanceAsync(std::string rep_url, LrpInstanceUpdate update,
                                      std::string trace_id) = 0;
  // Synchronous, one attempt: R2 cancel. Returns an error only when the client cannot be built
  // for rep_url (bad URL/scheme); transport and HTTP errors are logged and reported as OK.
  virtual Status CancelTask(const std::string& rep_url, const std::string& task_guid,
                            const std::string& trace_id) = 0;
};

struct HttpRepsOptions {
  std::chrono::milliseconds timeout = std::chrono::seconds(10);  // per request; 0 = none
  // Client certificate and CA for the reps' mutual TLS; empty CA = system roots.
  TlsOptions tls;
  // Upstream has required https rep URLs since 2025-06; tests against plain-HTTP fakes turn
  // this off.
  bool require_tls = true;
  // rep_client_session_cache_size: TLS sessions kept for resumption (0 = Go's default, 64);
  // used when rep TLS is configured.
  int tls_session_cache_size = 0;
  int workers = 4;  // threads for the asynchronous calls
  // Asynchronous calls that may wait; beyond it the oldest is dropped (SendQueue).
  size_t max_queued = SendQueue::kDefaultMaxQueued;
  // The destructor drains the asynchronous queue for at most this long.
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(10);
  // Where each request is recorded (peer rep); null = nowhere.
  metrics::BbsMetrics* metrics = nullptr;
};

// Reps over HTTP (outbound.md §4): one HTTP client (keep-alive per cell) shared by all reps.
// X-Vcap-Request-Id is sent only when the trace id is non-empty. The asynchronous calls go
// through a queue served by `workers` threads. Logs go to `logger` as given. Thread-safe.
class HttpReps final : public Reps {
 public:
  using Options = HttpRepsOptions;

  // Fails when a TLS file cannot be used.
  static Result<std::unique_ptr<HttpReps>> Create(Options options, const Logger& logger);
  HttpReps(Options options, const Logger& logger, std::shared_ptr<HttpTransport> transport);
  ~HttpReps() override;  // Shutdown(options.shutdown_timeout)
  HttpReps(const HttpReps&) = delete;
  HttpReps& operator=(const HttpReps&) = delete;

  Status StopLrpInstance(const std::string& rep_url, const std::string& process_guid,
                         const std::string& instance_guid, const std::string& trace_id) override;
  void StopLrpInstanceAsync(std::string rep_url, std::string process_guid,
                            std::string instance_guid, std::string trace_id) override;
  void UpdateLrpInstanceAsync(std::string rep_url, LrpInstanceUpdate update,
                              std::string trace_id) override;
  Status CancelTask(const std::string& rep_url, const std::string& task_guid,
                    const std::string& trace_id) override;

  // R3 on the calling thread, one attempt, with the /v1 fallback: 202 is OK; a 404 from /v2 is
  // OK when internal_routes is null, otherwise the body (metric_tags null) goes to /v1 where
  // 202 and 404 are OK; any other status or a transport error is returned.
  Status UpdateLrpInstance(const std::string& rep_url, const LrpInstanceUpdate& update,
                           const std::string& trace_id);

  // "Client creation" for rep_url: it must parse, and be https unless require_tls is off
  // ("https scheme is required but none of the addresses support it").
  Result<Url> RepBaseUrl(const std::string& rep_url) const;

  // Stops accepting asynchronous calls, sends what is queued until `timeout` passes, then drops
  // the rest (logged) and aborts requests in flight. Synchronous calls made afterwards fail.
  // Idempotent.
  void Shutdown(std::chrono::milliseconds timeout);

 private:
  HttpResult Send(const std::string& method, const Url& url, const std::string& trace_id,
                  bool json_content_type, std::string body);

  const Options options_;
  const Logger logger_;
  const std::shared_ptr<HttpTransport> transport_;
  SendQueue queue_;
};

}  // namespace bbs::clients
