#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "bbs/state/write_context.h"

namespace bbs::state {

// The domain writes and reads (behavior.md §6). Thread-safe.
class Domains {
 public:
  explicit Domains(WriteContext ctx) : ctx_(std::move(ctx)) {}

  Status UpsertDomain(const std::string& domain, uint32_t ttl_seconds);
  // The domains not expired now, sorted.
  std::vector<std::string> FreshDomains() const;
  // Deletes the domains expired by `now` (convergence's first step).
  void PruneExpired(int64_t now);

 private:
  WriteContext ctx_;
  std::mutex write_mu_;  // serialises domain writes
};

}  // namespace bbs::state
