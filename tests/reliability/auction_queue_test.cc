// The auctioneer client's queue is bounded while the auctioneer hangs, and what it drops is not
// lost: the next convergence pass finds the unplaced work and sends it again (issue #16 §4).
// In-process: the real engine, converger and HttpAuctioneer, over a transport that holds every
// request until the test lets the auctioneer answer.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbs/base/clock.h"
#include "bbs/base/guid.h"
#include "bbs/base/status_matchers.h"
#include "bbs/cells/cell_directory.h"
#include "bbs/clients/auctioneer.h"
#include "bbs/clients/send_queue.h"
#include "bbs/converger/converger.h"
#include "bbs/domain/event_testing.h"
#include "bbs/metrics/bbs_metrics.h"
#include "bbs/state/engine_testing.h"
#include "bbs/storage/memory_store.h"

namespace bbs::reliability {
namespace {

using namespace std::chrono_literals;

// An auctioneer that accepts and does not answer until Open(); then 202 to everything. Records
// the guids it answered ("task:<guid>" and "lrp:<guid>/<index>").
class HangingAuctioneer final : public clients::HttpTransport {
 public:
  clients::HttpResult Send(const clients::HttpRequest& request) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++arrived_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_ || shut_down_; });
    if (shut_down_) {
      clients::HttpResult result;
      result.error = clients::TransportError::kShutdown;
      result.message = "shut down";
      return result;
    }
    for (const auto& entry : nlohmann::json::parse(request.body)) {
      if (entry.contains("TaskGuid")) {
        received_.insert("task:" + entry["TaskGuid"].get<std::string>());
      } else {
        for (const auto& index : entry["indices"]) {
          received_.insert("lrp:" + entry["process_guid"].get<std::string>() + "/" +
                           std::to_string(index.get<int>()));
        }
      }
    }
    cv_.notify_all();
    clients::HttpResult result;
    result.response.status = 202;
    return result;
  }
  void Shutdown() override {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
    cv_.notify_all();
  }

  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits (bounded) until a request is held.
  bool WaitForARequest() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return arrived_ > 0; });
  }
  // Waits (bounded) until every one of `wanted` was answered.
  bool WaitFor(const std::set<std::string>& wanted) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] {
      for (const auto& w : wanted) {
        if (!received_.count(w)) return false;
      }
      return true;
    });
  }
  std::set<std::string> received() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  bool shut_down_ = false;
  int arrived_ = 0;
  std::set<std::string> received_;
};

constexpr size_t kBound = 3;
constexpr int kCount = 12;

class AuctionQueueTest : public ::testing::Test {
 protected:
  AuctionQueueTest()
      : transport_(std::make_shared<HangingAuctioneer>()),
        auctioneer_(*url::ParseUrl("http://auctioneer.test:9016"), AuctioneerOptions(),
                    Logger(LogSink::Null(), "auctioneer"), transport_),
        engine_(&store_, &clock_, &guids_, &publisher_, Logger(LogSink::Null(), "t"),
                state::Engine::Options{}),
        converger_(&engine_, &cells_, nullptr, converger::Converger::Options{},
                   Logger(LogSink::Null(), "t")) {
    state::testing::StartWithPeers(&engine_, &auctioneer_, nullptr, &cells_);
  }

  static clients::HttpAuctioneer::Options AuctioneerOptions() {
    clients::HttpAuctioneer::Options options;
    options.workers = 1;
    options.max_retries = 0;
    options.max_queued_requests = kBound;
    options.shutdown_timeout = 0ms;
    return options;
  }

  // Waits (bounded) until the queue has dropped at least `n` requests; polls a counter that
  // the engine's post-commit sends raise.
  bool WaitForDrops(uint64_t n) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (auctioneer_.dropped_requests() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  std::shared_ptr<HangingAuctioneer> transport_;
  clients::HttpAuctioneer auctioneer_;
  storage::MemoryStore store_;
  FakeClock clock_;
  SequentialGuidGenerator guids_;
  domain::testing::NullEventPublisher publisher_;
  cells::TemplateCellDirectory cells_{""};
  state::Engine engine_;
  converger::Converger converger_;
};

TEST_F(AuctionQueueTest, TasksDroppedWhileTheAuctioneerHangsAreSentByTheNextConvergencePass) {
  models::TaskDefinition def;
  def.set_root_fs("docker:///busybox");
  def.mutable_action()->mutable_run_action()->set_path("/bin/true");
  std::set<std::string> all;
  ASSERT_THAT(engine_.tasks().DesireTask("t0", "d", def), IsOk());
  all.insert("task:t0");
  ASSERT_TRUE(transport_->WaitForARequest());  // t0 is held by the one sender
  for (int i = 1; i < kCount; ++i) {
    const std::string guid = "t" + std::to_string(i);
    ASSERT_THAT(engine_.tasks().DesireTask(guid, "d", def), IsOk());
    all.insert("task:" + guid);
  }
  // One in flight, kBound waiting, the rest dropped (oldest first): the queue stayed bounded.
  ASSERT_TRUE(WaitForDrops(kCount - 1 - kBound));
  EXPECT_LE(auctioneer_.queued_requests(), kBound);
  EXPECT_EQ(auctioneer_.dropped_requests(), kCount - 1 - kBound);

  transport_->Open();
  ASSERT_TRUE(transport_->WaitFor({"task:t0", "task:t9", "task:t10", "task:t11"}));
  EXPECT_EQ(transport_->received().count("task:t1"), 0u) << "t1 was dropped from the queue";

  clock_.Advance(31s);  // past kick_task_duration
  ASSERT_THAT(converger_.ConvergeTasks(), IsOk());
  EXPECT_TRUE(transport_->WaitFor(all)) << transport_->received().size() << " of " << all.size();
}

TEST_F(AuctionQueueTest, LrpStartsDroppedWhileTheAuctioneerHangsAreSentByConvergence) {
  std::set<std::string> all;
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(state::testing::NewLrp("p0", 1), "trace-0"), IsOk());
  all.insert("lrp:p0/0");
  ASSERT_TRUE(transport_->WaitForARequest());
  for (int i = 1; i < kCount; ++i) {
    const std::string guid = "p" + std::to_string(i);
    // One trace id each: jobs that cannot be coalesced.
    ASSERT_THAT(engine_.desired_lrps().DesireLrp(state::testing::NewLrp(guid, 1),
                                                 "trace-" + std::to_string(i)),
                IsOk());
    all.insert("lrp:" + guid + "/0");
  }
  ASSERT_TRUE(WaitForDrops(kCount - 1 - kBound));
  EXPECT_LE(auctioneer_.queued_requests(), kBound);

  transport_->Open();
  ASSERT_TRUE(transport_->WaitFor({"lrp:p0/0", "lrp:p11/0"}));
  EXPECT_EQ(transport_->received().count("lrp:p1/0"), 0u);

  clock_.Advance(31s);  // unclaimed for longer than the stale-unclaimed period
  ASSERT_THAT(converger_.ConvergeLrps(), IsOk());
  EXPECT_TRUE(transport_->WaitFor(all)) << transport_->received().size() << " of " << all.size();
}

TEST_F(AuctionQueueTest, OneBatchLargerThanTheBoundIsNeverCutButOlderWorkGivesWay) {
  auto starts = [](const std::string& guid, int n) {
    clients::LrpStartRequest request;
    request.process_guid = guid;
    for (int i = 0; i < n; ++i) request.indices.push_back(i);
    return std::vector<clients::LrpStartRequest>(static_cast<size_t>(n), request);
  };
  auctioneer_.RequestLrpAuctions(starts("held", 1), "t-held");
  ASSERT_TRUE(transport_->WaitForARequest());
  auctioneer_.RequestLrpAuctions(starts("old", 2), "t-old");
  auctioneer_.RequestLrpAuctions(starts("big", 10), "t-big");  // a desire of 10 instances
  EXPECT_EQ(auctioneer_.queued_requests(), 10u);
  EXPECT_EQ(auctioneer_.dropped_requests(), 2u);
  transport_->Open();
  EXPECT_TRUE(transport_->WaitFor({"lrp:big/0", "lrp:big/9"}));
}

TEST(SendQueueBoundTest, AFullQueueDropsTheOldestWaitingSendAndCountsIt) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  bool started = false;
  std::vector<int> ran;
  clients::SendQueue queue(1, 2);
  queue.Submit([&] {
    std::unique_lock<std::mutex> lock(mu);
    started = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return started; }));
  }
  for (int i = 1; i <= 5; ++i) {
    EXPECT_TRUE(queue.Submit([&, i] {
      std::lock_guard<std::mutex> lock(mu);
      ran.push_back(i);
    }));
  }
  EXPECT_EQ(queue.queued(), 2u);
  EXPECT_EQ(queue.dropped(), 3u);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  EXPECT_EQ(queue.Shutdown(10s, {}), 0u);
  EXPECT_EQ(ran, (std::vector<int>{4, 5}));
}

}  // namespace
}  // namespace bbs::reliability
