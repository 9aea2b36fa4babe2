#include "bbs/storage/factory.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/etcd/etcd_store.h"
#include "bbs/storage/memory_store.h"
#include "bbs/storage/mysql/mysql_store.h"
#include "bbs/storage/postgres/postgres_store.h"
#include "bbs/storage/sqlite/sqlite_store.h"

namespace bbs::storage {
namespace {

constexpr char kGeneratedLabel[] = "bbs-local";

std::string RandomPassphrase() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    std::abort();
  }
  std::string hex;
  for (unsigned char b : bytes) {
    hex += fmt::format("{:02x}", b);
  }
  return hex;
}

// Reads the generated key of a SQLite database, creating it (0600) on first use.
Status LoadOrCreateKeyFile(const std::string& path, std::string* label, std::string* passphrase) {
  std::ifstream in(path);
  if (in) {
    std::string line;
    std::getline(in, line);
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == line.size()) {
      return InvalidRequest(
          fmt::format("encryption key file '{}' is not 'label:passphrase'", path));
    }
    *label = line.substr(0, colon);
    *passphrase = line.substr(colon + 1);
    return Status::Ok();
  }
  *label = kGeneratedLabel;
  *passphrase = RandomPassphrase();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return UnknownError(fmt::format("cannot create encryption key file '{}': {}", path,
                                    std::generic_category().message(errno)));
  }
  std::string content = *label + ":" + *passphrase + "\n";
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    return UnknownError(fmt::format("cannot write encryption key file '{}'", path));
  }
  return Status::Ok();
}

Result<std::shared_ptr<const encryption::Encoder>> MakeEncoder(const StoreOptions& options,
                                                               const std::string& sqlite_path) {
  if (!options.encryption_keys.empty()) {
    return encryption::Encoder::Create(options.encryption_keys, options.active_key_label);
  }
  if (options.driver != "sqlite") {
    return InvalidRequest(
        fmt::format("encryption_keys and active_key_label are required with database_driver '{}'",
                    options.driver));
  }
  std::string label = kGeneratedLabel;
  std::string passphrase;
  if (sqlite_path == ":memory:" || sqlite_path.starts_with("file:")) {
    passphrase = RandomPassphrase();
  } else if (Status s = LoadOrCreateKeyFile(SqliteKeyFilePath(sqlite_path), &label, &passphrase);
             !s.ok()) {
    return s;
  }
  return encryption::Encoder::Create({{label, passphrase}}, label);
}

// A backend's opened store as a Store.
template <typename Backend>
Result<std::unique_ptr<Store>> AsStore(Result<std::unique_ptr<Backend>> opened) {
  if (!opened.ok()) {
    return opened.status();
  }
  return std::unique_ptr<Store>(std::move(opened).value());
}

Result<std::unique_ptr<Store>> OpenSqlite(const StoreOptions& options, Logger logger) {
  if (options.connection_string.empty()) {
    return InvalidRequest("the sqlite connection string (a database file path) is empty");
  }
  const std::string& path = options.connection_string;
  // ":memory:" and "file:" URIs name no directory of ours.
  if (path != ":memory:" && !path.starts_with("file:")) {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code error;
      std::filesystem::create_directories(parent, error);
      if (error) {
        return UnknownError(fmt::format("cannot create directory '{}' for the sqlite database: {}",
                                        parent.string(), error.message()));
      }
    }
  }
  auto encoder = MakeEncoder(options, path);
  if (!encoder.ok()) {
    return encoder.status();
  }
  return AsStore(SqliteStore::Open(path, std::move(logger), encoder.value()));
}

// The options PostgreSQL and MySQL share.
void SetSqlOptions(const StoreOptions& options, sql::SqlStoreOptions* out) {
  out->connection_timeout = options.connection_timeout;
  out->max_connection_lifetime = options.max_connection_lifetime;
  out->ca_cert_file = options.sql_ca_cert_file;
  out->verify_identity = options.sql_enable_identity_verification;
  out->fence = options.lease_fence;
  out->on_migrations_finished = options.on_migrations_finished;
  out->on_encryption_finished = options.on_encryption_finished;
}

}  // namespace

std::string SqliteKeyFilePath(const std::string& database_path) { return database_path + ".key"; }

Result<std::unique_ptr<Store>> OpenStore(const StoreOptions& options, Logger logger) {
  if (options.driver == "sqlite") {
    return OpenSqlite(options, std::move(logger));
  }
  if (options.driver == "memory") {
    return std::unique_ptr<Store>(std::make_unique<MemoryStore>());
  }
  if (options.driver != "postgres" && options.driver != "mysql" && options.driver != "etcd") {
    return InvalidRequest(fmt::format("unknown database driver '{}'", options.driver));
  }
  auto encoder = MakeEncoder(options, "");
  if (!encoder.ok()) {
    return encoder.status();
  }
  if (options.driver == "postgres") {
    PostgresStore::Options pg;
    SetSqlOptions(options, &pg);
    pg.url = options.connection_string;
    return AsStore(PostgresStore::Open(pg, std::move(logger), encoder.value()));
  }
  if (options.driver == "mysql") {
    MysqlStore::Options my;
    SetSqlOptions(options, &my);
    my.dsn = options.connection_string;
    my.read_timeout = options.read_timeout;
    my.write_timeout = options.write_timeout;
    return AsStore(MysqlStore::Open(my, std::move(logger), encoder.value()));
  }
  etcd::EtcdStore::Options etcd;
  etcd.client.endpoints = etcd::SplitEndpoints(
      options.etcd_cluster.empty() ? options.connection_string : options.etcd_cluster);
  etcd.client.cert_file = options.etcd_cert_file;
  etcd.client.key_file = options.etcd_key_file;
  etcd.client.ca_file = options.etcd_ca_file;
  etcd.root = options.etcd_root;
  etcd.fence = options.lease_fence;
  etcd.encoder = encoder.value();
  return AsStore(etcd::EtcdStore::Open(std::move(etcd), std::move(logger)));
}

Result<std::unique_ptr<Store>> OpenStore(std::string_view driver,
                                         std::string_view connection_string, Logger logger) {
  StoreOptions options;
  options.driver = std::string(driver);
  options.connection_string = std::string(connection_string);
  return OpenStore(options, std::move(logger));
}

}  // namespace bbs::storage
