#include "bbs/storage/factory.h"

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "bbs/storage/etcd/etcd_store.h"
#include "bbs/storage/memory_store.h"
#include "bbs/storage/sqlite/sqlite_store.h"

namespace bbs::storage {
namespace {

Result<std::unique_ptr<Store>> OpenSqlite(std::string_view connection_string, Logger logger) {
  if (connection_string.empty()) {
    return InvalidRequest("the sqlite connection string (a database file path) is empty");
  }
  std::string path(connection_string);
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
  auto store = SqliteStore::Open(path, std::move(logger));
  if (!store.ok()) {
    return store.status();
  }
  return std::unique_ptr<Store>(std::move(store).value());
}

}  // namespace

Result<std::unique_ptr<Store>> OpenStore(std::string_view driver,
                                         std::string_view connection_string, Logger logger) {
  if (driver == "sqlite") {
    return OpenSqlite(connection_string, std::move(logger));
  }
  if (driver == "memory") {
    return std::unique_ptr<Store>(std::make_unique<MemoryStore>());
  }
  if (driver == "etcd") {
    EtcdSettings settings;
    settings.cluster = std::string(connection_string);
    return OpenEtcdStore(settings, std::move(logger));
  }
  if (driver == "postgres") {
    return InvalidRequest(fmt::format("database driver '{}' is not built yet", driver));
  }
  return InvalidRequest(fmt::format("unknown database driver '{}'", driver));
}

Result<std::unique_ptr<Store>> OpenEtcdStore(const EtcdSettings& settings, Logger logger) {
  etcd::EtcdStore::Options options;
  options.client.endpoints = etcd::SplitEndpoints(settings.cluster);
  options.client.cert_file = settings.cert_file;
  options.client.key_file = settings.key_file;
  options.client.ca_file = settings.ca_file;
  options.root = settings.root;
  auto store = etcd::EtcdStore::Open(std::move(options), std::move(logger));
  if (!store.ok()) {
    return store.status();
  }
  return std::unique_ptr<Store>(std::move(store).value());
}

}  // namespace bbs::storage
