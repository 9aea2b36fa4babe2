// High availability on etcd with real bbs processes (docs/ha.md): two processes on one etcd
// (BBS_TEST_ETCD_ENDPOINTS) contend for the etcd lease lock. Exactly one is active; the passive
// does not listen on its API port; killing the active lets the passive serve every acknowledged
// write within lock_ttl + 5 s; an active paused past its lease is replaced, commits nothing once
// it resumes (the fence) and exits.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbs/base/logger.h"
#include "bbs/http/test_client.h"
#include "bbs/storage/etcd/etcd_client.h"
#include "bbs/storage/etcd/etcd_store.h"
#include "bbs/testing/bbs_process.h"
#include "bbs/testing/ha_helpers.h"

namespace bbs::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kWaiting[] = "\"bbs.etcd-lock.waiting-for-lock\"";
constexpr char kAcquired[] = "\"bbs.etcd-lock.acquired-lock\"";
// lock_ttl of these tests; etcd grants at least its minimum lease TTL (2 s by default).
constexpr auto kLockTtl = 2s;

std::string TestEndpoints() {
  const char* endpoints = std::getenv("BBS_TEST_ETCD_ENDPOINTS");
  return endpoints == nullptr ? "" : endpoints;
}

class EtcdHaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoints_ = TestEndpoints();
    if (endpoints_.empty()) {
      GTEST_SKIP() << "BBS_TEST_ETCD_ENDPOINTS is unset (scripts/servers/etcd.sh start DIR)";
    }
    static int runs = 0;  // a fresh root on every run (--gtest_repeat)
    root_ = "/bbs-ha-test/" + std::to_string(getpid()) + "-" + std::to_string(++runs) + "/" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  // A bbs on the test etcd under this test's root, with a fixed API port.
  std::unique_ptr<BbsProcess> MakeBbs(int api_port, const std::string& uuid) {
    auto bbs = std::make_unique<BbsProcess>(
        BBS_BINARY, dir_.path(),
        std::vector<std::string>{"-address=127.0.0.1:" + std::to_string(api_port),
                                 "-databaseDriver=etcd", "-etcdCluster=" + endpoints_},
        /*tls=*/false);
    bbs->SetConfigKey("uuid", uuid);
    bbs->SetConfigKey("etcd_root", root_);
    bbs->SetConfigKey("encryption_keys", {{"k1", "a passphrase for the etcd ha test"}});
    bbs->SetConfigKey("active_key_label", "k1");
    bbs->SetConfigKey("lock_ttl", "2s");
    bbs->SetConfigKey("lock_retry_interval", "100ms");
    return bbs;
  }

  // Waits until `bbs` logged that it waits for the lock.
  static void WaitUntilPassive(BbsProcess& bbs) {
    std::string line;
    EXPECT_TRUE(bbs.WaitForLine("\"bbs.acquiring-lock\"", 30000, &line));
    EXPECT_TRUE(bbs.WaitForLine(kWaiting, 30000, &line));
  }

  // An active bbs that serves and a passive one waiting for the lock, with their API ports.
  struct ActiveAndPassive {
    int active_port = 0;
    std::unique_ptr<BbsProcess> active;
    int passive_port = 0;
    std::unique_ptr<BbsProcess> passive;
  };
  void StartActiveAndPassive(ActiveAndPassive* pair) {
    pair->active_port = FreePort();
    pair->active = MakeBbs(pair->active_port, "bbs-uuid-a");
    ASSERT_TRUE(pair->active->Start()) << pair->active->error();
    pair->passive_port = FreePort();
    pair->passive = MakeBbs(pair->passive_port, "bbs-uuid-b");
    ASSERT_TRUE(pair->passive->Launch());
    WaitUntilPassive(*pair->passive);
  }

  // Whether etcd holds the desired LRP `guid` under this test's root (read from etcd itself, not
  // from a bbs, whose memory would not show a write made behind its back).
  bool StoredInEtcd(const std::string& guid) {
    storage::etcd::EtcdClientOptions options;
    options.endpoints = storage::etcd::SplitEndpoints(endpoints_);
    auto client = storage::etcd::EtcdClient::Create(options, Logger(LogSink::Null(), "test"));
    EXPECT_TRUE(client.ok());
    if (!client.ok()) return false;
    etcdserverpb::RangeRequest request;
    request.set_key(storage::etcd::KeyLayout{root_}.DesiredSchedule(guid));
    etcdserverpb::RangeResponse response;
    Status s = (*client)->Range(request, &response);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return response.kvs_size() > 0;
  }

  static bool Logged(BbsProcess& bbs, const std::string& needle) {
    for (const auto& line : bbs.Lines()) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  std::string endpoints_;
  std::string root_;
  TempDir dir_;
};

TEST_F(EtcdHaTest, OneProcessIsActiveThePassiveRefusesConnectionsAndAGracefulStopHandsOver) {
  int active_port = FreePort();
  auto active = MakeBbs(active_port, "bbs-uuid-a");
  ASSERT_TRUE(active->Start()) << active->error();
  EXPECT_TRUE(Logged(*active, kAcquired));
  EXPECT_TRUE(Logged(*active, "\"bbs.migration-manager.finished-migrations\""));
  {
    http::TestClient api(static_cast<uint16_t>(active_port));
    std::string why;
    ASSERT_TRUE(DesireLrp(api, "pg-1", &why)) << why;
  }

  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port, "bbs-uuid-b");
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive);
  EXPECT_TRUE(ConnectionRefused(passive_port));
  EXPECT_FALSE(Logged(*passive, "\"bbs.started\""));

  EXPECT_EQ(active->Stop(), 0);
  EXPECT_TRUE(Logged(*active, "\"bbs.etcd-lock.released-lock\""));
  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  EXPECT_TRUE(Logged(*passive, kAcquired));
  EXPECT_EQ(ListDesiredGuids(passive_port), std::set<std::string>{"pg-1"});
}

TEST_F(EtcdHaTest, KillingTheActiveUnderWritesLetsThePassiveServeEveryAcknowledgedWrite) {
  ActiveAndPassive pair;
  ASSERT_NO_FATAL_FAILURE(StartActiveAndPassive(&pair));
  const int active_port = pair.active_port, passive_port = pair.passive_port;
  auto& active = pair.active;
  auto& passive = pair.passive;

  // Writers keep desiring LRPs until the active disappears under them.
  AcknowledgedWrites writes(active_port, 4);
  EXPECT_TRUE(writes.WaitFor(100, 30s));
  active->Kill();  // SIGKILL: the lease is not revoked; the passive waits out its TTL
  auto killed_at = std::chrono::steady_clock::now();
  std::set<std::string> acknowledged = writes.Stop();

  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  auto takeover = std::chrono::steady_clock::now() - killed_at;
  EXPECT_LT(takeover, kLockTtl + 5s)
      << std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count() << " ms";
  std::set<std::string> present = ListDesiredGuids(passive_port);
  for (const auto& guid : acknowledged) {
    EXPECT_TRUE(present.count(guid)) << guid << " was acknowledged but lost";
  }
  http::TestClient api(static_cast<uint16_t>(passive_port));
  std::string why;
  EXPECT_TRUE(DesireLrp(api, "pg-after-takeover", &why)) << why;
}

TEST_F(EtcdHaTest, AnActivePausedPastItsLeaseIsReplacedCommitsNothingAndExits) {
  ActiveAndPassive pair;
  ASSERT_NO_FATAL_FAILURE(StartActiveAndPassive(&pair));
  const int active_port = pair.active_port, passive_port = pair.passive_port;
  auto& active = pair.active;
  auto& passive = pair.passive;

  // The lease lapses while the holder is stopped: etcd deletes the lock key, the passive takes
  // it over.
  ASSERT_EQ(kill(active->pid(), SIGSTOP), 0);
  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  http::TestClient api(static_cast<uint16_t>(passive_port));
  std::string why;
  EXPECT_TRUE(DesireLrp(api, "pg-on-the-successor", &why)) << why;

  // A write reaches the old active while it is stopped (the kernel queues the connection); it
  // is handled, if at all, after the process resumes — when its lock key is someone else's.
  auto stale_write = std::async(std::launch::async, [active_port] {
    http::TestClient stale(static_cast<uint16_t>(active_port), 10s);
    return DesireLrp(stale, "pg-on-the-old-active");
  });
  ASSERT_EQ(kill(active->pid(), SIGCONT), 0);
  EXPECT_FALSE(stale_write.get());
  EXPECT_EQ(active->WaitForExit(20000), 1);
  EXPECT_TRUE(Logged(*active, "\"bbs.lost-lock-exiting\""));

  EXPECT_TRUE(ListDesiredGuids(passive_port).count("pg-on-the-successor"));
  EXPECT_TRUE(StoredInEtcd("pg-on-the-successor"));
  EXPECT_FALSE(StoredInEtcd("pg-on-the-old-active")) << "the old active committed after losing";
}

}  // namespace
}  // namespace bbs::testing
