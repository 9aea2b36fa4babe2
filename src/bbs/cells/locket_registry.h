#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "bbs/cells/locket_resource.h"

namespace bbs::cells {

// A Locket store (locket.md §5-§6): locks and presences in one key namespace, each kept `ttl`
// seconds after its holder's last successful Lock. Implementations: PresenceRegistry (in
// memory, one process) and storage::sql::SqlLocketRegistry (the `locks` table of the store's
// database, shared by every process; docs/ha.md §"The built-in Locket service").
//
// A resource whose TTL has run out is gone for every call, whether or not it has been deleted
// yet. Errors use the BBS codes that mirror Locket's gRPC codes one to one, with Locket's
// messages: LockCollision "lock-collision" (ALREADY_EXISTS), InvalidRequest "invalid-ttl" /
// "invalid-owner" (INVALID_ARGUMENT), ResourceNotFound "resource-not-found" / "invalid-type"
// (NOT_FOUND); anything else (a database failure) is UnknownError. Thread-safe.
class LocketRegistry {
 public:
  virtual ~LocketRegistry() = default;

  // Creates `resource` (free key), or refreshes it when `resource.owner` holds the key: owner,
  // value and type are replaced and the TTL restarts. Fails, checked in this order, with
  // "invalid-type" (type is kUnknown or undefined), "invalid-ttl" (ttl_seconds <= 0),
  // "invalid-owner" (empty owner), or "lock-collision" (another owner holds the key).
  virtual Status Lock(const LocketResource& resource, int64_t ttl_seconds) = 0;

  // Deletes `key` when `owner` holds it. A missing key is OK; another owner's key fails with
  // "lock-collision".
  virtual Status Release(const std::string& key, const std::string& owner) = 0;

  // The resource named `key`, of any type, or "resource-not-found".
  virtual Result<LocketResource> Fetch(const std::string& key) = 0;

  // Every resource of `type`, ordered by key (byte order). Fails with "invalid-type" unless
  // `type` is kLock or kPresence.
  virtual Result<std::vector<LocketResource>> FetchAll(ResourceType type) = 0;

  // Deletes every resource whose TTL has run out (logging lock-expired for each). Returns how
  // many this call deleted.
  virtual size_t ExpireNow() = 0;

  // Cumulative expiry counts of this process's deletions (Locket's LocksExpired /
  // PresenceExpired).
  virtual int64_t locks_expired() const = 0;
  virtual int64_t presences_expired() const = 0;
};

}  // namespace bbs::cells
