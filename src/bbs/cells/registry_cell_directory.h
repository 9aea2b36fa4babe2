#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/cells/cell_directory.h"
#include "bbs/cells/locket_registry.h"

namespace bbs::cells {

// The cells registered as presences in the LocketRegistry behind our Locket service (reps calling
// it). Reads as the BBS reads Locket (locket.md §9.2): All() decodes every presence
// value, skipping (and logging) values that are no CellPresence JSON, keyed by the JSON cell_id
// (a later duplicate wins), ordered by cell_id; Lookup() fetches the resource named `cell_id`
// and decodes it (ResourceNotFound when absent, UnknownError when its value does not decode).
// Thread-safe.
class RegistryCellDirectory final : public CellDirectory {
 public:
  // `registry` must outlive the directory.
  RegistryCellDirectory(LocketRegistry* registry, Logger logger)
      : registry_(registry), logger_(std::move(logger)) {}

  Result<models::CellPresence> Lookup(const std::string& cell_id) override;
  Result<std::vector<models::CellPresence>> All() override;
  bool knows_presence() const override { return true; }

 private:
  LocketRegistry* registry_;
  Logger logger_;
};

}  // namespace bbs::cells
