#pragma once

#include <string>

#include "bbs/base/status.h"

namespace bbs::clients {

// A throwaway PKI for TLS tests: a CA, a server certificate for 127.0.0.1/localhost (and
// "metron", the name the Loggregator emitter verifies) and a client certificate, all RSA 2048
// signed by the CA, written as PEM files into a directory.
struct TestPki {
  std::string ca_file;
  std::string server_cert_file, server_key_file;
  std::string client_cert_file, client_key_file;
  // Signed by a different CA: a server certificate clients of `ca_file` reject.
  std::string untrusted_cert_file, untrusted_key_file;

  // Generates everything into `directory` (which must exist). Takes a second or so.
  static Result<TestPki> Create(const std::string& directory);
};

}  // namespace bbs::clients
