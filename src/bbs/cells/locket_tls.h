#pragma once

#include <memory>
#include <optional>
#include <string>

#include "bbs/base/status.h"

namespace grpc {
class ChannelCredentials;
class ServerCredentials;
}  // namespace grpc

namespace bbs::cells {

// PEM files for mutual TLS with a Locket peer (locket.md §2): our certificate chain and key,
// and the CA that must have signed the peer's certificate. gRPC negotiates ALPN "h2".
struct LocketTls {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// Server credentials that require and verify a client certificate signed by `tls->ca_file`;
// plaintext ones when `tls` is not set. Fails with InvalidRequest when a file cannot be read.
Result<std::shared_ptr<grpc::ServerCredentials>> MakeLocketServerCredentials(
    const std::optional<LocketTls>& tls);

// Client credentials presenting `tls->cert_file` and trusting servers signed by
// `tls->ca_file`; plaintext ones when `tls` is not set. Fails with InvalidRequest when a file
// cannot be read.
Result<std::shared_ptr<grpc::ChannelCredentials>> MakeLocketChannelCredentials(
    const std::optional<LocketTls>& tls);

}  // namespace bbs::cells
