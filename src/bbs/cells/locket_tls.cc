#include "bbs/cells/locket_tls.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

namespace bbs::cells {
namespace {

struct Pems {
  std::string ca, cert, key;
};

// The three PEM files of `tls`, each read whole; a file that cannot be read or is empty fails.
Result<Pems> ReadPems(const LocketTls& tls) {
  Pems pems;
  struct File {
    const char* what;
    const std::string& path;
    std::string& pem;
  };
  for (const File& file :
       {File{"CA file", tls.ca_file, pems.ca}, File{"certificate file", tls.cert_file, pems.cert},
        File{"key file", tls.key_file, pems.key}}) {
    std::ifstream in(file.path, std::ios::binary);
    std::ostringstream contents;
    if (in) contents << in.rdbuf();
    if (!in || contents.str().empty()) {
      return InvalidRequest(fmt::format("locket: cannot read {} '{}'", file.what, file.path));
    }
    file.pem = contents.str();
  }
  return pems;
}

}  // namespace

Result<std::shared_ptr<grpc::ServerCredentials>> MakeLocketServerCredentials(
    const std::optional<LocketTls>& tls) {
  if (!tls) return grpc::InsecureServerCredentials();
  Result<Pems> pems = ReadPems(*tls);
  if (!pems.ok()) return pems.status();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = pems->ca;
  options.pem_key_cert_pairs.push_back({pems->key, pems->cert});
  return grpc::SslServerCredentials(options);
}

Result<std::shared_ptr<grpc::ChannelCredentials>> MakeLocketChannelCredentials(
    const std::optional<LocketTls>& tls) {
  if (!tls) return grpc::InsecureChannelCredentials();
  Result<Pems> pems = ReadPems(*tls);
  if (!pems.ok()) return pems.status();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pems->ca;
  options.pem_private_key = pems->key;
  options.pem_cert_chain = pems->cert;
  return grpc::SslCredentials(options);
}

}  // namespace bbs::cells
