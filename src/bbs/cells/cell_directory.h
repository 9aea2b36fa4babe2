#pragma once

#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "models/cells.pb.h"

namespace bbs::cells {

// Where the BBS learns which cells are present and how to reach their reps (behavior.md §8).
// Thread-safe.
class CellDirectory {
 public:
  virtual ~CellDirectory() = default;
  // The presence of `cell_id`; ResourceNotFound when the cell is not known to be present.
  virtual Result<models::CellPresence> Lookup(const std::string& cell_id) = 0;
  // Every present cell.
  virtual Result<std::vector<models::CellPresence>> All() = 0;
  // False when this directory is no registry: All() then says nothing about which cells are
  // gone, and convergence must not treat unlisted cells as vanished.
  virtual bool knows_presence() const { return true; }
};

// A directory without a registry: no cell is listed, and a lookup answers a presence whose
// rep_url is `rep_url_template` with "{cell_id}" replaced, or ResourceNotFound when the
// template is empty (the cell is then treated as gone).
class TemplateCellDirectory final : public CellDirectory {
 public:
  explicit TemplateCellDirectory(std::string rep_url_template)
      : template_(std::move(rep_url_template)) {}
  Result<models::CellPresence> Lookup(const std::string& cell_id) override;
  Result<std::vector<models::CellPresence>> All() override {
    return std::vector<models::CellPresence>{};
  }
  bool knows_presence() const override { return false; }

 private:
  std::string template_;
};

}  // namespace bbs::cells
