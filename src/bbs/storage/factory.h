#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/storage/store.h"

namespace bbs::storage {

namespace sql {
struct LeaseFence;
}

// Everything a backend needs to open (the `database_*`, `sql_*`, `db_*` and encryption keys of
// spec/behavior.md §11.3 and §11.7).
struct StoreOptions {
  std::string driver = "sqlite";
  std::string connection_string;
  std::map<std::string, std::string> encryption_keys;  // label -> passphrase
  std::string active_key_label;
  int max_open_connections = 200;  // 0 = unlimited
  int max_idle_connections = 200;
  std::chrono::nanoseconds max_connection_lifetime{0};  // 0 = unlimited
  std::chrono::nanoseconds connection_timeout = std::chrono::minutes(10);
  std::chrono::nanoseconds read_timeout = std::chrono::minutes(10);
  std::chrono::nanoseconds write_timeout = std::chrono::minutes(10);
  std::string sql_ca_cert_file;
  bool sql_enable_identity_verification = true;
  // etcd (-etcdCluster, -etcdCertFile, -etcdKeyFile, -etcdCaFile): the comma-separated client
  // URLs ("https://a:2379,https://b:2379"; `connection_string` when empty), the client
  // certificate, its key and the CA that signed the members' certificates, and the key prefix
  // before "/v1/..." ("" = the seed's layout).
  std::string etcd_cluster;
  std::string etcd_cert_file;
  std::string etcd_key_file;
  std::string etcd_ca_file;
  std::string etcd_root;
  // postgres/mysql/etcd with their store lock: the fence every commit checks (docs/ha.md).
  std::shared_ptr<const sql::LeaseFence> lease_fence;
  // postgres/mysql: called with the durations of the migrations and of the encryptor.
  std::function<void(std::chrono::nanoseconds)> on_migrations_finished;
  std::function<void(std::chrono::nanoseconds)> on_encryption_finished;
};

// The file beside a SQLite database that keeps its generated encryption key when no keys are
// configured: "<database path>.key" (mode 0600, one line "label:passphrase").
std::string SqliteKeyFilePath(const std::string& database_path);

// Opens the Store backend named `options.driver`:
//   "sqlite"   — `connection_string` is the database file path; its parent directory is
//                created if missing. Without configured keys, a random key is generated once
//                and kept in SqliteKeyFilePath() (the laptop default needs no set-up).
//   "postgres" — `connection_string` is upstream's postgres://user:pass@host:port/db?... URL.
//   "mysql"    — `connection_string` is upstream's user:pass@tcp(host:port)/db?... DSN.
//   "etcd"     — etcd v3 at `etcd_cluster` (or `connection_string` when that is empty), in the
//                original BBS's key layout (spec/behavior.md §10.6).
//   "memory"   — an empty MemoryStore; `connection_string` is ignored.
// The SQL servers and etcd require `encryption_keys` and `active_key_label` (InvalidRequest
// otherwise, as upstream refuses to start without them). An unknown driver or an empty sqlite path
// fail with InvalidRequest. Other failures are those of the backend's Open.
Result<std::unique_ptr<Store>> OpenStore(const StoreOptions& options, Logger logger);

// Shorthand for a store without configured keys and with default pool settings.
Result<std::unique_ptr<Store>> OpenStore(std::string_view driver,
                                         std::string_view connection_string, Logger logger);

}  // namespace bbs::storage
