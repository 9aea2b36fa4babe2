// Table tests of the per-index convergence writes (lrp_convergence.h): each re-decides one
// action of a pass against the rows as they are when it is applied.

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/desired_lrp_ops.h"
#include "bbs/domain/lrp_convergence.h"
#include "bbs/domain/lrp_event_calc.h"

namespace bbs::domain {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;

models::ActualLRP Row(const std::string& state, models::ActualLRP::Presence presence,
                      const std::string& cell = "cell-1") {
  auto lrp = NewUnclaimedActualLrp("pg", 0, "cf-apps", kNow - 1, "old-epoch");
  lrp.set_state(state);
  lrp.set_presence(presence);
  if (state != kUnclaimed) {
    lrp.mutable_actual_lrp_instance_key()->set_cell_id(cell);
    lrp.mutable_actual_lrp_instance_key()->set_instance_guid("ig-" + cell);
  }
  return lrp;
}

records::DesiredLRPRecord Desired(int instances) {
  records::DesiredLRPRecord r;
  r.mutable_scheduling_info()->mutable_desired_lrp_key()->set_process_guid("pg");
  r.mutable_scheduling_info()->mutable_desired_lrp_key()->set_domain("cf-apps");
  r.mutable_scheduling_info()->set_instances(instances);
  return r;
}

// The rows of one index, by presence; absent = nullopt.
struct Rows {
  std::optional<models::ActualLRP> ordinary, evacuating, suspect;
  LrpRows View() const {
    return {ordinary ? &*ordinary : nullptr, evacuating ? &*evacuating : nullptr,
            suspect ? &*suspect : nullptr};
  }
};

// What a decision writes, as "<verb> <state> <presence>" lines in order (deletes, then puts).
std::vector<std::string> Writes(const LrpDecision& d) {
  std::vector<std::string> out;
  for (const auto& r : d.deletes) {
    out.push_back("delete " + r.state() + " " + models::ActualLRP::Presence_Name(r.presence()));
  }
  for (const auto& r : d.puts) {
    out.push_back("put " + r.state() + " " + models::ActualLRP::Presence_Name(r.presence()));
  }
  return out;
}

// An epoch generator that always answers `epoch`.
std::function<std::string()> Epoch(const std::string& epoch) {
  return [epoch] { return epoch; };
}

const auto kOrdinary = models::ActualLRP::ORDINARY;
const auto kSuspect = models::ActualLRP::SUSPECT;
const auto kEvacuating = models::ActualLRP::EVACUATING;

struct Case {
  const char* name;
  Rows rows;
  std::vector<std::string> want;
};

TEST(ReplaceWithSuspectTest, TurnsAClaimedOrRunningRowIntoASuspectWithANewReplacement) {
  const std::vector<Case> cases = {
      {"running",
       {Row(kRunning, kOrdinary), {}, {}},
       {"delete RUNNING ORDINARY", "put RUNNING SUSPECT", "put UNCLAIMED ORDINARY"}},
      {"claimed",
       {Row(kClaimed, kOrdinary), {}, {}},
       {"delete CLAIMED ORDINARY", "put CLAIMED SUSPECT", "put UNCLAIMED ORDINARY"}},
      {"crashed: nothing", {Row(kCrashed, kOrdinary), {}, {}}, {}},
      {"unclaimed: nothing", {Row(kUnclaimed, kOrdinary), {}, {}}, {}},
      {"suspect exists: nothing", {Row(kRunning, kOrdinary), {}, Row(kRunning, kSuspect)}, {}},
      {"no row: nothing", {}, {}},
  };
  for (const auto& c : cases) {
    auto d = ReplaceWithSuspect(c.rows.View(), /*desired_exists=*/true, kNow, Epoch("new-epoch"));
    EXPECT_EQ(Writes(d), c.want) << c.name;
    EXPECT_TRUE(d.status.ok()) << c.name;
    EXPECT_FALSE(d.request_auction) << c.name;
  }
}

TEST(ReplaceWithSuspectTest, DoesNothingOnceTheDesiredLrpIsGone) {
  Rows rows{Row(kRunning, kOrdinary), {}, {}};
  EXPECT_TRUE(Writes(ReplaceWithSuspect(rows.View(), false, kNow, Epoch("e"))).empty());
}

TEST(ReplaceWithSuspectTest, TheReplacementIsFreshAndTheEventsFollowBothRows) {
  Rows rows{Row(kRunning, kOrdinary), {}, {}};
  auto d = ReplaceWithSuspect(rows.View(), true, kNow, Epoch("new-epoch"));
  ASSERT_EQ(d.puts.size(), 2u);
  const auto& replacement = d.puts[1];
  EXPECT_EQ(replacement.since(), kNow);
  EXPECT_EQ(replacement.modification_tag().epoch(), "new-epoch");
  EXPECT_TRUE(replacement.actual_lrp_instance_key().cell_id().empty());
  ASSERT_EQ(d.event_changes.size(), 2u);
  EXPECT_EQ(d.event_changes[0].after->presence(), kSuspect);
  EXPECT_FALSE(d.event_changes[1].before.has_value());
}

TEST(PromoteSuspectTest, BringsTheSuspectBackAndDropsItsReplacement) {
  const std::vector<Case> cases = {
      {"with replacement",
       {Row(kUnclaimed, kOrdinary), {}, Row(kRunning, kSuspect)},
       {"delete UNCLAIMED ORDINARY", "delete RUNNING SUSPECT", "put RUNNING ORDINARY"}},
      {"alone",
       {{}, {}, Row(kRunning, kSuspect)},
       {"delete RUNNING SUSPECT", "put RUNNING ORDINARY"}},
      {"no suspect: nothing", {Row(kRunning, kOrdinary), {}, {}}, {}},
  };
  for (const auto& c : cases) EXPECT_EQ(Writes(PromoteSuspect(c.rows.View())), c.want) << c.name;
}

TEST(RemoveSuspectTest, DeletesOnlyTheSuspect) {
  const std::vector<Case> cases = {
      {"suspect and ordinary",
       {Row(kRunning, kOrdinary, "cell-2"), {}, Row(kRunning, kSuspect)},
       {"delete RUNNING SUSPECT"}},
      {"no suspect: nothing", {Row(kRunning, kOrdinary), {}, {}}, {}},
  };
  for (const auto& c : cases) EXPECT_EQ(Writes(RemoveSuspect(c.rows.View())), c.want) << c.name;
}

TEST(PruneEvacuatingTest, DeletesTheEvacuatingRowOnlyWhileItIsTheOneThePassSaw) {
  models::ActualLRP seen = Row(kRunning, kEvacuating, "cell-1");
  const std::vector<Case> cases = {
      {"same instance", {Row(kUnclaimed, kOrdinary), seen, {}}, {"delete RUNNING EVACUATING"}},
      {"another instance", {{}, Row(kRunning, kEvacuating, "cell-2"), {}}, {}},
      {"gone", {Row(kUnclaimed, kOrdinary), {}, {}}, {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Writes(PruneEvacuating(c.rows.View(), seen.actual_lrp_instance_key())), c.want)
        << c.name;
  }
}

TEST(CreateMissingTest, CreatesTheOrdinaryRowOnlyWhileTheDesiredLrpWantsIt) {
  records::DesiredLRPRecord two = Desired(2);
  records::DesiredLRPRecord one = Desired(1);
  struct MissingCase {
    const char* name;
    Rows rows;
    const records::DesiredLRPRecord* desired;
    int32_t index;
    std::vector<std::string> want;
  };
  const std::vector<MissingCase> cases = {
      {"missing", {}, &two, 1, {"put UNCLAIMED ORDINARY"}},
      {"only an evacuating row",
       {{}, Row(kRunning, kEvacuating), {}},
       &two,
       1,
       {"put UNCLAIMED ORDINARY"}},
      {"created meanwhile", {Row(kUnclaimed, kOrdinary), {}, {}}, &two, 1, {}},
      {"scaled down meanwhile", {}, &one, 1, {}},
      {"desired gone", {}, nullptr, 0, {}},
  };
  for (const auto& c : cases) {
    auto d = CreateMissing(c.rows.View(), c.desired, LrpKey{"pg", c.index}, kNow, Epoch("e"));
    EXPECT_EQ(Writes(d), c.want) << c.name;
    if (!d.puts.empty()) {
      EXPECT_EQ(d.puts[0].actual_lrp_key().index(), c.index) << c.name;
      EXPECT_EQ(d.puts[0].actual_lrp_key().domain(), "cf-apps") << c.name;
    }
  }
}

TEST(CreatedLrpEventsTest, AreTheEventsTheGeneralCalculationGivesForARowCreatedOnAnEmptyIndex) {
  models::ActualLRP created = NewUnclaimedActualLrp("pg", 3, "cf-apps", kNow, "new-epoch");
  // Also a row with a cell (not what convergence creates, but the events must still agree).
  models::ActualLRP placed = Row(kRunning, kOrdinary, "cell-7");
  for (const models::ActualLRP& row : {created, placed}) {
    for (const std::string trace_id : {"", "trace-1"}) {
      std::vector<Event> want =
          ComputeActualLrpEvents({}, {{std::nullopt, row}}, LrpEventMode::kStandard, trace_id);
      std::vector<Event> got = CreatedLrpEvents(row, trace_id);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].family, want[i].family) << i;
        EXPECT_EQ(got[i].type, want[i].type) << i;
        EXPECT_EQ(got[i].payload->GetTypeName(), want[i].payload->GetTypeName()) << i;
        EXPECT_EQ(got[i].payload->SerializeAsString(), want[i].payload->SerializeAsString()) << i;
        EXPECT_EQ(got[i].cell_ids, want[i].cell_ids) << i;
        EXPECT_EQ(got[i].unresolved_group, want[i].unresolved_group) << i;
      }
    }
  }
}

TEST(NewInstancesTest, FillsTheIndicesFromTheStartIndexThatHaveNoOrdinaryRow) {
  struct InstancesCase {
    const char* name;
    int32_t instances, from;
    std::set<int32_t> existing;
    std::vector<int32_t> want;
  };
  const std::vector<InstancesCase> cases = {
      {"desire", 3, 0, {}, {0, 1, 2}}, {"desire over leftovers", 3, 0, {1}, {0, 2}},
      {"scale up", 5, 3, {}, {3, 4}},  {"scale up over leftovers", 5, 3, {4}, {3}},
      {"no change", 2, 2, {}, {}},
  };
  for (const auto& c : cases) {
    int next = 0;
    auto lrps = NewInstances(Desired(c.instances), c.from, c.existing, kNow,
                             [&] { return "epoch-" + std::to_string(next++); });
    std::vector<int32_t> got;
    for (size_t i = 0; i < lrps.size(); ++i) {
      got.push_back(lrps[i].actual_lrp_key().index());
      EXPECT_EQ(lrps[i].modification_tag().epoch(), "epoch-" + std::to_string(i)) << c.name;
      EXPECT_EQ(lrps[i].state(), kUnclaimed) << c.name;
    }
    EXPECT_EQ(got, c.want) << c.name;
  }
}

}  // namespace
}  // namespace bbs::domain
