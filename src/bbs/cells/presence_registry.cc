#include "bbs/cells/presence_registry.h"

#include <limits>
#include <utility>

namespace bbs::cells {
namespace {

Status LockCollision() { return Status(ErrorCode::kLockCollision, "lock-collision"); }
Status InvalidType() { return Status(ErrorCode::kResourceNotFound, "invalid-type"); }

bool IsValidType(ResourceType type) {
  return type == ResourceType::kLock || type == ResourceType::kPresence;
}

// now + ttl seconds, saturating instead of overflowing.
int64_t Deadline(int64_t now, int64_t ttl_seconds) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (ttl_seconds > (kMax - now) / kNanosPerSecond) return kMax;
  return now + ttl_seconds * kNanosPerSecond;
}

}  // namespace

PresenceRegistry::PresenceRegistry(const Clock* clock, Logger logger)
    : clock_(clock), logger_(std::move(logger)) {}

Status PresenceRegistry::Lock(const LocketResource& resource, int64_t ttl_seconds) {
  if (!IsValidType(resource.type)) return InvalidType();
  if (ttl_seconds <= 0) return Status(ErrorCode::kInvalidRequest, "invalid-ttl");
  if (resource.owner.empty()) return Status(ErrorCode::kInvalidRequest, "invalid-owner");

  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = clock_->NowNanos();
  ExpireLocked(now);
  auto [it, created] = entries_.try_emplace(resource.key);
  Entry& entry = it->second;
  // A stored owner is never empty (Lock rejects it), so upstream's "legacy row without owner"
  // case cannot arise here.
  if (!created && entry.resource.owner != resource.owner) return LockCollision();
  if (!created) deadlines_.erase({entry.expires_at_nanos, resource.key});
  entry.resource = resource;
  entry.ttl_seconds = ttl_seconds;
  entry.expires_at_nanos = Deadline(now, ttl_seconds);
  deadlines_.emplace(entry.expires_at_nanos, resource.key);
  if (created) {
    logger_.Info("acquired-lock", {{"key", resource.key},
                                   {"owner", resource.owner},
                                   {"type", ResourceTypeName(resource.type)},
                                   {"ttl", ttl_seconds}});
  }
  return Status::Ok();
}

Status PresenceRegistry::Release(const std::string& key, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(clock_->NowNanos());
  auto it = entries_.find(key);
  if (it == entries_.end()) return Status::Ok();
  if (it->second.resource.owner != owner) return LockCollision();
  deadlines_.erase({it->second.expires_at_nanos, key});
  entries_.erase(it);
  logger_.Info("released-lock", {{"key", key}, {"owner", owner}});
  return Status::Ok();
}

Result<LocketResource> PresenceRegistry::Fetch(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(clock_->NowNanos());
  auto it = entries_.find(key);
  if (it == entries_.end()) return Status(ErrorCode::kResourceNotFound, "resource-not-found");
  return it->second.resource;
}

Result<std::vector<LocketResource>> PresenceRegistry::FetchAll(ResourceType type) {
  if (!IsValidType(type)) return InvalidType();
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(clock_->NowNanos());
  std::vector<LocketResource> resources;
  for (const auto& [key, entry] : entries_) {
    if (entry.resource.type == type) resources.push_back(entry.resource);
  }
  return resources;
}

size_t PresenceRegistry::ExpireNow() {
  std::lock_guard<std::mutex> lock(mu_);
  return ExpireLocked(clock_->NowNanos());
}

size_t PresenceRegistry::ExpireLocked(int64_t now) {
  size_t expired = 0;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto node = deadlines_.extract(deadlines_.begin());
    auto it = entries_.find(node.value().second);
    const Entry& entry = it->second;
    const LocketResource& r = entry.resource;
    (r.type == ResourceType::kLock ? locks_expired_ : presences_expired_) += 1;
    logger_.Info("lock-expired", {{"key", r.key},
                                  {"owner", r.owner},
                                  {"type", ResourceTypeName(r.type)},
                                  {"ttl", entry.ttl_seconds}});
    entries_.erase(it);
    ++expired;
  }
  return expired;
}

int64_t PresenceRegistry::locks_expired() const {
  std::lock_guard<std::mutex> lock(mu_);
  return locks_expired_;
}

int64_t PresenceRegistry::presences_expired() const {
  std::lock_guard<std::mutex> lock(mu_);
  return presences_expired_;
}

}  // namespace bbs::cells
