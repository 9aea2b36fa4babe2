#include "bbs/loggregator/fake_agent.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "loggregator/ingress.grpc.pb.h"

namespace bbs::loggregator {

namespace v2 = ::loggregator::v2;

namespace {

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertDeleter {
  void operator()(X509* cert) const { X509_free(cert); }
};

struct Identity {
  std::unique_ptr<EVP_PKEY, KeyDeleter> key;
  std::unique_ptr<X509, CertDeleter> cert;
};

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (extension == nullptr) return false;
  bool ok = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return ok;
}

// An EC P-256 certificate (fast to generate) for `common_name`; self-signed CA when `issuer`
// is null.
Result<Identity> MakeIdentity(const char* common_name, const Identity* issuer, long serial) {
  Identity out;
  out.key.reset(EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  if (!out.key || !out.cert) return UnknownError("test certificates: key generation failed");
  X509* cert = out.cert.get();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24);
  X509_set_pubkey(cert, out.key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : cert;
  EVP_PKEY* issuer_key = issuer != nullptr ? issuer->key.get() : out.key.get();
  X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert));
  bool ok;
  if (issuer == nullptr) {
    ok = AddExtension(cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE") &&
         AddExtension(cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = AddExtension(cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE") &&
         AddExtension(cert, issuer_cert, NID_key_usage, "critical,digitalSignature") &&
         AddExtension(cert, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth") &&
         AddExtension(cert, issuer_cert, NID_subject_alt_name,
                      "DNS:metron,DNS:localhost,IP:127.0.0.1");
  }
  if (!ok) return UnknownError("test certificates: adding extensions failed");
  if (X509_sign(cert, issuer_key, EVP_sha256()) == 0) {
    return UnknownError("test certificates: signing failed");
  }
  return out;
}

Status WritePem(const std::string& path, const Identity& id, bool key) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) return UnknownError("test certificates: cannot write " + path);
  bool ok =
      key ? PEM_write_PrivateKey(file, id.key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1
          : PEM_write_X509(file, id.cert.get()) == 1;
  std::fclose(file);
  return ok ? Status::Ok() : UnknownError("test certificates: writing " + path + " failed");
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

Result<TestCertificates> TestCertificates::Create(const std::string& directory) {
  auto ca = MakeIdentity("loggregator test CA", nullptr, 1);
  if (!ca.ok()) return ca.status();
  auto agent = MakeIdentity("metron", &*ca, 2);
  if (!agent.ok()) return agent.status();
  auto client = MakeIdentity("bbs", &*ca, 3);
  if (!client.ok()) return client.status();
  auto other_ca = MakeIdentity("another CA", nullptr, 4);
  if (!other_ca.ok()) return other_ca.status();
  auto untrusted = MakeIdentity("bbs", &*other_ca, 5);
  if (!untrusted.ok()) return untrusted.status();

  TestCertificates c;
  c.ca_file = directory + "/ca.crt";
  c.agent_cert_file = directory + "/metron.crt";
  c.agent_key_file = directory + "/metron.key";
  c.client_cert_file = directory + "/client.crt";
  c.client_key_file = directory + "/client.key";
  c.untrusted_cert_file = directory + "/untrusted.crt";
  c.untrusted_key_file = directory + "/untrusted.key";
  for (Status s :
       {WritePem(c.ca_file, *ca, false), WritePem(c.agent_cert_file, *agent, false),
        WritePem(c.agent_key_file, *agent, true), WritePem(c.client_cert_file, *client, false),
        WritePem(c.client_key_file, *client, true),
        WritePem(c.untrusted_cert_file, *untrusted, false),
        WritePem(c.untrusted_key_file, *untrusted, true)}) {
    if (!s.ok()) return s;
  }
  return c;
}

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
