#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/clients/http_client.h"

namespace bbs::clients {

// What one task completion callback POST produced (outbound.md §5.3); the caller runs the retry
// policy (3 attempts on kRetryableTransportError and 503/504, stop on the rest).
struct CallbackOutcome {
  enum Kind { kResponse, kRetryableTransportError, kFatalTransportError } kind;
  int status = 0;     // the HTTP status when kind == kResponse
  std::string error;  // the transport error text otherwise
};

// The TaskCallbackResponse JSON (outbound.md §5.4): task_guid, failed, failure_reason, result,
// annotation (omitted when empty), created_at (Unix ns), Go's encoding.
std::string EncodeTaskCallback(const std::string& task_guid, bool failed,
                               const std::string& failure_reason, const std::string& result,
                               const std::string& annotation, int64_t created_at);

// Posts task completion callbacks. Thread-safe.
class Callbacks {
 public:
  virtual ~Callbacks() = default;
  // One POST of `json_body` to `url` (verbatim) with Content-Type application/json and no
  // other custom header; blocks for at most the timeout.
  virtual CallbackOutcome Post(const std::string& url, const std::string& json_body) = 0;
};

// Callbacks over HTTP. A timeout or a connection the peer closed or reset is retryable; a
// refused connection, an unresolvable host, a TLS failure or a malformed URL is fatal; any
// HTTP response (after redirects) is kResponse with its status. Transport failures are logged at
// debug level to `logger` as given; the caller logs the outcome of its policy.
class HttpCallbacks final : public Callbacks {
 public:
  // For https URLs upstream presents the BBS server certificate (tls.cert_file/key_file) and
  // trusts only the BBS CA (tls.ca_file); with no CA file, the system roots. Fails when a TLS
  // file cannot be used.
  static Result<std::unique_ptr<HttpCallbacks>> Create(std::chrono::milliseconds timeout,
                                                       const Logger& logger, TlsOptions tls = {});
  HttpCallbacks(const Logger& logger, std::shared_ptr<HttpTransport> transport);

  CallbackOutcome Post(const std::string& url, const std::string& json_body) override;

  // Where each callback is recorded (peer task_callback); null = nowhere.
  // REQUIRES: called before the first Post().
  void SetMetrics(metrics::BbsMetrics* metrics) { metrics_ = metrics; }

  // Classifies one transport result the way Post() does.
  static CallbackOutcome Classify(const HttpResult& result);

 private:
  const Logger logger_;
  const std::shared_ptr<HttpTransport> transport_;
  metrics::BbsMetrics* metrics_ = nullptr;
};

}  // namespace bbs::clients
