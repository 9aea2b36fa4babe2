#include "bbs/cells/locket_cell_directory.h"

#include "bbs/cells/cell_presence_json.h"

namespace bbs::cells {
namespace {

// Upstream hands raw gRPC errors on; its API reports them as UnknownError.
Status AsUnknown(const Status& status) {
  if (status.code() == ErrorCode::kUnknownError) return status;
  return UnknownError(status.message());
}

}  // namespace

Result<models::CellPresence> LocketCellDirectory::Lookup(const std::string& cell_id) {
  LocketCallOptions call;
  call.deadline = call_timeout_;
  Result<LocketResource> resource = client_->Fetch(cell_id, call);
  if (!resource.ok()) {
    if (resource.status().code() == ErrorCode::kResourceNotFound) return NotFound();
    logger_.Error("failed-to-fetch-cell", resource.status().message(), {{"cell_id", cell_id}});
    return AsUnknown(resource.status());
  }
  return CellPresenceFromResource(*resource);
}

Result<std::vector<models::CellPresence>> LocketCellDirectory::All() {
  LocketCallOptions call;
  call.deadline = call_timeout_;
  Result<std::vector<LocketResource>> presences = client_->FetchAll(ResourceType::kPresence, call);
  if (!presences.ok()) {
    logger_.Error("failed-to-fetch-cells", presences.status().message());
    return AsUnknown(presences.status());
  }
  return CellSetFromPresences(*presences, logger_);
}

}  // namespace bbs::cells
