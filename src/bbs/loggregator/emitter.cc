#include "bbs/loggregator/emitter.h"

#include <fstream>
#include <sstream>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "loggregator/envelope.pb.h"
#include "loggregator/ingress.grpc.pb.h"

namespace bbs::loggregator {

namespace v2 = ::loggregator::v2;

namespace internal {

// The gRPC side: one channel to the agent and its Ingress stub.
class Transport {
 public:
  explicit Transport(std::shared_ptr<grpc::Channel> channel)
      : stub_(v2::Ingress::NewStub(std::move(channel))) {}

  Status Send(const v2::EnvelopeBatch& batch, std::chrono::milliseconds timeout) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    v2::SendResponse response;
    grpc::Status status = stub_->Send(&context, batch, &response);
    if (status.ok()) return Status::Ok();
    return UnknownError("loggregator agent: " + status.error_message() + " (code " +
                        std::to_string(static_cast<int>(status.error_code())) + ")");
  }

 private:
  std::unique_ptr<v2::Ingress::Stub> stub_;
};

}  // namespace internal

namespace {

Result<std::string> ReadFile(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  if (in) contents << in.rdbuf();
  if (!in || contents.str().empty()) {
    return InvalidRequest("loggregator: cannot read " + what + " '" + path + "'");
  }
  return contents.str();
}

}  // namespace

Result<std::unique_ptr<Emitter>> Emitter::Create(EmitterOptions options, const Clock* clock,
                                                 metrics::BbsMetrics* counters, Logger logger) {
  auto ca = ReadFile("CA file (loggregator_ca_path)", options.tls.ca_file);
  if (!ca.ok()) return ca.status();
  auto cert = ReadFile("certificate (loggregator_cert_path)", options.tls.cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile("key (loggregator_key_path)", options.tls.key_file);
  if (!key.ok()) return key.status();
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = std::move(*ca);
  tls.pem_cert_chain = std::move(*cert);
  tls.pem_private_key = std::move(*key);
  grpc::ChannelArguments args;
  if (!options.tls.server_name.empty()) args.SetSslTargetNameOverride(options.tls.server_name);
  // Reconnect soon after the agent comes back (gRPC's default backoff grows to 2 minutes).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  auto channel = grpc::CreateCustomChannel(options.address, grpc::SslCredentials(tls), args);
  auto transport = std::make_unique<internal::Transport>(std::move(channel));
  return std::unique_ptr<Emitter>(
      new Emitter(std::move(options), clock, counters, std::move(logger), std::move(transport)));
}

Emitter::Emitter(EmitterOptions options, const Clock* clock, metrics::BbsMetrics* counters,
                 Logger logger, std::unique_ptr<internal::Transport> transport)
    : options_(std::move(options)),
      clock_(clock),
      counters_(counters),
      logger_(std::move(logger)),
      transport_(std::move(transport)) {}

Emitter::~Emitter() { Stop(); }

v2::Envelope Emitter::ToEnvelope(const metrics::Measurement& m, int64_t now_nanos) const {
  v2::Envelope e;
  e.set_timestamp(now_nanos);
  e.set_source_id(options_.source_id);
  e.set_instance_id(options_.instance_id);
  auto& tags = *e.mutable_tags();
  for (const auto& [k, v] : options_.tags) tags[k] = v;
  for (const auto& [k, v] : m.tags) tags[k] = v;
  if (m.kind == metrics::Measurement::Kind::kCounter) {
    v2::Counter* counter = e.mutable_counter();
    counter->set_name(m.name);
    counter->set_delta(m.delta);
  } else {
    v2::GaugeValue& value = (*e.mutable_gauge()->mutable_metrics())[m.name];
    value.set_unit(m.unit);
    value.set_value(m.value);
  }
  return e;
}

void Emitter::Emit(std::vector<metrics::Measurement> measurements) {
  int64_t now = clock_->NowNanos();
  uint64_t dropped = 0;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& m : measurements) {
      if (queue_.size() >= options_.max_queue) {
        ++dropped;
        continue;
      }
      queue_.push_back(std::make_unique<v2::Envelope>(ToEnvelope(m, now)));
    }
    wake = queue_.size() >= options_.batch_size;
  }
  if (wake) cv_.notify_all();
  if (dropped > 0) CountDropped(dropped);
}

void Emitter::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void Emitter::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Emitter::Run() {
  while (true) {
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.flush_interval,
                   [this] { return stopping_ || queue_.size() >= options_.batch_size; });
      stopping = stopping_;
    }
    Flush();
    if (stopping) return;
  }
}

Status Emitter::Flush() {
  std::lock_guard flush_lock(flush_mu_);
  std::deque<std::unique_ptr<v2::Envelope>> pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(queue_);
  }
  Status result = Status::Ok();
  while (!pending.empty()) {
    v2::EnvelopeBatch batch;
    while (!pending.empty() && static_cast<std::size_t>(batch.batch_size()) < options_.batch_size) {
      batch.mutable_batch()->AddAllocated(pending.front().release());
      pending.pop_front();
    }
    uint64_t n = static_cast<uint64_t>(batch.batch_size());
    Status s = transport_->Send(batch, options_.send_timeout);
    if (s.ok()) {
      sent_.fetch_add(n);
      if (counters_ != nullptr) counters_->EnvelopesSent(n);
      if (failing_) logger_.Info("agent-reachable-again");
      failing_ = false;
      continue;
    }
    // The agent is down or slow: drop this batch and the rest rather than queue without
    // bound or retry while new envelopes pile up.
    uint64_t lost = n + pending.size();
    pending.clear();
    CountDropped(lost);
    if (!failing_) logger_.Error("failed-to-send-envelopes", s.message(), {{"dropped", lost}});
    failing_ = true;
    result = s;
  }
  return result;
}

void Emitter::CountDropped(uint64_t n) {
  dropped_.fetch_add(n);
  if (counters_ != nullptr) counters_->EnvelopesDropped(n);
}

uint64_t Emitter::sent() const { return sent_.load(); }
uint64_t Emitter::dropped() const { return dropped_.load(); }

}  // namespace bbs::loggregator
