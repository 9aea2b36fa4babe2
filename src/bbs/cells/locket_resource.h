#pragma once

#include <string>

namespace bbs::cells {

// The two kinds of Locket resources; the numbers are the wire `models.TypeCode`.
enum class ResourceType : int { kUnknown = 0, kLock = 1, kPresence = 2 };

// Locket's stored type string for `type`: "lock", "presence", or "" for anything else.
inline const char* ResourceTypeName(ResourceType type) {
  if (type == ResourceType::kLock) return "lock";
  if (type == ResourceType::kPresence) return "presence";
  return "";
}

// A Locket resource (locket.md §4): a named record with an owner and an opaque value. Locks and
// presences share one key namespace.
struct LocketResource {
  std::string key;
  std::string owner;
  std::string value;
  ResourceType type = ResourceType::kUnknown;

  bool operator==(const LocketResource&) const = default;
};

}  // namespace bbs::cells
