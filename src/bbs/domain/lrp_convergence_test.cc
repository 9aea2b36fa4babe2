#include "bbs/domain/lrp_convergence.h"

#include <gtest/gtest.h>

#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/lrp_convergence_testing.h"

namespace bbs::domain {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr int64_t kSecond = 1'000'000'000;

records::DesiredLRPRecord Desired(const std::string& guid, int instances,
                                  const std::string& domain = "cf-apps") {
  records::DesiredLRPRecord r;
  auto* key = r.mutable_scheduling_info()->mutable_desired_lrp_key();
  key->set_process_guid(guid);
  key->set_domain(domain);
  r.mutable_scheduling_info()->set_instances(instances);
  return r;
}

models::ActualLRP Actual(const std::string& guid, int index, const std::string& state,
                         const std::string& cell = "",
                         models::ActualLRP::Presence presence = models::ActualLRP::ORDINARY,
                         int64_t since = kNow) {
  return testing::ConvergenceRow(guid, index, "cf-apps", presence, state, cell, since);
}

size_t ActionCount(const LrpConvergenceActions& a) {
  return a.prune_evacuating.size() + a.retire.size() + a.create_missing.size() +
         a.unclaim_stale.size() + a.missing_cell_replace.size() + a.missing_cell_unclaim.size() +
         a.promote_suspect.size() + a.remove_suspect.size() + a.instance_updates.size();
}

struct Fixture {
  std::vector<records::DesiredLRPRecord> desired;
  std::vector<models::ActualLRP> actuals;
  std::set<std::string> cells{"cell-1"};
  std::set<std::string> domains{"cf-apps"};

  LrpConvergenceActions Run() {
    LrpConvergenceInput in;
    for (const auto& d : desired) in.desired.push_back(&d);
    for (const auto& a : actuals) in.actuals.push_back(&a);
    in.present_cells = cells;
    in.fresh_domains = domains;
    in.now = kNow;
    return CalculateLrpConvergence(in);
  }
};

LrpConvergenceActions Converge(std::vector<records::DesiredLRPRecord> desired,
                               std::vector<models::ActualLRP> actuals) {
  Fixture f;
  f.desired = std::move(desired);
  f.actuals = std::move(actuals);
  return f.Run();
}

TEST(LrpConvergenceTest, NothingToDoWhenEveryInstanceRuns) {
  auto a = Converge({Desired("pg", 2)},
                    {Actual("pg", 0, kRunning, "cell-1"), Actual("pg", 1, kRunning, "cell-1")});
  EXPECT_EQ(ActionCount(a), 0u);
  EXPECT_EQ(a.metrics.running, 2);
  EXPECT_EQ(a.metrics.desired_instances, 2);
}

TEST(LrpConvergenceTest, MissingInstancesAreCreated) {
  auto a = Converge({Desired("pg", 3)}, {Actual("pg", 1, kRunning, "cell-1")});
  EXPECT_EQ(a.create_missing, (std::vector<LrpKey>{{"pg", 0}, {"pg", 2}}));
  EXPECT_EQ(a.metrics.missing, 2);
}

TEST(LrpConvergenceTest, ExtraInstancesAreRetiredOnlyInAFreshDomain) {
  Fixture f;
  f.desired = {Desired("pg", 1)};
  f.actuals = {Actual("pg", 0, kRunning, "cell-1"), Actual("pg", 1, kRunning, "cell-1")};
  EXPECT_EQ(f.Run().retire, (std::vector<LrpKey>{{"pg", 1}}));
  f.domains.clear();
  EXPECT_TRUE(f.Run().retire.empty());
}

TEST(LrpConvergenceTest, OrphanedInstancesAreRetiredOnlyInAFreshDomain) {
  Fixture f;
  f.actuals = {Actual("gone", 0, kRunning, "cell-1")};
  EXPECT_EQ(f.Run().retire, (std::vector<LrpKey>{{"gone", 0}}));
  f.domains.clear();
  EXPECT_TRUE(f.Run().retire.empty());
}

TEST(LrpConvergenceTest, StaleUnclaimedInstancesAreReAuctioned) {
  EXPECT_EQ(
      Converge({Desired("pg", 2)},
               {Actual("pg", 0, kUnclaimed, "", models::ActualLRP::ORDINARY, kNow - 31 * kSecond),
                Actual("pg", 1, kUnclaimed, "", models::ActualLRP::ORDINARY, kNow - 29 * kSecond)})
          .unclaim_stale,
      (std::vector<LrpKey>{{"pg", 0}}));
}

TEST(LrpConvergenceTest, CrashedInstancesRestartAfterTheirBackOff) {
  Fixture f;
  f.desired = {Desired("pg", 2)};
  auto due = Actual("pg", 0, kCrashed, "", models::ActualLRP::ORDINARY, kNow - 31 * kSecond);
  due.set_crash_count(3);
  auto waiting = Actual("pg", 1, kCrashed, "", models::ActualLRP::ORDINARY, kNow - 31 * kSecond);
  waiting.set_crash_count(4);
  f.actuals = {due, waiting};
  auto a = f.Run();
  EXPECT_EQ(a.unclaim_stale, (std::vector<LrpKey>{{"pg", 0}}));
  EXPECT_EQ(a.metrics.crashed, 2);
  EXPECT_EQ(a.metrics.crashing_desired, 1);
}

TEST(LrpConvergenceTest, InstancesOnMissingCellsBecomeSuspectWithAReplacement) {
  auto a = Converge({Desired("pg", 1)}, {Actual("pg", 0, kRunning, "cell-gone")});
  EXPECT_EQ(a.missing_cell_replace, (std::vector<LrpKey>{{"pg", 0}}));
  EXPECT_EQ(a.metrics.suspect_cells, 1);
}

TEST(LrpConvergenceTest, AReplacementOnAMissingCellIsOnlyUnclaimedWhenASuspectExists) {
  auto a = Converge({Desired("pg", 1)},
                    {Actual("pg", 0, kClaimed, "cell-gone-2"),
                     Actual("pg", 0, kRunning, "cell-gone", models::ActualLRP::SUSPECT)});
  EXPECT_TRUE(a.missing_cell_replace.empty());
  EXPECT_EQ(a.missing_cell_unclaim, (std::vector<LrpKey>{{"pg", 0}}));
  EXPECT_EQ(a.metrics.suspect_running, 1);
}

TEST(LrpConvergenceTest, ASuspectWhoseCellReturnedIsPromoted) {
  EXPECT_EQ(Converge({Desired("pg", 1)},
                     {Actual("pg", 0, kUnclaimed),
                      Actual("pg", 0, kRunning, "cell-1", models::ActualLRP::SUSPECT)})
                .promote_suspect,
            (std::vector<LrpKey>{{"pg", 0}}));
}

TEST(LrpConvergenceTest, ASuspectIsRemovedOnceItsReplacementRuns) {
  EXPECT_EQ(Converge({Desired("pg", 1)},
                     {Actual("pg", 0, kRunning, "cell-1"),
                      Actual("pg", 0, kRunning, "cell-gone", models::ActualLRP::SUSPECT)})
                .remove_suspect,
            (std::vector<LrpKey>{{"pg", 0}}));
}

TEST(LrpConvergenceTest, OrphanedSuspectsAreRemovedInAFreshDomain) {
  Fixture f;
  f.actuals = {Actual("gone", 0, kRunning, "cell-x", models::ActualLRP::SUSPECT)};
  EXPECT_EQ(f.Run().remove_suspect, (std::vector<LrpKey>{{"gone", 0}}));
}

TEST(LrpConvergenceTest, EvacuatingRowsOnVanishedCellsArePruned) {
  EXPECT_EQ(Converge({Desired("pg", 1)},
                     {Actual("pg", 0, kRunning, "cell-1"),
                      Actual("pg", 0, kRunning, "cell-gone", models::ActualLRP::EVACUATING)})
                .prune_evacuating.size(),
            1u);
}

TEST(LrpConvergenceTest, AnEmptyCellSetPrunesEveryEvacuatingRow) {
  Fixture f;
  f.cells.clear();
  f.desired = {Desired("pg", 1)};
  f.actuals = {Actual("pg", 0, kRunning, "cell-1", models::ActualLRP::EVACUATING)};
  EXPECT_EQ(f.Run().prune_evacuating.size(), 1u);
}

}  // namespace
}  // namespace bbs::domain

namespace bbs::domain {
namespace {

TEST(LrpConvergenceDriftTest, InternalRouteDriftAsksTheRepForAnUpdate) {
  Fixture f;
  f.desired = {Desired("pg", 1)};
  (*f.desired[0].mutable_scheduling_info()->mutable_routes()->mutable_routes())["internal-router"] =
      R"([{"hostname":"a.internal"}])";
  f.actuals = {Actual("pg", 0, kRunning, "cell-1")};
  auto a = f.Run();
  ASSERT_EQ(a.instance_updates.size(), 1u);
  ASSERT_TRUE(a.instance_updates[0].internal_routes.has_value());
  EXPECT_EQ(*a.instance_updates[0].internal_routes, std::vector<std::string>{"a.internal"});
  EXPECT_FALSE(a.instance_updates[0].metric_tags.has_value());
  f.actuals[0].add_actual_lrp_internal_routes()->set_hostname("a.internal");
  EXPECT_TRUE(f.Run().instance_updates.empty());
}

TEST(LrpConvergenceDriftTest, MetricTagDriftAsksTheRepForAnUpdate) {
  Fixture f;
  f.desired = {Desired("pg", 1)};
  (*f.desired[0].mutable_metric_tags())["source_id"].set_static_("new");
  f.actuals = {Actual("pg", 0, kRunning, "cell-1")};
  EXPECT_TRUE(f.Run().instance_updates.empty());  // no stored tags: nothing to compare
  (*f.actuals[0].mutable_metric_tags())["source_id"] = "old";
  auto a = f.Run();
  ASSERT_EQ(a.instance_updates.size(), 1u);
  EXPECT_EQ(a.instance_updates[0].metric_tags->at("source_id"), "new");
}

}  // namespace
}  // namespace bbs::domain
