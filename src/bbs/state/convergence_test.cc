#include "bbs/state/convergence.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/clients/auctioneer.h"
#include "bbs/domain/desired_lrp_ops.h"
#include "bbs/domain/lrp_convergence_testing.h"
#include "bbs/state/engine_testing.h"
#include "bbs/storage/memory_store.h"
#include "models/events.pb.h"

namespace bbs::state {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = 1'700'000'000LL * kSecond;

class Auctions final : public clients::Auctioneer {
 public:
  void RequestLrpAuctions(std::vector<clients::LrpStartRequest> requests, std::string) override {
    ++calls;
    for (auto& r : requests) lrps.push_back(r.process_guid + "/" + std::to_string(r.indices[0]));
  }
  void RequestTaskAuctions(std::vector<clients::TaskStartRequest>) override {}
  int calls = 0;
  std::vector<std::string> lrps;
};

// Keeps every published event (the committer publishes from its own thread).
class Events final : public domain::EventPublisher {
 public:
  void Publish(const std::vector<domain::Event>& batch) override {
    std::lock_guard lock(mu_);
    events_.insert(events_.end(), batch.begin(), batch.end());
  }
  std::vector<std::string> Types() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& e : events_) out.push_back(e.type);
    return out;
  }
  std::vector<domain::Event> All() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::vector<domain::Event> events_;
};

models::ActualLRP Row(const std::string& guid, int32_t index, models::ActualLRP::Presence presence,
                      const std::string& state, const std::string& cell, int64_t since) {
  return domain::testing::ConvergenceRow(guid, index, "cf-apps", presence, state, cell, since);
}

// The engine (with its convergence index) over an in-memory store holding `rows`.
class ConvergenceTest : public ::testing::Test {
 protected:
  void Start(std::vector<storage::Mutation> rows) {
    rows.insert(rows.begin(), storage::PutDomain{"cf-apps", INT64_MAX});
    ASSERT_THAT(store_.Commit(rows), IsOk());
    engine_.SetPeers(&auctions_, nullptr, nullptr);
    ASSERT_THAT(engine_.Load(), IsOk());
    engine_.Start();
  }
  static storage::Mutation Desired(const std::string& guid, int instances) {
    return storage::PutDesiredLrp{
        std::move(*domain::NewDesiredLrpRecord(testing::NewLrp(guid, instances), kStart, "e"))};
  }
  std::vector<std::string> Rows(const std::string& guid) {
    std::vector<std::string> out;
    for (const auto& r : engine_.model().ActualLrps({"", "", guid, std::nullopt})) {
      out.push_back(std::to_string(r->actual_lrp_key().index()) + " " +
                    models::ActualLRP::Presence_Name(r->presence()) + " " + r->state() + " " +
                    r->actual_lrp_instance_key().cell_id());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  storage::MemoryStore store_;
  FakeClock clock_{kStart};
  SequentialGuidGenerator guids_;
  Events events_;
  Auctions auctions_;
  Engine engine_{&store_,          &clock_, &guids_, &events_, Logger(LogSink::Null(), "t"),
                 Engine::Options{}};
};

TEST_F(ConvergenceTest, TwoActionsOnOneIndexAreDecidedOneAfterTheOther) {
  // Index 0 has an EVACUATING and a RUNNING ORDINARY row, each on a cell that vanished: the
  // pass prunes the evacuating row and replaces the ordinary one, the second decided on the rows
  // the first left.
  Start({Desired("pg", 1),
         storage::PutActualLrp{
             Row("pg", 0, models::ActualLRP::EVACUATING, domain::kRunning, "cell-old", kStart)},
         storage::PutActualLrp{
             Row("pg", 0, models::ActualLRP::ORDINARY, domain::kRunning, "cell-gone", kStart)}});
  auto report = engine_.convergence().ConvergeLrps(std::set<std::string>{"cell-1"});
  EXPECT_EQ(Rows("pg"),
            (std::vector<std::string>{"0 ORDINARY UNCLAIMED ", "0 SUSPECT RUNNING cell-gone"}));
  // The prune's removals, then the replacement's instance events only (behavior.md §7.1 (d)).
  EXPECT_EQ(events_.Types(), (std::vector<std::string>{
                                 "actual_lrp_removed", "actual_lrp_instance_removed",
                                 "actual_lrp_instance_changed", "actual_lrp_instance_created"}));
  EXPECT_EQ(auctions_.calls, 1);
  EXPECT_EQ(auctions_.lrps, std::vector<std::string>{"pg/0"});
  EXPECT_GT(report.submitted_ns, 0);
  EXPECT_LE(report.submitted_ns, report.duration_ns);
}

TEST_F(ConvergenceTest, APassAuctionsEveryPlacedIndexInOneRequestOrderedByProcessGuid) {
  // pg-b misses index 1, pg-a has a stale UNCLAIMED index 0 (only re-auctioned) and misses 1.
  Start({Desired("pg-b", 2), Desired("pg-a", 2),
         storage::PutActualLrp{
             Row("pg-b", 0, models::ActualLRP::ORDINARY, domain::kRunning, "cell-1", kStart)},
         storage::PutActualLrp{Row("pg-a", 0, models::ActualLRP::ORDINARY, domain::kUnclaimed, "",
                                   kStart - 31 * kSecond)}});
  engine_.convergence().ConvergeLrps(std::set<std::string>{"cell-1"});
  EXPECT_EQ(auctions_.calls, 1);
  EXPECT_EQ(auctions_.lrps, (std::vector<std::string>{"pg-a/1", "pg-a/0", "pg-b/1"}));
  EXPECT_EQ(Rows("pg-a"),
            (std::vector<std::string>{"0 ORDINARY UNCLAIMED ", "1 ORDINARY UNCLAIMED "}));
  EXPECT_EQ(Rows("pg-b"),
            (std::vector<std::string>{"0 ORDINARY RUNNING cell-1", "1 ORDINARY UNCLAIMED "}));
}

TEST_F(ConvergenceTest, CreatedInstancesAreAnnouncedByTheirGroupAndInstanceEvents) {
  // Index 0 has no row at all (its events are built directly); index 1 only an EVACUATING row
  // on a present cell, which stays (its events come from ComputeActualLrpEvents).
  Start({Desired("pg", 2), storage::PutActualLrp{Row("pg", 1, models::ActualLRP::EVACUATING,
                                                     domain::kRunning, "cell-1", kStart)}});
  engine_.convergence().ConvergeLrps(std::set<std::string>{"cell-1"});
  // Read after the pass is over: the events own their payloads.
  std::vector<domain::Event> events = events_.All();
  ASSERT_EQ(events.size(), 4u);
  for (size_t i : {0u, 2u}) {
    const int32_t index = static_cast<int32_t>(i / 2);
    ASSERT_EQ(events[i].type, "actual_lrp_created");
    EXPECT_EQ(events[i].family, domain::EventFamily::kActualLrpGroup);
    const auto& group = static_cast<const models::ActualLRPCreatedEvent&>(*events[i].payload);
    EXPECT_EQ(group.actual_lrp_group().instance().actual_lrp_key().process_guid(), "pg");
    EXPECT_EQ(group.actual_lrp_group().instance().actual_lrp_key().index(), index);
    EXPECT_EQ(group.actual_lrp_group().instance().state(), domain::kUnclaimed);
    EXPECT_FALSE(group.actual_lrp_group().has_evacuating());
    ASSERT_EQ(events[i + 1].type, "actual_lrp_instance_created");
    EXPECT_EQ(events[i + 1].family, domain::EventFamily::kActualLrpInstance);
    const auto& instance =
        static_cast<const models::ActualLRPInstanceCreatedEvent&>(*events[i + 1].payload);
    EXPECT_EQ(instance.actual_lrp().SerializeAsString(),
              group.actual_lrp_group().instance().SerializeAsString());
    EXPECT_EQ(events[i + 1].cell_ids, std::vector<std::string>{""});
  }
  // The group event carries the created row alone (behavior.md §1.6.2: GroupOf the new row),
  // also beside the evacuating row.
  EXPECT_EQ(events[0].cell_ids, std::vector<std::string>{""});
  EXPECT_EQ(events[2].cell_ids, std::vector<std::string>{""});
}

}  // namespace
}  // namespace bbs::state
