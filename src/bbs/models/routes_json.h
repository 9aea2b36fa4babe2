#pragma once

#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "bbs/models/models.h"

// The routes map of desired LRPs (api.md §8.7): router name -> opaque JSON document.
// Pure functions; thread-safe.
namespace bbs::wire {

// The routes as upstream stores and returns them. Every value must be a JSON document (a
// zero-length value is not), else InvalidRequest "the request received is invalid". Each value
// is re-encoded as Go's encoder re-encodes json.RawMessage: insignificant whitespace removed, key
// order and number literals kept, and inside strings `<`, `>`, `&`, U+2028 and U+2029 written as
// \u003c, \u003e, \u0026, \u2028 and \u2029.
Result<models::ProtoRoutes> NormalizeRoutes(const models::ProtoRoutes& routes);

// The hostnames of the `internal-router` entry (a JSON array of {"hostname": ...} objects), in
// order. Empty when the entry is absent, and also when it is not such an array (upstream reports
// an error there; its callers then proceed without internal routes).
std::vector<std::string> InternalRoutesFromRoutes(const models::ProtoRoutes& routes);

}  // namespace bbs::wire
