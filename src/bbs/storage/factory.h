#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/storage/store.h"

namespace bbs::storage {

// Opens the Store backend named `driver`:
//   "sqlite"  — `connection_string` is the database file path; its parent directory is
//               created if missing.
//   "memory"  — an empty MemoryStore; `connection_string` is ignored.
//   "etcd"    — `connection_string` is the comma-separated etcd client URLs, without TLS
//               files (see OpenEtcdStore).
// "postgres" is known but not built yet; it, an unknown driver and an empty sqlite
// path fail with InvalidRequest. Other failures are those of the backend's Open.
Result<std::unique_ptr<Store>> OpenStore(std::string_view driver,
                                         std::string_view connection_string, Logger logger);

// The etcd backend as the original BBS flags name it.
struct EtcdSettings {
  std::string cluster;    // -etcdCluster: "https://a:2379,https://b:2379"
  std::string cert_file;  // -etcdCertFile
  std::string key_file;   // -etcdKeyFile
  std::string ca_file;    // -etcdCaFile
  std::string root;       // key prefix before "/v1/..."; "" = the seed's layout
};
Result<std::unique_ptr<Store>> OpenEtcdStore(const EtcdSettings& settings, Logger logger);

}  // namespace bbs::storage
