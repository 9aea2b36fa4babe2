#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <tuple>

#include "bbs/storage/store.h"

namespace bbs::storage {

// MemoryStore is a Store that keeps every record in process memory: the fake used by tests of
// the layers above, and the "memory" driver (nothing survives the process). Load returns copies
// of exactly the records that were put. Commit cannot fail. Thread-safe.
class MemoryStore final : public Store {
 public:
  MemoryStore() = default;

  Status Load(Snapshot* out) override;
  Status Commit(std::span<const Mutation> mutations) override;
  Result<std::vector<StoredRunInfo>> ReadRunInfos(
      std::span<const std::string> process_guids) override;
  Result<std::vector<StoredRunInfo>> ReadAllRunInfos() override;

  // Number of Commit calls so far, including empty ones (lets tests assert "no write").
  int64_t commit_count() const { return commit_count_.load(); }

 private:
  using ActualKey = std::tuple<std::string, int32_t, int>;

  void Apply(const Mutation& mutation);

  mutable std::mutex mu_;
  std::map<std::string, int64_t> domains_;
  std::map<std::string, records::DesiredLRPRecord> desired_lrps_;
  std::map<ActualKey, models::ActualLRP> actual_lrps_;
  std::map<std::string, models::Task> tasks_;
  std::atomic<int64_t> commit_count_{0};
};

// FaultyStore wraps another Store and makes chosen calls fail with UnknownError without
// reaching the wrapped store, so nothing is applied (LevelDB's ErrorEnv). Everything else is
// forwarded. Thread-safe if the wrapped store is.
class FaultyStore final : public Store {
 public:
  // REQUIRES: `target` outlives this object. Not owned.
  explicit FaultyStore(Store* target) : target_(target) {}

  // The next `n` Commit calls fail (replaces any earlier count).
  void FailNextCommits(int n) { commits_to_fail_.store(n); }
  // The next `n` Load calls fail (replaces any earlier count).
  void FailNextLoads(int n) { loads_to_fail_.store(n); }
  // The next `n` run-info reads (ReadRunInfos, ReadAllRunInfos) fail.
  void FailNextRunInfoReads(int n) { run_info_reads_to_fail_.store(n); }

  // Commit calls that were failed on purpose so far.
  int failed_commits() const { return failed_commits_.load(); }

  Status Load(Snapshot* out) override;
  Status Commit(std::span<const Mutation> mutations) override;
  Result<std::vector<StoredRunInfo>> ReadRunInfos(
      std::span<const std::string> process_guids) override;
  Result<std::vector<StoredRunInfo>> ReadAllRunInfos() override;

 private:
  // Consumes one pending failure from `counter`; true if this call must fail.
  static bool TakeFailure(std::atomic<int>* counter);

  Store* target_;
  std::atomic<int> commits_to_fail_{0};
  std::atomic<int> loads_to_fail_{0};
  std::atomic<int> run_info_reads_to_fail_{0};
  std::atomic<int> failed_commits_{0};
};

}  // namespace bbs::storage
