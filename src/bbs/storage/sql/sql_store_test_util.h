#pragma once

#include <chrono>
#include <functional>

#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "bbs/base/status.h"
#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/store.h"
#include "bbs/storage/store_test_util.h"
#include "bbs/storage/tcp_proxy_test_util.h"

// Scenarios that every SQL backend's own tests run the same way (the conformance suite covers
// the Store contract; these cover connections, servers and sizes).
namespace bbs::storage::testing {

// `open` on the first call for (`family`, `seed`) in this process, the same value after: a test
// that reopens its store finds its schema or database again.
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

// With the store that `open` returns (null: it failed): commits, lets `kill` end the store's
// connection on the server, and expects the next commit to reconnect and the load to see both.
void ExpectReconnectsAfterTheConnectionIsKilled(const std::function<std::unique_ptr<Store>()>& open,
                                                const std::function<void()>& kill);

// `location` (a URL or DSN naming 127.0.0.1:<port>, the port ending at the next `port_end`) is
// rewritten to go through a TcpProxy to that port and the store is opened with open(rewritten).
// Then commits fail (UnknownError) while the proxy is down and succeed again once it is back.
void ExpectWritesFailWhileTheServerIsAway(
    const std::string& location, char port_end,
    const std::function<std::unique_ptr<Store>(const std::string&)>& open);

// `open` (an Open against an unreachable server) fails within 5 s with one line that contains
// `prefix` and not `password`.
void ExpectOneLineErrorWithoutPassword(const std::function<Status()>& open,
                                       const std::string& prefix, const std::string& password);

// Opens the server backend S with `options` for a test: a short retry delay, no logs.
template <typename S>
Result<std::unique_ptr<S>> OpenForTest(typename S::Options options,
                                       std::shared_ptr<const encryption::Encoder> encoder) {
  options.retry_delay = std::chrono::milliseconds(10);
  return S::Open(options, NullLogger(), std::move(encoder));
}

// "<prefix><name of the running test>": the seed of the test's own database or schema.
std::string SeedForThisTest(const std::string& prefix);

// Opens the server backend S on the unreachable `location` (the options' member kLocation, a
// 2 s connection timeout) and expects ExpectOneLineErrorWithoutPassword of it.
template <typename S, auto kLocation>
void ExpectUnreachableServerIsAOneLineError(const std::string& location, const std::string& prefix,
                                            const std::string& password) {
  typename S::Options options;
  options.*kLocation = location;
  options.connection_timeout = std::chrono::seconds(2);
  ExpectOneLineErrorWithoutPassword(
      [&] { return S::Open(options, NullLogger(), TestEncoder()).status(); }, prefix, password);
}

// The fixture of a server backend's own tests. StartServerTest skips the test when
// `unavailable` (UnlessServerSet) says why, and otherwise gives it a database or schema of its
// own at location_, made by fresh(SeedForThisTest(prefix)). OpenAt opens S on a location (the
// options' member kLocation).
template <typename S, auto kLocation>
class ServerStoreTest : public ::testing::Test {
 protected:
  void StartServerTest(const std::string& unavailable,
                       std::string (*fresh)(const std::string& seed), const std::string& prefix) {
    if (!unavailable.empty()) {
      GTEST_SKIP() << unavailable;
    }
    location_ = fresh(SeedForThisTest(prefix));
  }

  Result<std::unique_ptr<S>> OpenAt(const std::string& location,
                                    std::shared_ptr<const encryption::Encoder> encoder) {
    typename S::Options options;
    options.*kLocation = location;
    return OpenForTest<S>(options, std::move(encoder));
  }

  std::string location_;  // the test's URL or DSN
};

// The snapshot the store `opened` loads (empty, with a failure, when it does not open or load).
template <typename S>
Snapshot LoadFrom(Result<std::unique_ptr<S>> opened) {
  Snapshot snapshot;
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (opened.ok()) {
    EXPECT_THAT(opened.value()->Load(&snapshot), IsOk());
  }
  return snapshot;
}

// The store `opened` holds, or null when the Open failed.
template <typename S>
std::unique_ptr<Store> StoreOrNull(Result<std::unique_ptr<S>> opened) {
  return opened.ok() ? std::move(opened).value() : nullptr;
}

// An actual LRP row as the Go BBS writes it (spec §10.1-10.2), with blobs computed
// independently (Python `cryptography`, key sha256("fixture passphrase"), label "fixture", nonce
// 00..0b), and the key label "fixture" in the configurations: the same statements in every SQL
// dialect; FixtureEncoder() decodes them.
inline constexpr const char* kUpstreamActualLrpRow = R"sql(
INSERT INTO actual_lrps (process_guid, instance_index, presence, evacuating, domain, state,
  instance_guid, cell_id, placement_error, since, net_info, modification_tag_epoch,
  modification_tag_index, crash_count, crash_reason, internal_routes, metric_tags, routable,
  availability_zone)
VALUES ('pg-1', 2, 0, false, 'cf-apps', 'RUNNING', 'ig-1', 'cell-1', '', 1700000000000000000,
  '02B2ZpeHR1cmUAAQIDBAUGBwgJCgusAiHdFjACYZlK7+w0GGZToGqB9oXi1tvH5H/4', 'epoch', 3, 0, '',
  '02B2ZpeHR1cmUAAQIDBAUGBwgJCgv1eQm9SHNYP9YXpP+HmK1qYCUDm75Kmk23MgV/6/y/RxD/NdkJeQ1hJRBGHPIY08Q=',
  '02B2ZpeHR1cmUAAQIDBAUGBwgJCgvVIFi6UnJPNOgTpf+HmL9mfGQ6BbW6L7H56D3TuX/w7O8=', true, 'z1');
UPDATE configurations SET value = 'fixture' WHERE id = 'encryption_key_label';
)sql";
// Rolls an upstream schema back to version 1676360874 (before routable, availability_zone,
// desired metric_tags, bbs_health_check and update_strategy): the same in every SQL dialect.
inline constexpr const char* kRollBackToVersion1676360874 = R"sql(
ALTER TABLE actual_lrps DROP COLUMN routable, DROP COLUMN availability_zone;
ALTER TABLE desired_lrps DROP COLUMN metric_tags, DROP COLUMN update_strategy;
DROP TABLE bbs_health_check;
UPDATE configurations SET value = '{"CurrentVersion":1676360874}' WHERE id = 'version';
)sql";

// Expects `snapshot` to hold kUpstreamActualLrpRow's actual LRP, decoded.
void ExpectTheUpstreamActualLrp(const Snapshot& snapshot);

// Keys "fixture" (the fixture rows' key) and "test-key" (active).
std::shared_ptr<const encryption::Encoder> FixtureEncoder();

// Commits `count` small actual LRPs through `open()`'s store, reopens, loads, and prints the
// load time. Returns the seconds the load took.
double CommitAndTimeTheLoadOfActualLrps(const std::function<std::unique_ptr<Store>()>& open,
                                        int count);

}  // namespace bbs::storage::testing
