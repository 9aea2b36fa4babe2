#include "bbs/cells/cell_directory.h"

namespace bbs::cells {

Result<models::CellPresence> TemplateCellDirectory::Lookup(const std::string& cell_id) {
  if (template_.empty() || cell_id.empty()) return NotFound();
  std::string url = template_;
  static constexpr char kPlaceholder[] = "{cell_id}";
  for (size_t pos = url.find(kPlaceholder); pos != std::string::npos;
       pos = url.find(kPlaceholder, pos + cell_id.size())) {
    url.replace(pos, sizeof(kPlaceholder) - 1, cell_id);
  }
  models::CellPresence presence;
  presence.set_cell_id(cell_id);
  presence.set_rep_url(url);
  return presence;
}

}  // namespace bbs::cells
