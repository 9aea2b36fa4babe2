#include "bbs/state/domains.h"

#include <limits>

namespace bbs::state {

Status Domains::UpsertDomain(const std::string& domain, uint32_t ttl_seconds) {
  std::lock_guard write_lock(write_mu_);
  int64_t expire = ttl_seconds == 0 ? std::numeric_limits<int64_t>::max()
                                    : ctx_.clock->NowNanos() +
                                          static_cast<int64_t>(ttl_seconds) * kNanosPerSecond;
  Change change;
  change.mutations.push_back(storage::PutDomain{domain, expire});
  return ctx_.committer->Commit(std::move(change));
}

std::vector<std::string> Domains::FreshDomains() const {
  int64_t now = ctx_.clock->NowNanos();
  // Upstream compares with "now" rounded to the second.
  int64_t rounded = (now + kNanosPerSecond / 2) / kNanosPerSecond * kNanosPerSecond;
  return ctx_.model->DomainsExpiringAfter(rounded);
}

void Domains::PruneExpired(int64_t now) {
  std::vector<std::string> expired = ctx_.model->DomainsExpiredBy(now);
  if (expired.empty()) return;
  std::lock_guard write_lock(write_mu_);
  Change change;
  for (const auto& d : expired) change.mutations.push_back(storage::DeleteDomain{d});
  Status s = ctx_.committer->Commit(std::move(change));
  if (!s.ok()) ctx_.logger.Error("prune-domains-failed", s.ToString());
}

}  // namespace bbs::state
