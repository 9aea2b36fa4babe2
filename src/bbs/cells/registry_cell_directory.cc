#include "bbs/cells/registry_cell_directory.h"

#include "bbs/cells/cell_presence_json.h"

namespace bbs::cells {

Result<models::CellPresence> RegistryCellDirectory::Lookup(const std::string& cell_id) {
  Result<LocketResource> resource = registry_->Fetch(cell_id);
  if (!resource.ok()) return NotFound();
  return CellPresenceFromResource(*resource);
}

Result<std::vector<models::CellPresence>> RegistryCellDirectory::All() {
  Result<std::vector<LocketResource>> presences = registry_->FetchAll(ResourceType::kPresence);
  if (!presences.ok()) return presences.status();
  return CellSetFromPresences(*presences, logger_);
}

}  // namespace bbs::cells
