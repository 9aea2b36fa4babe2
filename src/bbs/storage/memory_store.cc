#include "bbs/storage/memory_store.h"

#include <type_traits>
#include <utility>

namespace bbs::storage {

Status MemoryStore::Load(Snapshot* out) {
  Snapshot snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot.domains.reserve(domains_.size());
    for (const auto& [domain, expire_time] : domains_) {
      snapshot.domains.push_back(PutDomain{domain, expire_time});
    }
    snapshot.desired_lrps.reserve(desired_lrps_.size());
    for (const auto& [guid, record] : desired_lrps_) {
      snapshot.desired_lrps.push_back(record);
      snapshot.desired_lrps.back().clear_run_info();
    }
    snapshot.actual_lrps.reserve(actual_lrps_.size());
    for (const auto& [key, lrp] : actual_lrps_) {
      snapshot.actual_lrps.push_back(lrp);
    }
    snapshot.tasks.reserve(tasks_.size());
    for (const auto& [guid, task] : tasks_) {
      snapshot.tasks.push_back(task);
    }
  }
  *out = std::move(snapshot);
  return Status::Ok();
}

Status MemoryStore::Commit(std::span<const Mutation> mutations) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Mutation& mutation : mutations) {
    Apply(mutation);
  }
  commit_count_.fetch_add(1);
  return Status::Ok();
}

Result<std::vector<StoredRunInfo>> MemoryStore::ReadRunInfos(
    std::span<const std::string> process_guids) {
  std::vector<StoredRunInfo> out;
  std::lock_guard<std::mutex> lock(mu_);
  out.reserve(process_guids.size());
  for (const std::string& guid : process_guids) {
    if (auto it = desired_lrps_.find(guid); it != desired_lrps_.end()) {
      out.push_back(StoredRunInfo{guid, it->second.run_info()});
    }
  }
  return out;
}

Result<std::vector<StoredRunInfo>> MemoryStore::ReadAllRunInfos() {
  std::vector<StoredRunInfo> out;
  std::lock_guard<std::mutex> lock(mu_);
  out.reserve(desired_lrps_.size());
  for (const auto& [guid, record] : desired_lrps_) {
    out.push_back(StoredRunInfo{guid, record.run_info()});
  }
  return out;
}

void MemoryStore::Apply(const Mutation& mutation) {
  std::visit(
      [this](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, PutDomain>) {
          domains_[m.domain] = m.expire_time;
        } else if constexpr (std::is_same_v<M, DeleteDomain>) {
          domains_.erase(m.domain);
        } else if constexpr (std::is_same_v<M, PutDesiredLrp>) {
          desired_lrps_[m.record.scheduling_info().desired_lrp_key().process_guid()] = m.record;
        } else if constexpr (std::is_same_v<M, DeleteDesiredLrp>) {
          desired_lrps_.erase(m.process_guid);
        } else if constexpr (std::is_same_v<M, PutActualLrp>) {
          const auto& key = m.lrp.actual_lrp_key();
          actual_lrps_[ActualKey(key.process_guid(), key.index(),
                                 static_cast<int>(m.lrp.presence()))] = m.lrp;
        } else if constexpr (std::is_same_v<M, DeleteActualLrp>) {
          actual_lrps_.erase(ActualKey(m.process_guid, m.index, static_cast<int>(m.presence)));
        } else if constexpr (std::is_same_v<M, PutTask>) {
          tasks_[m.task.task_guid()] = m.task;
        } else if constexpr (std::is_same_v<M, DeleteTask>) {
          tasks_.erase(m.task_guid);
        } else {
          static_assert(sizeof(M) == 0, "unhandled mutation");
        }
      },
      mutation);
}

bool FaultyStore::TakeFailure(std::atomic<int>* counter) {
  int pending = counter->load();
  while (pending > 0) {
    if (counter->compare_exchange_weak(pending, pending - 1)) {
      return true;
    }
  }
  return false;
}

Status FaultyStore::Load(Snapshot* out) {
  if (TakeFailure(&loads_to_fail_)) {
    return UnknownError("injected load failure");
  }
  return target_->Load(out);
}

Result<std::vector<StoredRunInfo>> FaultyStore::ReadRunInfos(
    std::span<const std::string> process_guids) {
  if (TakeFailure(&run_info_reads_to_fail_)) {
    return UnknownError("injected run info read failure");
  }
  return target_->ReadRunInfos(process_guids);
}

Result<std::vector<StoredRunInfo>> FaultyStore::ReadAllRunInfos() {
  if (TakeFailure(&run_info_reads_to_fail_)) {
    return UnknownError("injected run info read failure");
  }
  return target_->ReadAllRunInfos();
}

Status FaultyStore::Commit(std::span<const Mutation> mutations) {
  if (TakeFailure(&commits_to_fail_)) {
    failed_commits_.fetch_add(1);
    return UnknownError("injected commit failure");
  }
  return target_->Commit(mutations);
}

}  // namespace bbs::storage
