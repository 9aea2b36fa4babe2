#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace bbs::state {

// The locks that serialise writes to one key: a process guid (its desired LRP and all its
// actual LRPs), "task:<guid>" for a task. Keys hash onto a fixed set of stripes.
//
// Thread-safe. A thread holds either one lock (Lock) or one set taken together (LockMany), so
// stripes are always taken in ascending order and never deadlock.
class KeyLocks {
 public:
  std::unique_lock<std::mutex> Lock(const std::string& key) {
    return std::unique_lock<std::mutex>(stripes_[StripeOf(key)]);
  }

  // The locks of all `keys` at once (each stripe once, in ascending order).
  std::vector<std::unique_lock<std::mutex>> LockMany(const std::vector<std::string>& keys) {
    std::vector<size_t> stripes;
    stripes.reserve(keys.size());
    for (const auto& key : keys) stripes.push_back(StripeOf(key));
    std::sort(stripes.begin(), stripes.end());
    stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
    std::vector<std::unique_lock<std::mutex>> locks;
    locks.reserve(stripes.size());
    for (size_t s : stripes) locks.emplace_back(stripes_[s]);
    return locks;
  }

  static std::string TaskKey(const std::string& task_guid) { return "task:" + task_guid; }

 private:
  size_t StripeOf(const std::string& key) const {
    return std::hash<std::string>{}(key) % stripes_.size();
  }

  std::array<std::mutex, 1024> stripes_;
};

}  // namespace bbs::state
