#include "bbs/cells/locket_tls.h"

#include <fstream>
#include <sstream>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

namespace bbs::cells {
namespace {

Result<std::string> ReadPem(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  if (in) contents << in.rdbuf();
  if (!in || contents.str().empty()) {
    return InvalidRequest("locket: cannot read " + what + " '" + path + "'");
  }
  return contents.str();
}

struct Pems {
  std::string ca, cert, key;
};

Result<Pems> ReadPems(const LocketTls& tls) {
  Result<std::string> ca = ReadPem("CA file", tls.ca_file);
  if (!ca.ok()) return ca.status();
  Result<std::string> cert = ReadPem("certificate file", tls.cert_file);
  if (!cert.ok()) return cert.status();
  Result<std::string> key = ReadPem("key file", tls.key_file);
  if (!key.ok()) return key.status();
  return Pems{std::move(*ca), std::move(*cert), std::move(*key)};
}

}  // namespace

Result<std::shared_ptr<grpc::ServerCredentials>> MakeLocketServerCredentials(const LocketTls& tls) {
  Result<Pems> pems = ReadPems(tls);
  if (!pems.ok()) return pems.status();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = pems->ca;
  options.pem_key_cert_pairs.push_back({pems->key, pems->cert});
  return grpc::SslServerCredentials(options);
}

Result<std::shared_ptr<grpc::ChannelCredentials>> MakeLocketChannelCredentials(
    const LocketTls& tls) {
  Result<Pems> pems = ReadPems(tls);
  if (!pems.ok()) return pems.status();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pems->ca;
  options.pem_private_key = pems->key;
  options.pem_cert_chain = pems->cert;
  return grpc::SslCredentials(options);
}

}  // namespace bbs::cells
