#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bbs/base/clock.h"
#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/cells/locket_registry.h"
#include "bbs/cells/locket_resource.h"

namespace bbs::cells {

// The in-memory LocketRegistry of one process (the memory and etcd stores, SQLite in memory).
// Time comes from the Clock; a resource is deleted once now >= last Lock + ttl, lazily at the
// start of every call and by ExpireNow(), which a timer may call (upstream deletes within ~1 s
// of the deadline). Thread-safe.
class PresenceRegistry final : public LocketRegistry {
 public:
  // `clock` must outlive the registry.
  PresenceRegistry(const Clock* clock, Logger logger);

  // Creates `resource` (free key), or refreshes it when `resource.owner` holds the key: owner,
  // value and type are replaced and the TTL restarts. Fails, checked in this order, with
  // "invalid-type" (type is kUnknown or undefined), "invalid-ttl" (ttl_seconds <= 0),
  // "invalid-owner" (empty owner), or "lock-collision" (another owner holds the key).
  Status Lock(const LocketResource& resource, int64_t ttl_seconds) override;

  // Deletes `key` when `owner` holds it. A missing key is OK; another owner's key fails with
  // "lock-collision".
  Status Release(const std::string& key, const std::string& owner) override;

  // The resource named `key`, of any type, or "resource-not-found".
  Result<LocketResource> Fetch(const std::string& key) override;

  // Every resource of `type`, ordered by key. Fails with "invalid-type" unless `type` is kLock
  // or kPresence.
  Result<std::vector<LocketResource>> FetchAll(ResourceType type) override;

  // Deletes every resource whose TTL has run out. Returns how many were deleted.
  size_t ExpireNow() override;

  // Cumulative expiry counts (Locket's LocksExpired / PresenceExpired).
  int64_t locks_expired() const override;
  int64_t presences_expired() const override;

 private:
  struct Entry {
    LocketResource resource;
    int64_t ttl_seconds = 0;
    int64_t expires_at_nanos = 0;
  };

  size_t ExpireLocked(int64_t now);  // REQUIRES: mu_ held

  const Clock* clock_;
  Logger logger_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
  // (expires_at_nanos, key) of every entry, soonest first.
  std::set<std::pair<int64_t, std::string>> deadlines_;  // guarded by mu_
  int64_t locks_expired_ = 0;                            // guarded by mu_
  int64_t presences_expired_ = 0;                        // guarded by mu_
};

}  // namespace bbs::cells
