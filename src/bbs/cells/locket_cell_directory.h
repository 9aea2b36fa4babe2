#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/cells/cell_directory.h"
#include "bbs/cells/locket_client.h"

namespace bbs::cells {

// The cells registered in an external Locket (config `locket_address`), read as the Go BBS
// reads them (locket.md §9.2): All() = FetchAll PRESENCE, values decoded as in
// RegistryCellDirectory; Lookup() = Fetch(cell_id), NOT_FOUND -> ResourceNotFound. Every call
// has the deadline `call_timeout` (upstream: db_connection_timeout). Other RPC failures and
// undecodable values are UnknownError, as upstream's error conversion makes them. Thread-safe;
// calls block up to the deadline, so callers must not hold state locks around them.
class LocketCellDirectory final : public CellDirectory {
 public:
  // `client` must outlive the directory.
  LocketCellDirectory(LocketClient* client, std::chrono::milliseconds call_timeout, Logger logger)
      : client_(client), call_timeout_(call_timeout), logger_(std::move(logger)) {}

  Result<models::CellPresence> Lookup(const std::string& cell_id) override;
  Result<std::vector<models::CellPresence>> All() override;
  bool knows_presence() const override { return true; }

 private:
  LocketClient* client_;
  std::chrono::milliseconds call_timeout_;
  Logger logger_;
};

}  // namespace bbs::cells
