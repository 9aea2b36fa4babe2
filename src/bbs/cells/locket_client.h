#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "bbs/cells/locket_resource.h"
#include "bbs/cells/locket_tls.h"
#include "bbs/metrics/bbs_metrics.h"

namespace bbs::cells {

// How to reach a Locket server (locket.md §2, §9.3).
struct LocketClientOptions {
  std::string address;           // "host:port", e.g. "locket.service.cf.internal:8891"
  std::optional<LocketTls> tls;  // mutual TLS when set (as Diego requires); plaintext otherwise
  // Keep-alive pings while a call is in flight: every max(10 s, keepalive_time), each answered
  // within keepalive_timeout (0 means 20 s), as grpc-go does for the Go clients.
  std::chrono::seconds keepalive_time{10};
  std::chrono::seconds keepalive_timeout{22};
  // Where each call is recorded (peer locket); null = nowhere.
  metrics::BbsMetrics* metrics = nullptr;
};

// Per-call settings.
struct LocketCallOptions {
  std::chrono::milliseconds deadline{0};  // 0 = no deadline
  bool wait_for_ready = false;            // wait (up to the deadline) while disconnected
  std::string request_uuid;               // sent as metadata "uuid" when not empty
};

// A client of the Locket gRPC API. Errors mirror Locket's gRPC codes with the server's
// message: ALREADY_EXISTS -> LockCollision, INVALID_ARGUMENT -> InvalidRequest, NOT_FOUND ->
// ResourceNotFound, DEADLINE_EXCEEDED -> Timeout, anything else -> UnknownError (the message
// then names the gRPC code). Thread-safe; calls block up to their deadline.
class LocketClient {
 public:
  // Creates the channel; connecting happens lazily. Fails when the TLS files cannot be read.
  static Result<std::unique_ptr<LocketClient>> Create(const LocketClientOptions& options);
  ~LocketClient();
  LocketClient(const LocketClient&) = delete;
  LocketClient& operator=(const LocketClient&) = delete;

  // Connects, waiting up to `timeout` for the channel to become ready (upstream: 10 s at
  // start-up, then the process exits). Fails with Timeout.
  Status WaitForConnected(std::chrono::milliseconds timeout);

  Status Lock(const LocketResource& resource, int64_t ttl_seconds,
              const LocketCallOptions& call = {});
  // Only `key` and `owner` of `resource` are sent.
  Status Release(const std::string& key, const std::string& owner,
                 const LocketCallOptions& call = {});
  Result<LocketResource> Fetch(const std::string& key, const LocketCallOptions& call = {});
  // Sends both the type code and the deprecated type string, as Diego's clients do.
  Result<std::vector<LocketResource>> FetchAll(ResourceType type,
                                               const LocketCallOptions& call = {});

 private:
  struct Impl;
  explicit LocketClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bbs::cells
