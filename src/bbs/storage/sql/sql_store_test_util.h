#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "bbs/base/status.h"
#include "bbs/storage/store.h"
#include "bbs/storage/tcp_proxy_test_util.h"

// Scenarios that every SQL backend's own tests run the same way (the conformance suite covers
// the Store contract; these cover connections, servers and sizes).
namespace bbs::storage::testing {

// `open` on the first call for (`family`, `seed`) in this process, the same value after: a test
// that reopens its store finds its schema or database again. Inline: the server test utilities
// that call it are also compiled into targets without this file's .cc (tests/ha).
inline std::string OncePerSeed(const std::string& family, const std::string& seed,
                               const std::function<std::string()>& open) {
  static std::mutex mu;
  static std::map<std::pair<std::string, std::string>, std::string> values;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_pair(family, seed);
  auto it = values.find(key);
  if (it == values.end()) {
    it = values.emplace(key, open()).first;
  }
  return it->second;
}

// Commits, lets `kill` end the store's connection on the server, and expects the next commit
// to reconnect and the load to see both.
void ExpectReconnectsAfterTheConnectionIsKilled(Store& store, const std::function<void()>& kill);

// With `store` connected through `proxy`: commits fail (UnknownError) while the proxy is down
// and succeed again once it is back.
void ExpectWritesFailWhileTheServerIsAway(Store& store, TcpProxy& proxy);

// An Open that failed against an unreachable server: one line starting with `prefix`, without
// `password`.
void ExpectOneLineErrorWithoutPassword(const Status& status, const std::string& prefix,
                                       const std::string& password);

// Commits `count` small actual LRPs through `open()`'s store, reopens, loads, and prints the
// load time. Returns the seconds the load took.
double CommitAndTimeTheLoadOfActualLrps(const std::function<std::unique_ptr<Store>()>& open,
                                        int count);

}  // namespace bbs::storage::testing
