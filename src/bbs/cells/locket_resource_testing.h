#pragma once

#include <string>
#include <utility>

#include "bbs/cells/locket_resource.h"

// Builders of Locket resources for the tests of the registries, the Locket service and the
// Locket lock.
namespace bbs::cells::testing {

inline LocketResource Lock(std::string key, std::string owner, std::string value = "") {
  return {std::move(key), std::move(owner), std::move(value), ResourceType::kLock};
}

inline LocketResource Presence(std::string key, std::string owner, std::string value = "") {
  return {std::move(key), std::move(owner), std::move(value), ResourceType::kPresence};
}

}  // namespace bbs::cells::testing
