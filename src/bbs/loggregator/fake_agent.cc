#include "bbs/loggregator/fake_agent.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <grpcpp/grpcpp.h>

#include "loggregator/ingress.grpc.pb.h"

namespace bbs::loggregator {

namespace v2 = ::loggregator::v2;

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

class FakeAgent::Service final : public v2::Ingress::Service {
 public:
  explicit Service(FakeAgent* agent) : agent_(agent) {}

  grpc::Status Sender(grpc::ServerContext*, grpc::ServerReader<v2::Envelope>* reader,
                      v2::IngressResponse*) override {
    v2::Envelope e;
    while (reader->Read(&e)) agent_->Record(e);
    return grpc::Status::OK;
  }

  grpc::Status BatchSender(grpc::ServerContext*, grpc::ServerReader<v2::EnvelopeBatch>* reader,
                           v2::BatchSenderResponse*) override {
    v2::EnvelopeBatch batch;
    while (reader->Read(&batch)) {
      for (const auto& e : batch.batch()) agent_->Record(e);
    }
    return grpc::Status::OK;
  }

  grpc::Status Send(grpc::ServerContext*, const v2::EnvelopeBatch* batch,
                    v2::SendResponse*) override {
    for (const auto& e : batch->batch()) agent_->Record(e);
    return grpc::Status::OK;
  }

 private:
  FakeAgent* agent_;
};

FakeAgent::FakeAgent() : service_(std::make_unique<Service>(this)) {}

FakeAgent::~FakeAgent() { Stop(); }

Status FakeAgent::Start(const std::string& ca_file, const std::string& cert_file,
                        const std::string& key_file, uint16_t port) {
  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = ReadAll(ca_file);
  tls.pem_key_cert_pairs.push_back({ReadAll(key_file), ReadAll(cert_file)});
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::SslServerCredentials(tls),
                           &bound);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || bound == 0) return UnknownError("fake agent: cannot listen");
  port_ = static_cast<uint16_t>(bound);
  return Status::Ok();
}

void FakeAgent::Stop() {
  if (server_) {
    server_->Shutdown();
    server_->Wait();
    server_.reset();
  }
}

void FakeAgent::Record(const v2::Envelope& envelope) {
  {
    std::lock_guard lock(mu_);
    received_.push_back(envelope);
  }
  cv_.notify_all();
}

std::vector<v2::Envelope> FakeAgent::WaitForEnvelopes(std::size_t n,
                                                      std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
  return received_;
}

std::vector<v2::Envelope> FakeAgent::envelopes() {
  std::lock_guard lock(mu_);
  return received_;
}

}  // namespace bbs::loggregator
