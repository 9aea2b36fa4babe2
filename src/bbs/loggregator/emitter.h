#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bbs/base/clock.h"
#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/metrics/bbs_metrics.h"
#include "bbs/metrics/measurement.h"

namespace loggregator::v2 {
class Envelope;
}  // namespace loggregator::v2

namespace bbs::loggregator {

namespace internal {
class Transport;
}  // namespace internal

struct EmitterOptions {
  // The local agent's v2 ingress (`loggregator_api_port`; upstream dials 127.0.0.1).
  std::string address = "127.0.0.1:3458";
  // Mutual TLS with the agent: PEM files (`loggregator_ca_path`, `_cert_path`, `_key_path`) and
  // the name the agent's certificate must carry (go-loggregator verifies "metron").
  struct Tls {
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
    std::string server_name = "metron";
  } tls;
  // Envelope identity (`loggregator_source_id`, `_instance_id`) and tags added to every
  // envelope: "origin" (`loggregator_job_origin`) as upstream, plus "deployment", "job",
  // "index", "ip" from the `loggregator_job_*` keys when set.
  std::string source_id = "bbs";
  std::string instance_id;
  std::map<std::string, std::string> tags;
  // Batching: envelopes wait at most flush_interval, and a batch holds at most batch_size.
  std::size_t batch_size = 100;
  std::chrono::milliseconds flush_interval{1000};
  // Envelopes beyond this many waiting are dropped (and counted) instead of growing memory.
  std::size_t max_queue = 10000;
  // Deadline of one Ingress.Send call.
  std::chrono::milliseconds send_timeout{5000};
};

// Sends measurements to the local Loggregator agent as v2 envelopes (gauges with their unit,
// counters with their delta) over gRPC with mutual TLS, the way Diego's logging client does.
// Emit() never blocks: it appends to a bounded queue that a background thread flushes in
// batches with the Ingress.Send RPC. When the agent is unreachable or the queue is full,
// envelopes are dropped and counted (dropped(), and bbs_loggregator_envelopes_dropped_total
// when a BbsMetrics is given). Thread-safe.
class Emitter final : public metrics::MetricSink {
 public:
  // Fails with InvalidRequest when a TLS file cannot be read. `clock` stamps the envelopes;
  // `counters` (may be null) receives the sent/dropped counts. Both must outlive the Emitter.
  static Result<std::unique_ptr<Emitter>> Create(EmitterOptions options, const Clock* clock,
                                                 metrics::BbsMetrics* counters, Logger logger);
  ~Emitter() override;  // Stop()s
  Emitter(const Emitter&) = delete;
  Emitter& operator=(const Emitter&) = delete;

  void Emit(std::vector<metrics::Measurement> measurements) override;

  // Starts the background flusher. Without it, nothing is sent until Flush().
  void Start();
  // Stops the flusher after one last flush. Idempotent.
  void Stop();
  // Sends everything queued now, in batches; the first failed batch drops the rest. Returns
  // the first failure.
  Status Flush();

  uint64_t sent() const;
  uint64_t dropped() const;

  // The envelope for one measurement, as it goes on the wire.
  ::loggregator::v2::Envelope ToEnvelope(const metrics::Measurement& m, int64_t now_nanos) const;

 private:
  Emitter(EmitterOptions options, const Clock* clock, metrics::BbsMetrics* counters, Logger logger,
          std::unique_ptr<internal::Transport> transport);
  void Run();
  void CountDropped(uint64_t n);

  const EmitterOptions options_;
  const Clock* clock_;
  metrics::BbsMetrics* counters_;
  Logger logger_;
  std::unique_ptr<internal::Transport> transport_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<::loggregator::v2::Envelope>> queue_;
  bool stopping_ = false;
  std::thread thread_;

  std::mutex flush_mu_;   // one flush at a time
  bool failing_ = false;  // guarded by flush_mu_; logs only on transitions
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace bbs::loggregator
