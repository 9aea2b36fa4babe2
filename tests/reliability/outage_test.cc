// Outages (issue #16 item 4) against the real bbs binary: an auctioneer or rep that is down,
// hangs (accepts and never answers) or flaps, and a SQLite database whose disk is full or
// read-only. No handler may wait on a peer, work must be retried or re-found by convergence,
// a database outage gives errors while it lasts and bbs recovers without a restart.

#include <sys/mount.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bbs/clients/fake_peers.h"
#include "bbs/testing/bbs_process.h"
#include "reliability_util.h"

namespace bbs::reliability {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string WriteConfig(const std::string& dir, const std::string& json) {
  std::string path = dir + "/bbs.json";
  std::ofstream(path) << json;
  return path;
}

// Short timeouts and intervals so that retries and convergence happen within a test.
constexpr char kFastConfig[] =
    R"({"communication_timeout":"1s","converge_repeat_interval":"1s","kick_task_duration":"1s"})";

models::DesireTaskRequest NewTask(const std::string& guid) {
  models::DesireTaskRequest desire;
  desire.set_task_guid(guid);
  desire.set_domain("cf-apps");
  auto* def = desire.mutable_task_definition();
  def->set_root_fs("docker:///busybox");
  def->mutable_action()->mutable_run_action()->set_path("true");
  def->mutable_action()->mutable_run_action()->set_user("root");
  return desire;
}

class OutageTest : public ::testing::Test {
 protected:
  void StartBbs(const std::string& auctioneer_url, const std::string& rep_url) {
    std::string config = WriteConfig(config_dir_.path(), kFastConfig);
    bbs_ = std::make_unique<testing::BbsProcess>(
        BBS_BINARY, dir_.path(),
        std::vector<std::string>{"-auctioneerAddress=" + auctioneer_url,
                                 "-repUrlTemplate=" + rep_url, "-config=" + config});
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    client_ = std::make_unique<http::TestClient>(static_cast<uint16_t>(bbs_->port()), 10s);
  }

  // Desires `count` LRPs and returns the slowest answer; every desire must succeed.
  Clock::duration DesireLrps(const std::string& prefix, int count) {
    Clock::duration slowest{};
    for (int i = 0; i < count; ++i) {
      models::DesireLRPRequest request;
      *request.mutable_desired_lrp() = NewLrp(prefix + std::to_string(i), 1);
      models::DesiredLRPLifecycleResponse response;
      auto start = Clock::now();
      Status s = Call(*client_, "/v1/desired_lrp/desire.r2", request, &response);
      slowest = std::max(slowest, Clock::now() - start);
      EXPECT_TRUE(s.ok()) << s.ToString();
      EXPECT_FALSE(response.has_error()) << response.error().message();
    }
    return slowest;
  }

  Clock::duration DesireTasks(const std::string& prefix, int count) {
    Clock::duration slowest{};
    for (int i = 0; i < count; ++i) {
      models::TaskLifecycleResponse response;
      auto start = Clock::now();
      Status s =
          Call(*client_, "/v1/tasks/desire.r2", NewTask(prefix + std::to_string(i)), &response);
      slowest = std::max(slowest, Clock::now() - start);
      EXPECT_TRUE(s.ok()) << s.ToString();
      EXPECT_FALSE(response.has_error()) << response.error().message();
    }
    return slowest;
  }

  // The process guids (or task guids) the auctioneer has been asked to place so far.
  static std::set<std::string> Requested(const clients::FakeAuctioneer& auctioneer, bool tasks) {
    std::set<std::string> out;
    for (const auto& r : tasks ? auctioneer.task_requests() : auctioneer.lrp_requests()) {
      if (!r.json.is_array()) continue;
      for (const auto& entry : r.json) {
        const char* field = tasks ? "TaskGuid" : "process_guid";
        if (entry.contains(field)) out.insert(entry[field].get<std::string>());
      }
    }
    return out;
  }

  // Polls (bounded) until the auctioneer was asked for every guid prefix0..prefix<count-1>.
  static bool WaitForAllRequested(const clients::FakeAuctioneer& auctioneer, bool tasks,
                                  const std::string& prefix, int count,
                                  std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto got = Requested(auctioneer, tasks);
      int found = 0;
      for (int i = 0; i < count; ++i) found += got.count(prefix + std::to_string(i)) ? 1 : 0;
      if (found == count) return true;
      auctioneer.WaitForRequests(auctioneer.request_count() + 1, 200ms);
    }
    return false;
  }

  testing::TempDir dir_;
  testing::TempDir config_dir_;
  std::unique_ptr<testing::BbsProcess> bbs_;
  std::unique_ptr<http::TestClient> client_;
};

TEST_F(OutageTest, AnAuctioneerThatNeverAnswersDelaysNoDesireAndGetsTheWorkOnceItAnswers) {
  clients::FakeAuctioneer auctioneer;
  clients::FakeRep rep;
  ASSERT_TRUE(auctioneer.Start().ok());
  ASSERT_TRUE(rep.Start().ok());
  auctioneer.SetDefaultReply(clients::FakeReply::Hang(202));
  StartBbs(auctioneer.url(), rep.url());
  auto slowest = DesireLrps("hung-", 30);
  EXPECT_LT(slowest, 500ms);
  auto slowest_task = DesireTasks("hung-task-", 30);
  EXPECT_LT(slowest_task, 500ms);
  ASSERT_TRUE(auctioneer.WaitForRequests(1, 10s));
  // Now it answers: every task is re-sent (retry, or convergence kicking pending tasks).
  auctioneer.SetDefaultReply(clients::FakeReply::Respond(202, "{}", "application/json"));
  auctioneer.ReleaseHung();
  EXPECT_TRUE(WaitForAllRequested(auctioneer, /*tasks=*/true, "hung-task-", 30, 20s));
  EXPECT_EQ(Requested(auctioneer, false).size() > 0, true);
}

TEST_F(OutageTest, AnAuctioneerThatIsDownLosesNoTaskOnceItIsBack) {
  // Reserve a port, then leave it closed: connection refused.
  uint16_t port = 0;
  {
    clients::FakeAuctioneer probe;
    ASSERT_TRUE(probe.Start().ok());
    port = probe.port();
  }
  clients::FakeRep rep;
  ASSERT_TRUE(rep.Start().ok());
  StartBbs("http://127.0.0.1:" + std::to_string(port), rep.url());
  EXPECT_LT(DesireTasks("down-task-", 20), 500ms);
  EXPECT_LT(DesireLrps("down-", 10), 500ms);
  clients::FakeAuctioneer auctioneer(clients::FakePeerOptions{port, "", "", ""});
  ASSERT_TRUE(auctioneer.Start().ok());
  auctioneer.SetDefaultReply(clients::FakeReply::Respond(202, "{}", "application/json"));
  // Pending tasks are kicked by convergence (kick_task_duration 1 s).
  EXPECT_TRUE(WaitForAllRequested(auctioneer, /*tasks=*/true, "down-task-", 20, 20s));
}

TEST_F(OutageTest, AFlappingAuctioneerGetsEveryRequestEventually) {
  clients::FakeAuctioneer auctioneer;
  clients::FakeRep rep;
  ASSERT_TRUE(auctioneer.Start().ok());
  ASSERT_TRUE(rep.Start().ok());
  std::vector<clients::FakeReply> script;
  for (int i = 0; i < 20; ++i) {
    script.push_back(i % 3 == 0   ? clients::FakeReply::Respond(503)
                     : i % 3 == 1 ? clients::FakeReply::CloseConnection()
                                  : clients::FakeReply::Respond(202, "{}", "application/json"));
  }
  auctioneer.Script(script);
  auctioneer.SetDefaultReply(clients::FakeReply::Respond(202, "{}", "application/json"));
  StartBbs(auctioneer.url(), rep.url());
  EXPECT_LT(DesireLrps("flap-", 15), 500ms);
  EXPECT_LT(DesireTasks("flap-task-", 15), 500ms);
  EXPECT_TRUE(WaitForAllRequested(auctioneer, /*tasks=*/false, "flap-", 15, 20s));
  EXPECT_TRUE(WaitForAllRequested(auctioneer, /*tasks=*/true, "flap-task-", 15, 20s));
}

TEST_F(OutageTest, ARepThatNeverAnswersDelaysNoRetire) {
  clients::FakeAuctioneer auctioneer;
  clients::FakeRep rep;
  ASSERT_TRUE(auctioneer.Start().ok());
  ASSERT_TRUE(rep.Start().ok());
  auctioneer.SetDefaultReply(clients::FakeReply::Respond(202, "{}", "application/json"));
  rep.SetDefaultReply(clients::FakeReply::Hang(202));
  StartBbs(auctioneer.url(), rep.url());
  DesireLrps("retire-", 1);
  const std::string guid = "retire-0";
  models::ActualLRPKey key;
  key.set_process_guid(guid);
  key.set_index(0);
  key.set_domain("cf-apps");
  models::ActualLRPInstanceKey ik;
  ik.set_instance_guid("ig-" + guid);
  ik.set_cell_id("cell-1");
  models::ClaimActualLRPRequest claim;
  claim.set_process_guid(guid);
  claim.set_index(0);
  *claim.mutable_actual_lrp_instance_key() = ik;
  models::ActualLRPLifecycleResponse response;
  ASSERT_TRUE(Call(*client_, "/v1/actual_lrps/claim", claim, &response).ok());
  models::StartActualLRPRequest start;
  *start.mutable_actual_lrp_key() = key;
  *start.mutable_actual_lrp_instance_key() = ik;
  start.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
  ASSERT_TRUE(Call(*client_, "/v1/actual_lrps/start.r1", start, &response).ok());
  ASSERT_FALSE(response.has_error()) << response.error().message();

  Clock::duration retire_took{};
  std::thread retirer([&] {
    models::RetireActualLRPRequest retire;
    *retire.mutable_actual_lrp_key() = key;
    models::ActualLRPLifecycleResponse retired;
    auto t0 = Clock::now();
    EXPECT_TRUE(Call(*client_, "/v1/actual_lrps/retire", retire, &retired).ok());
    retire_took = Clock::now() - t0;
  });
  ASSERT_TRUE(rep.WaitForRequests(1, 10s));
  // While the retire waits on the rep, other clients are served as usual.
  http::TestClient other(static_cast<uint16_t>(bbs_->port()), 10s);
  Clock::duration slowest_ping{};
  for (int i = 0; i < 50; ++i) {
    auto t0 = Clock::now();
    auto ping = other.Send("POST", "/v1/ping");
    slowest_ping = std::max(slowest_ping, Clock::now() - t0);
    ASSERT_TRUE(ping.ok());
    EXPECT_EQ(ping->status, 200);
  }
  retirer.join();
  EXPECT_LT(slowest_ping, 500ms);
  // Upstream's retire asks the rep synchronously, up to 5 attempts (outbound.md R1); so does
  // ours, each attempt bounded by communication_timeout (1 s here): the handler waits at most
  // about 5 s, never as long as the rep hangs.
  EXPECT_LT(retire_took, 8s);
}

// A tiny tmpfs for the SQLite file (we run as root in CI and here); skipped where mounting is
// not allowed. (A read-only remount cannot be tested this way: the kernel refuses to remount
// read-only while bbs holds the database open for writing, and root ignores file modes.)
class SqliteOutageTest : public OutageTest {
 protected:
  void SetUp() override {
    mount_point_ = dir_.path() + "/small";
    ::mkdir(mount_point_.c_str(), 0755);
    if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=8m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (bbs_) bbs_->Kill();
    if (mounted_) ::umount2(mount_point_.c_str(), MNT_DETACH);
  }

  void StartOnTheSmallDisk() {
    std::string config = WriteConfig(config_dir_.path(), kFastConfig);
    bbs_ = std::make_unique<testing::BbsProcess>(BBS_BINARY, mount_point_,
                                                 std::vector<std::string>{"-config=" + config});
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    client_ = std::make_unique<http::TestClient>(static_cast<uint16_t>(bbs_->port()), 10s);
  }

  models::Error TryDesire(const std::string& guid) {
    models::DesireLRPRequest request;
    *request.mutable_desired_lrp() = NewLrp(guid, 1);
    models::DesiredLRPLifecycleResponse response;
    Status s = Call(*client_, "/v1/desired_lrp/desire.r2", request, &response);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return response.error();
  }

  int DesiredCount() {
    models::DesiredLRPsResponse list;
    EXPECT_TRUE(
        Call(*client_, "/v1/desired_lrps/list.r3", models::DesiredLRPsRequest(), &list).ok());
    return list.desired_lrps_size();
  }

  std::string mount_point_;
  bool mounted_ = false;
};

TEST_F(SqliteOutageTest, AFullDiskGivesErrorsAndBbsRecoversWithoutARestartOnceThereIsRoom) {
  StartOnTheSmallDisk();
  ASSERT_TRUE(TryDesire("before").message().empty()) << "the first desire must succeed";
  // Fill the filesystem.
  std::string filler = mount_point_ + "/filler";
  {
    std::FILE* f = std::fopen(filler.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string block(64 * 1024, 'x');
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) {
    }
    std::fclose(f);
  }
  int failed = 0;
  for (int i = 0; i < 20; ++i) {
    models::Error e = TryDesire("full-" + std::to_string(i));
    if (!e.message().empty()) ++failed;
  }
  EXPECT_GT(failed, 0) << "writes on a full disk all succeeded";
  std::remove(filler.c_str());
  // Room again: writes succeed without a restart, and nothing acknowledged was lost.
  models::Error after = TryDesire("after");
  EXPECT_TRUE(after.message().empty()) << after.message();
  int acknowledged = 2 + (20 - failed);
  EXPECT_EQ(DesiredCount(), acknowledged);
  bbs_->Kill();
  StartOnTheSmallDisk();
  EXPECT_EQ(DesiredCount(), acknowledged);
}

}  // namespace
}  // namespace bbs::reliability
