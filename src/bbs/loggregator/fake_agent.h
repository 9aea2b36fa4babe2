#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "loggregator/envelope.pb.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace bbs::loggregator {

// An in-process Loggregator agent: the v2 Ingress service (Sender, BatchSender, Send) on
// 127.0.0.1 with mutual TLS, recording every envelope it receives. Thread-safe.
class FakeAgent {
 public:
  FakeAgent();
  ~FakeAgent();  // Stop()s

  // Listens on 127.0.0.1:`port` (0 = any free port) and requires client certificates signed
  // by `ca_file`.
  Status Start(const std::string& ca_file, const std::string& cert_file,
               const std::string& key_file, uint16_t port = 0);
  void Stop();
  uint16_t port() const { return port_; }

  // Waits (bounded by `timeout`) until at least `n` envelopes have arrived; returns all so far.
  std::vector<::loggregator::v2::Envelope> WaitForEnvelopes(
      std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<::loggregator::v2::Envelope> envelopes();

 private:
  class Service;
  void Record(const ::loggregator::v2::Envelope& envelope);

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<::loggregator::v2::Envelope> received_;
};

}  // namespace bbs::loggregator
