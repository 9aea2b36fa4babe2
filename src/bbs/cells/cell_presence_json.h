#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/cells/locket_resource.h"
#include "models/cells.pb.h"

namespace bbs::cells {

// The CellPresence JSON that reps store as the value of their Locket presence (locket.md §10.3).

// Encodes `presence` as the rep does (Go's encoding/json): compact, keys in the order cell_id,
// rep_address, zone, capacity (only when set), rootfs_provider_list, placement_tags,
// optional_placement_tags (each omitted when empty; a provider's "properties" too), rep_url,
// annotations (omitted when empty, keys sorted); strings escaped the Go way.
std::string EncodeCellPresenceJson(const models::CellPresence& presence);

// Decodes `json` leniently, as the Go BBS does: keys match case-insensitively, unknown keys are
// ignored, missing keys and nulls leave fields empty, and a literal `null` is an empty presence.
// No CellPresence validation is run. Fails with InvalidJSON on malformed JSON, a value of the
// wrong JSON type, or a number that is not an int32.
Result<models::CellPresence> DecodeCellPresenceJson(std::string_view json);

// The cell set as the BBS builds it from presence resources (locket.md §9.2): each value decoded,
// those that fail skipped and logged ("failed-to-unmarshal-presence"), keyed by the JSON cell_id
// (not the Locket key; a later duplicate wins), ordered by cell_id.
std::vector<models::CellPresence> CellSetFromPresences(const std::vector<LocketResource>& presences,
                                                       const Logger& logger);

// The presence in `resource`'s value; UnknownError with the decode error when it is not
// CellPresence JSON (upstream returns the raw JSON error, which its API reports as
// UnknownError).
Result<models::CellPresence> CellPresenceFromResource(const LocketResource& resource);

}  // namespace bbs::cells
