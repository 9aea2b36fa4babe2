#pragma once

// Small helpers of the end-to-end HA tests (tests/ha): ports, and the writes and reads whose
// survival across a takeover they check.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bbs/http/test_client.h"

namespace bbs::testing {

// A loopback port that was free a moment ago (a passive must be told its API port up front: it
// does not listen, so there is nothing to read back).
int FreePort();

// Whether a TCP connection to 127.0.0.1:port is refused (nothing listens).
bool ConnectionRefused(int port);

// Desires a one-instance LRP `guid` through `client`. True when acknowledged (200 and no error
// in the body); otherwise false, with the reason in *why when not null.
bool DesireLrp(http::TestClient& client, const std::string& guid, std::string* why = nullptr);

// The process guids of every desired LRP the bbs on 127.0.0.1:port lists (plain HTTP). Empty,
// with the reason in *why when not null, if the list fails.
std::set<std::string> ListDesiredGuids(int port, std::string* why = nullptr);

// `writers` threads that keep desiring one-instance LRPs ("pg-<writer>-<n>") on the bbs at
// 127.0.0.1:port until Stop() or until the server stops answering (a takeover test kills it
// under them), recording every acknowledged guid.
class AcknowledgedWrites {
 public:
  AcknowledgedWrites(int port, int writers);
  ~AcknowledgedWrites() { Stop(); }
  // Whether at least `count` writes were acknowledged within `timeout`.
  bool WaitFor(size_t count, std::chrono::milliseconds timeout);
  // Ends the writers (each finishes its request in flight) and returns what was acknowledged.
  std::set<std::string> Stop();
  // Refusals that came with an HTTP answer (a write the server rejected, not a lost connection).
  std::vector<std::string> http_refusals();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> acknowledged_;
  std::vector<std::string> http_refusals_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace bbs::testing
