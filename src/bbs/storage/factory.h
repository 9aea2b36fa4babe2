#pragma once

#include <memory>
#include <string_view>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/storage/store.h"

namespace bbs::storage {

// Opens the Store backend named `driver`:
//   "sqlite"  — `connection_string` is the database file path; its parent directory is
//               created if missing.
//   "memory"  — an empty MemoryStore; `connection_string` is ignored.
// "postgres" and "etcd" are known but not built yet; they, an unknown driver and an empty sqlite
// path fail with InvalidRequest. Other failures are those of the backend's Open.
Result<std::unique_ptr<Store>> OpenStore(std::string_view driver,
                                         std::string_view connection_string, Logger logger);

}  // namespace bbs::storage
