// EtcdStore on clusters this test runs itself (the etcd binary from PATH): members killed while
// writes run, the leader killed, etcd gone while serving and back.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/storage/etcd/etcd_lock.h"
#include "bbs/storage/etcd/etcd_store.h"
#include "bbs/storage/etcd/etcd_testing.h"
#include "bbs/storage/store_test_util.h"

namespace bbs::storage::etcd {
namespace {

using storage::testing::FindTask;
using storage::testing::IsOk;
using storage::testing::NullLogger;
using storage::testing::StatusIs;
using ::testing::NotNull;

bool EtcdOnPath() { return system("command -v etcd >/dev/null 2>&1") == 0; }

// Commits one task per commit from its own thread and remembers which commits were
// acknowledged.
class Writer {
 public:
  explicit Writer(Store* store) : store_(store) {}
  ~Writer() { Stop(); }

  void Start() {
    thread_ = std::thread([this] {
      for (int i = 0; !stop_; ++i) {
        std::string guid = fmt::format("t-{}", i);
        Status s =
            store_->Commit(std::vector<Mutation>{PutTask{storage::testing::SmallTask(guid)}});
        std::lock_guard lock(mu_);
        if (s.ok()) {
          acked_.push_back(guid);
        } else {
          failures_.push_back(s.ToString());
        }
        cv_.notify_all();
      }
    });
  }

  // Waits until `n` more commits were acknowledged (or fails after 20 s).
  bool WaitForMore(size_t n) {
    std::unique_lock lock(mu_);
    size_t target = acked_.size() + n;
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return acked_.size() >= target; });
  }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  std::vector<std::string> acked() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  std::vector<std::string> failures() {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  Store* store_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> acked_;
  std::vector<std::string> failures_;
};

class EtcdClusterTest : public ::testing::Test {
 protected:
  void StartCluster(int size, const testing::TlsFiles* tls = nullptr) {
    if (!EtcdOnPath()) {
      GTEST_SKIP() << "etcd is not on PATH (apt-get install etcd-server)";
    }
    auto cluster = testing::LocalCluster::Start(size, dir_.path(), tls);
    ASSERT_THAT(cluster.ok() ? Status::Ok() : cluster.status(), IsOk());
    cluster_ = std::move(cluster).value();
  }

  // Starts a cluster of three members and finds its leader (leader_).
  void StartThreeAndFindLeader() {
    StartCluster(3);
    if (IsSkipped() || HasFatalFailure()) return;
    auto leader = cluster_->Leader();
    ASSERT_TRUE(leader.ok()) << leader.status().ToString();
    leader_ = *leader;
  }

  // The cluster's endpoints, member `first` first: a client talks to it first.
  std::vector<std::string> EndpointsFrom(int first) {
    std::vector<std::string> endpoints = cluster_->endpoints();
    std::rotate(endpoints.begin(), endpoints.begin() + first, endpoints.end());
    return endpoints;
  }

  std::unique_ptr<EtcdStore> OpenStore(std::vector<std::string> endpoints) {
    auto options = testing::TestOptions(std::move(endpoints), "/cluster-test");
    auto store = EtcdStore::Open(options, NullLogger());
    EXPECT_THAT(store.ok() ? Status::Ok() : store.status(), IsOk());
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Every acknowledged write is in a fresh load from the surviving members.
  void ExpectAllAcknowledgedWritesKept(const std::vector<std::string>& acked,
                                       std::vector<std::string> endpoints) {
    auto reader = OpenStore(std::move(endpoints));
    ASSERT_THAT(reader, NotNull());
    Snapshot snapshot;
    ASSERT_THAT(reader->Load(&snapshot), IsOk());
    size_t missing = 0;
    for (const std::string& guid : acked) {
      missing += FindTask(snapshot, guid) == nullptr ? 1 : 0;
    }
    EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged writes";
  }

  // Writes through a store that talks to member `victim` first, kills the victim once 20 writes
  // were acknowledged, and expects 50 more, no failed write, and every acknowledged write kept.
  void KillWhileWritesRun(int victim, const char* what) {
    auto store = OpenStore(EndpointsFrom(victim));
    ASSERT_THAT(store, NotNull());
    Writer writer(store.get());
    writer.Start();
    ASSERT_TRUE(writer.WaitForMore(20));
    cluster_->Kill(victim);
    ASSERT_TRUE(writer.WaitForMore(50)) << "writes stopped after the " << what << " died";
    writer.Stop();
    EXPECT_THAT(writer.failures(), ::testing::IsEmpty());
    ExpectAllAcknowledgedWritesKept(writer.acked(), cluster_->endpoints());
  }

  storage::testing::TempDir dir_;
  std::unique_ptr<testing::LocalCluster> cluster_;
  int leader_ = -1;  // the leader's index, after StartThreeAndFindLeader
};

TEST_F(EtcdClusterTest, AFollowerKilledWhileWritesRunLosesNoAcknowledgedWrite) {
  StartThreeAndFindLeader();
  if (IsSkipped() || HasFatalFailure()) return;
  // The store talks to the victim first, so it must fail over.
  KillWhileWritesRun((leader_ + 1) % 3, "member");
}

TEST_F(EtcdClusterTest, TheLeaderKilledWhileWritesRunLosesNoAcknowledgedWrite) {
  StartThreeAndFindLeader();
  if (IsSkipped() || HasFatalFailure()) return;
  KillWhileWritesRun(leader_, "leader");
  if (HasFatalFailure()) return;
  auto new_leader = cluster_->Leader();
  ASSERT_TRUE(new_leader.ok()) << new_leader.status().ToString();
  EXPECT_NE(*new_leader, leader_);
}

TEST_F(EtcdClusterTest, TheLockHolderKeepsItsLockAndFencedWritesWhenTheLeaderIsKilled) {
  StartThreeAndFindLeader();
  if (IsSkipped() || HasFatalFailure()) return;
  std::vector<std::string> endpoints = EndpointsFrom(leader_);
  EtcdLockOptions lock_options;
  lock_options.client.endpoints = endpoints;
  lock_options.root = "/cluster-test";
  lock_options.owner = "bbs-a";
  // Longer than an election on this loaded machine; nothing here waits for it to expire.
  lock_options.ttl = std::chrono::seconds(5);
  lock_options.retry_interval = std::chrono::milliseconds(100);
  auto lock = EtcdLeaseLock::Create(lock_options, NullLogger());
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  std::atomic<bool> lost{false};
  std::string lost_why;  // written before `lost` is set
  auto outcome = (*lock)->Acquire([&](const Status& why) {
    lost_why = why.ToString();
    lost = true;
  });
  ASSERT_TRUE(outcome.ok() && *outcome == lock::AcquireOutcome::kAcquired);
  auto options = testing::TestOptions(endpoints, "/cluster-test");
  options.fence = (*lock)->fence();
  auto store = EtcdStore::Open(options, NullLogger());
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  Writer writer(store->get());
  writer.Start();
  ASSERT_TRUE(writer.WaitForMore(20));
  cluster_->Kill(leader_);
  // Several lock renewals happen meanwhile (every 100 ms).
  bool more = writer.WaitForMore(50);
  writer.Stop();
  auto failures = writer.failures();
  ASSERT_TRUE(more) << "fenced writes stopped after the leader died; lock lost: "
                    << (lost.load() ? lost_why : "no") << "; " << failures.size()
                    << " failures, first: " << (failures.empty() ? "" : failures.front());
  EXPECT_THAT(failures, ::testing::IsEmpty());
  EXPECT_FALSE(lost.load());
  EXPECT_TRUE((*lock)->Held());
  ExpectAllAcknowledgedWritesKept(writer.acked(), cluster_->endpoints());
}

TEST_F(EtcdClusterTest, CommitsFailWhileEtcdIsGoneAndSucceedOnceItIsBack) {
  StartCluster(1);
  if (IsSkipped() || HasFatalFailure()) return;
  auto options = testing::TestOptions(cluster_->endpoints(), "/gone-test");
  options.client.attempt_timeout = std::chrono::milliseconds(300);
  options.client.retry_budget = std::chrono::milliseconds(1000);
  auto opened = EtcdStore::Open(options, NullLogger());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto store = std::move(opened).value();
  ASSERT_THAT(store->Commit(std::vector<Mutation>{PutTask{storage::testing::SmallTask("before")}}),
              IsOk());

  cluster_->Kill(0);
  Status down =
      store->Commit(std::vector<Mutation>{PutTask{storage::testing::SmallTask("while-down")}});
  EXPECT_THAT(down, StatusIs(ErrorCode::kUnknownError));
  EXPECT_THAT(down.message(), ::testing::HasSubstr(cluster_->endpoints()[0]));
  Snapshot snapshot;
  EXPECT_FALSE(store->Load(&snapshot).ok());

  ASSERT_THAT(cluster_->Restart(0), IsOk());
  // The first commits after the restart may still meet the reconnect backoff.
  Status after;
  for (int i = 0; i < 5; ++i) {
    after = store->Commit(std::vector<Mutation>{PutTask{storage::testing::SmallTask("after")}});
    if (after.ok()) break;
  }
  ASSERT_THAT(after, IsOk());
  ASSERT_THAT(store->Load(&snapshot), IsOk());
  EXPECT_THAT(FindTask(snapshot, "before"), NotNull());
  EXPECT_THAT(FindTask(snapshot, "after"), NotNull());
}

TEST_F(EtcdClusterTest, SpeaksTlsWithAClientCertificateToAnEtcdThatRequiresOne) {
  if (system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "the openssl command (Debian package openssl) makes the test certificates";
  }
  auto tls = testing::MakeTestCertificates(dir_.path());
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  StartCluster(1, &*tls);
  if (IsSkipped() || HasFatalFailure()) return;
  ASSERT_TRUE(cluster_->endpoints()[0].starts_with("https://"));

  auto options = testing::TestOptions(cluster_->endpoints(), "/tls-test");
  options.client.ca_file = tls->ca_cert;
  options.client.cert_file = tls->client_cert;
  options.client.key_file = tls->client_key;
  auto store = EtcdStore::Open(options, NullLogger());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_THAT((*store)->Commit(std::vector<Mutation>{PutTask{storage::testing::SmallTask("t")}}),
              IsOk());
  Snapshot snapshot;
  ASSERT_THAT((*store)->Load(&snapshot), IsOk());
  EXPECT_THAT(FindTask(snapshot, "t"), NotNull());

  // Without our certificate the server refuses the connection.
  options.client.cert_file.clear();
  options.client.key_file.clear();
  options.connect_timeout = std::chrono::milliseconds(1000);
  auto refused = EtcdStore::Open(options, NullLogger());
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("cannot reach etcd"));
}

}  // namespace
}  // namespace bbs::storage::etcd
