#include "bbs/domain/lrp_event_calc.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bbs/domain/events.h"
#include "models/events.pb.h"

namespace bbs::domain {
namespace {

using domain::Event;
using domain::EventFamily;
using Presence = models::ActualLRP::Presence;

constexpr Presence kOrdinary = models::ActualLRP::ORDINARY;
constexpr Presence kEvacuating = models::ActualLRP::EVACUATING;
constexpr Presence kSuspect = models::ActualLRP::SUSPECT;

// A row of process "pg", index 0. `instance` "" means no instance key (UNCLAIMED/CRASHED).
models::ActualLRP Row(const std::string& state, const std::string& instance = "",
                      const std::string& cell = "", Presence presence = kOrdinary) {
  models::ActualLRP lrp;
  lrp.mutable_actual_lrp_key()->set_process_guid("pg");
  lrp.mutable_actual_lrp_key()->set_index(0);
  lrp.mutable_actual_lrp_key()->set_domain("cf-apps");
  lrp.mutable_actual_lrp_instance_key()->set_instance_guid(instance);
  lrp.mutable_actual_lrp_instance_key()->set_cell_id(cell);
  lrp.mutable_actual_lrp_net_info();
  if (state == "RUNNING") {
    lrp.mutable_actual_lrp_net_info()->set_address("10.0.0." + cell);
  }
  lrp.mutable_modification_tag()->set_epoch("epoch-" + instance);
  lrp.set_state(state);
  lrp.set_since(100);
  lrp.set_presence(presence);
  lrp.set_routable(state == "RUNNING");
  return lrp;
}

models::ActualLRP Crashed(const models::ActualLRP& from, int count) {
  models::ActualLRP lrp = from;
  lrp.set_state("CRASHED");
  lrp.clear_actual_lrp_instance_key();
  lrp.clear_actual_lrp_net_info();
  lrp.set_crash_count(count);
  lrp.set_crash_reason("exit 1");
  lrp.set_since(200);
  lrp.mutable_modification_tag()->set_index(from.modification_tag().index() + 1);
  return lrp;
}

models::ActualLRP Unclaimed(const models::ActualLRP& from) {
  models::ActualLRP lrp = from;
  lrp.set_state("UNCLAIMED");
  lrp.clear_actual_lrp_instance_key();
  lrp.clear_actual_lrp_net_info();
  lrp.set_routable(false);
  lrp.set_since(300);
  lrp.mutable_modification_tag()->set_index(from.modification_tag().index() + 1);
  return lrp;
}

models::ActualLRP WithPresence(models::ActualLRP lrp, Presence presence) {
  lrp.set_presence(presence);
  return lrp;
}

RowChange Change(std::optional<models::ActualLRP> before, std::optional<models::ActualLRP> after) {
  return RowChange{std::move(before), std::move(after)};
}

// "STATE", "STATE/EVACUATING" or "STATE/SUSPECT" of an ActualLRP or ActualLRPInfo.
template <typename Lrp>
std::string StateOf(const Lrp& lrp) {
  std::string text = lrp.state();
  if (lrp.presence() == kEvacuating) text += "/EVACUATING";
  if (lrp.presence() == kSuspect) text += "/SUSPECT";
  return text;
}

std::string GroupText(const models::ActualLRPGroup& group) {
  std::string text;
  if (group.has_instance()) {
    text += "I=" + StateOf(group.instance());
  }
  if (group.has_evacuating()) {
    text += std::string(text.empty() ? "" : ",") + "E=" + StateOf(group.evacuating());
  }
  return text;
}

// The text of the LRP or LRP info (its state) or group in `field` of an actual LRP event's payload.
std::string TextOf(const google::protobuf::Message& payload, const std::string& field) {
  const google::protobuf::Message& value =
      payload.GetReflection()->GetMessage(payload, payload.GetDescriptor()->FindFieldByName(field));
  if (const auto* lrp = dynamic_cast<const models::ActualLRP*>(&value)) {
    return StateOf(*lrp);
  }
  if (const auto* info = dynamic_cast<const models::ActualLRPInfo*>(&value)) {
    return StateOf(*info);
  }
  return GroupText(dynamic_cast<const models::ActualLRPGroup&>(value));
}

// A compact description of an event, e.g. "changed(CLAIMED->RUNNING)" or "crashed": the same
// words for instance events (the LRP's state) and group events (the group's text).
std::string Describe(const Event& event) {
  const std::string& type = event.type;
  if (type == "actual_lrp_crashed") {
    return "crashed";
  }
  if (type == "actual_lrp_instance_changed" || type == "actual_lrp_changed") {
    return "changed(" + TextOf(*event.payload, "before") + "->" + TextOf(*event.payload, "after") +
           ")";
  }
  const char* field = type.starts_with("actual_lrp_instance_") ? "actual_lrp" : "actual_lrp_group";
  for (const char* word : {"created", "removed"}) {
    if (type == std::string("actual_lrp_") + word ||
        type == std::string("actual_lrp_instance_") + word) {
      return word + ("(" + TextOf(*event.payload, field) + ")");
    }
  }
  return "?" + type;
}

struct Split {
  std::vector<std::string> group;
  std::vector<std::string> instance;
};

// Splits by hub and checks that the group events come first.
Split Describe(const std::vector<Event>& events) {
  Split out;
  for (const Event& e : events) {
    if (e.family == EventFamily::kActualLrpGroup) {
      EXPECT_TRUE(out.instance.empty()) << "group event after instance events";
      out.group.push_back(Describe(e));
    } else {
      EXPECT_EQ(e.family, EventFamily::kActualLrpInstance);
      out.instance.push_back(Describe(e));
    }
  }
  return out;
}

struct Case {
  std::string name;
  std::vector<models::ActualLRP> before;
  std::vector<RowChange> changes;
  LrpEventMode mode;
  std::vector<std::string> instance;
  std::vector<std::string> group;
};

// Rows used by the table.
const models::ActualLRP kU = Row("UNCLAIMED");
const models::ActualLRP kC = Row("CLAIMED", "ig-1", "cell-1");
const models::ActualLRP kR = Row("RUNNING", "ig-1", "cell-1");
const models::ActualLRP kR2 = Row("RUNNING", "ig-2", "cell-2");
const models::ActualLRP kC2 = Row("CLAIMED", "ig-2", "cell-2");
const models::ActualLRP kRNetChanged = [] {
  models::ActualLRP lrp = kR;
  lrp.mutable_actual_lrp_net_info()->set_instance_address("192.168.0.1");
  return lrp;
}();
const models::ActualLRP kUFailed = [] {
  models::ActualLRP lrp = kU;
  lrp.set_placement_error("insufficient resources");
  return lrp;
}();

std::vector<Case> Cases() {
  constexpr auto kStd = LrpEventMode::kStandard;
  constexpr auto kCrash = LrpEventMode::kCrash;
  constexpr auto kPerChange = LrpEventMode::kPerChange;
  constexpr auto kInstanceOnly = LrpEventMode::kInstanceOnly;
  const models::ActualLRP evacuating = WithPresence(kR, kEvacuating);
  const models::ActualLRP suspect = WithPresence(kR, kSuspect);
  const models::ActualLRP crashed = Crashed(kR, 1);
  return {
      // behavior.md §1.6.4
      {"CreateUnclaimed",
       {},
       {Change(std::nullopt, kU)},
       kStd,
       {"created(UNCLAIMED)"},
       {"created(I=UNCLAIMED)"}},
      {"ClaimUnclaimed",
       {kU},
       {Change(kU, kC)},
       kStd,
       {"changed(UNCLAIMED->CLAIMED)"},
       {"changed(I=UNCLAIMED->I=CLAIMED)"}},
      {"StartClaimed",
       {kC},
       {Change(kC, kR)},
       kStd,
       {"changed(CLAIMED->RUNNING)"},
       {"changed(I=CLAIMED->I=RUNNING)"}},
      {"StartWithNoOrdinaryRow",
       {},
       {Change(std::nullopt, kR)},
       kStd,
       {"created(RUNNING)"},
       {"created(I=RUNNING)"}},
      {"CrashRunningToCrashed",
       {kR},
       {Change(kR, crashed)},
       kCrash,
       {"crashed", "changed(RUNNING->CRASHED)"},
       {"crashed", "changed(I=RUNNING->I=CRASHED)"}},
      {"CrashRunningToUnclaimedForAnImmediateRestart",
       {kR},
       {Change(kR, Unclaimed(kR))},
       kCrash,
       {"crashed", "created(UNCLAIMED)", "removed(RUNNING)"},
       {"crashed", "changed(I=RUNNING->I=UNCLAIMED)"}},
      {"FailUnclaimed",
       {kU},
       {Change(kU, kUFailed)},
       kStd,
       {"changed(UNCLAIMED->UNCLAIMED)"},
       {"changed(I=UNCLAIMED->I=UNCLAIMED)"}},
      {"RemoveOrRetire",
       {kR},
       {Change(kR, std::nullopt)},
       kStd,
       {"removed(RUNNING)"},
       {"removed(I=RUNNING)"}},
      {"ConvergenceUnclaimsACrashedLrp",
       {crashed},
       {Change(crashed, Unclaimed(crashed))},
       kStd,
       {"created(UNCLAIMED)", "removed(CRASHED)"},
       {"changed(I=CRASHED->I=UNCLAIMED)"}},
      {"OrdinaryOnAVanishedCellBecomesSuspect",
       {kR},
       {Change(kR, suspect), Change(std::nullopt, kU)},
       kInstanceOnly,
       {"changed(RUNNING->RUNNING/SUSPECT)", "created(UNCLAIMED)"},
       {}},
      {"SuspectPromotedRemovesItsReplacement",
       {suspect, kU},
       {Change(kU, std::nullopt)},
       kPerChange,
       {"removed(UNCLAIMED)"},
       {"removed(I=UNCLAIMED)"}},
      {"SuspectPromotedRemovesItsRunningReplacement",
       {suspect, kR2},
       {Change(kR2, std::nullopt)},
       kPerChange,
       {"removed(RUNNING)"},
       {"removed(I=RUNNING)"}},
      {"SuspectPromotedBecomesOrdinary",
       {suspect},
       {Change(suspect, kR)},
       kInstanceOnly,
       {"changed(RUNNING/SUSPECT->RUNNING)"},
       {}},
      {"SuspectRemovedByConvergence",
       {suspect, kU},
       {Change(suspect, std::nullopt)},
       kPerChange,
       {"removed(RUNNING/SUSPECT)"},
       {"removed(I=RUNNING/SUSPECT)"}},
      {"EvacuationOfARunningOrdinary",
       {kR},
       {Change(kR, evacuating), Change(std::nullopt, Unclaimed(kR))},
       kStd,
       {"changed(RUNNING->RUNNING/EVACUATING)", "created(UNCLAIMED)"},
       {"created(E=RUNNING/EVACUATING)", "changed(I=RUNNING->I=UNCLAIMED)"}},
      {"ReplacementStartsWhileEvacuatingExists",
       {evacuating, kC2},
       {Change(kC2, kR2), Change(evacuating, std::nullopt)},
       kStd,
       {"changed(CLAIMED->RUNNING)", "removed(RUNNING/EVACUATING)"},
       {"changed(I=CLAIMED->I=RUNNING)", "removed(E=RUNNING/EVACUATING)"}},
      // api.md §4.10, the rows not above
      {"ScaleDownDeletesAnUnclaimedLrp",
       {kU},
       {Change(kU, std::nullopt)},
       kStd,
       {"removed(UNCLAIMED)"},
       {"removed(I=UNCLAIMED)"}},
      {"RemoveDesiredLrpDeletesACrashedLrp",
       {crashed},
       {Change(crashed, std::nullopt)},
       kStd,
       {"removed(CRASHED)"},
       {"removed(I=CRASHED)"}},
      {"StartRemovesAnotherSuspectInstance",
       {suspect, kC2},
       {Change(kC2, kR2), Change(suspect, std::nullopt)},
       kStd,
       {"changed(CLAIMED->RUNNING)", "removed(RUNNING/SUSPECT)"},
       {"created(I=RUNNING)", "removed(I=RUNNING/SUSPECT)"}},
      {"StartWithNewNetInfo",
       {kR},
       {Change(kR, kRNetChanged)},
       kStd,
       {"changed(RUNNING->RUNNING)"},
       {"changed(I=RUNNING->I=RUNNING)"}},
      {"CrashWithTheStandardAlgorithmToCrashed",
       {kR},
       {Change(kR, crashed)},
       kStd,
       {"crashed", "changed(RUNNING->CRASHED)"},
       {"crashed", "changed(I=RUNNING->I=CRASHED)"}},
      {"EvacuateCrashedUsesTheStandardAlgorithm",
       {kR},
       {Change(kR, Unclaimed(kR))},
       kStd,
       {"created(UNCLAIMED)", "removed(RUNNING)"},
       {"changed(I=RUNNING->I=UNCLAIMED)"}},
      {"EvacuateStopped",
       {evacuating, kU},
       {Change(evacuating, std::nullopt)},
       kStd,
       {"removed(RUNNING/EVACUATING)"},
       {"removed(E=RUNNING/EVACUATING)"}},
      {"EvacuateRunningOfASuspect",
       {suspect, kC2},
       {Change(suspect, evacuating)},
       kStd,
       {"changed(RUNNING/SUSPECT->RUNNING/EVACUATING)"},
       // the claimed replacement now holds the instance slot: another instance key
       {"created(E=RUNNING/EVACUATING)", "created(I=CLAIMED)", "removed(I=RUNNING/SUSPECT)"}},
      {"ConvergencePrunesAnEvacuatingRow",
       {evacuating, kR2},
       {Change(evacuating, std::nullopt)},
       kPerChange,
       {"removed(RUNNING/EVACUATING)"},
       {"removed(E=RUNNING/EVACUATING)"}},
      {"NothingChanged", {kR}, {Change(kR, kR)}, kStd, {}, {}},
      {"CrashOfAClaimedLrpWithNoChange", {kC}, {}, kCrash, {}, {}},
  };
}

class LrpEventTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(LrpEventTableTest, ComputesTheEventsOfTheTable) {
  const Case& c = GetParam();
  const Split got = Describe(ComputeActualLrpEvents(c.before, c.changes, c.mode, "trace"));
  EXPECT_EQ(got.instance, c.instance);
  EXPECT_EQ(got.group, c.group);
}

INSTANTIATE_TEST_SUITE_P(Behavior164AndApi410, LrpEventTableTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(LrpEventCalcTest, DesiringSeveralIndicesGivesOneCreatedEventPerIndexAndHub) {
  std::vector<Event> all;
  for (int index = 0; index < 3; ++index) {
    models::ActualLRP u = kU;
    u.mutable_actual_lrp_key()->set_index(index);
    auto events = ComputeActualLrpEvents({}, {Change(std::nullopt, u)}, LrpEventMode::kStandard,
                                         "desire-trace");
    all.insert(all.end(), events.begin(), events.end());
  }
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 0; i < all.size(); i += 2) {
    EXPECT_EQ(all[i].type, "actual_lrp_created");
    EXPECT_EQ(all[i + 1].type, "actual_lrp_instance_created");
    const auto& created =
        static_cast<const models::ActualLRPInstanceCreatedEvent&>(*all[i + 1].payload);
    EXPECT_EQ(created.trace_id(), "desire-trace");
    EXPECT_EQ(created.actual_lrp().actual_lrp_key().index(), static_cast<int>(i / 2));
  }
}

TEST(LrpEventCalcTest, ChangedEventTakesKeysFromAfterUnlessEmpty) {
  // Claim: the instance key comes from after.
  Event claim = ActualLrpInstanceChangedEvent(kU, kC, "t");
  const auto& c = static_cast<const models::ActualLRPInstanceChangedEvent&>(*claim.payload);
  EXPECT_EQ(c.actual_lrp_instance_key().instance_guid(), "ig-1");
  EXPECT_EQ(c.actual_lrp_key().process_guid(), "pg");
  EXPECT_EQ(claim.cell_ids, std::vector<std::string>{"cell-1"});
  // Crash to CRASHED: after has no instance key, so before's.
  Event crash = ActualLrpInstanceChangedEvent(kR, Crashed(kR, 1), "t");
  const auto& r = static_cast<const models::ActualLRPInstanceChangedEvent&>(*crash.payload);
  EXPECT_EQ(r.actual_lrp_instance_key().cell_id(), "cell-1");
  EXPECT_EQ(r.before().state(), "RUNNING");
  EXPECT_EQ(r.after().state(), "CRASHED");
  EXPECT_EQ(r.after().crash_count(), 1);
  EXPECT_EQ(crash.cell_ids, std::vector<std::string>{"cell-1"});
}

TEST(LrpEventCalcTest, ChangedEventAlwaysWritesItsKeysAndTheInfosNetInfoAndTag) {
  Event e = ActualLrpInstanceChangedEvent(models::ActualLRP(), models::ActualLRP(), "");
  const std::string bytes = e.payload->SerializeAsString();
  // 0a 00 (key) 12 00 (instance key) 1a 04 [1a 00 4a 00] (before: net info 3, tag 9) 22 04 ...
  EXPECT_EQ(bytes,
            std::string("\x0a\x00\x12\x00\x1a\x04\x1a\x00\x4a\x00\x22\x04\x1a\x00\x4a\x00", 16));
}

TEST(LrpEventCalcTest, InfoCopiesTheStateButNoKeysRoutesOrTags) {
  models::ActualLRP lrp = kR;
  lrp.add_actual_lrp_internal_routes()->set_hostname("h");
  (*lrp.mutable_metric_tags())["k"] = "v";
  lrp.set_availability_zone("z1");
  lrp.set_placement_error("pe");
  lrp.set_crash_count(3);
  lrp.set_crash_reason("cr");
  models::ActualLRPInfo info = InfoOf(lrp);
  EXPECT_EQ(info.actual_lrp_net_info().address(), "10.0.0.cell-1");
  EXPECT_EQ(info.state(), "RUNNING");
  EXPECT_EQ(info.crash_count(), 3);
  EXPECT_EQ(info.crash_reason(), "cr");
  EXPECT_EQ(info.placement_error(), "pe");
  EXPECT_EQ(info.since(), 100);
  EXPECT_EQ(info.modification_tag().epoch(), "epoch-ig-1");
  EXPECT_TRUE(info.has_routable());
  EXPECT_TRUE(info.routable());
  EXPECT_EQ(info.availability_zone(), "z1");
  lrp.clear_optional_routable();
  EXPECT_FALSE(InfoOf(lrp).has_routable());
}

TEST(LrpEventCalcTest, CrashedEventTakesTheInstanceKeyFromBeforeAndTheRestFromAfter) {
  const models::ActualLRP after = Crashed(kR, 4);
  Event e = ActualLrpCrashedEvent(kR, after, EventFamily::kActualLrpInstance);
  const auto& crash = static_cast<const models::ActualLRPCrashedEvent&>(*e.payload);
  EXPECT_EQ(crash.actual_lrp_key().process_guid(), "pg");
  EXPECT_EQ(crash.actual_lrp_instance_key().instance_guid(), "ig-1");
  EXPECT_EQ(crash.crash_count(), 4);
  EXPECT_EQ(crash.crash_reason(), "exit 1");
  EXPECT_EQ(crash.since(), 200);
  EXPECT_EQ(e.cell_ids, std::vector<std::string>{"cell-1"});
  EXPECT_EQ(e.family, EventFamily::kActualLrpInstance);
}

TEST(LrpEventCalcTest, PutsTraceIdsOnInstanceEventsOnly) {
  auto events =
      ComputeActualLrpEvents({kR}, {Change(kR, Unclaimed(kR))}, LrpEventMode::kCrash, "req-1");
  int instance_events = 0;
  for (const Event& e : events) {
    if (e.type == "actual_lrp_instance_created") {
      EXPECT_EQ(static_cast<const models::ActualLRPInstanceCreatedEvent&>(*e.payload).trace_id(),
                "req-1");
      ++instance_events;
    } else if (e.type == "actual_lrp_instance_removed") {
      EXPECT_EQ(static_cast<const models::ActualLRPInstanceRemovedEvent&>(*e.payload).trace_id(),
                "req-1");
      ++instance_events;
    }
  }
  EXPECT_EQ(instance_events, 2);
}

TEST(LrpEventCalcTest, CrashGroupChangedEventCarriesTheWholeGroups) {
  const models::ActualLRP evacuating = WithPresence(kR2, kEvacuating);
  auto events = ComputeActualLrpEvents({kR, evacuating}, {Change(kR, Crashed(kR, 1))},
                                       LrpEventMode::kCrash, "");
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].type, "actual_lrp_crashed");
  EXPECT_EQ(events[0].family, EventFamily::kActualLrpGroup);
  ASSERT_EQ(events[1].type, "actual_lrp_changed");
  const auto& changed = static_cast<const models::ActualLRPChangedEvent&>(*events[1].payload);
  EXPECT_EQ(GroupText(changed.before()), "I=RUNNING,E=RUNNING/EVACUATING");
  EXPECT_EQ(GroupText(changed.after()), "I=CRASHED,E=RUNNING/EVACUATING");
  // The resolved LRPs: before the instance (RUNNING), after the instance (CRASHED, no cell).
  EXPECT_EQ(events[1].cell_ids, (std::vector<std::string>{"cell-1", ""}));
}

TEST(LrpEventCalcTest, GroupEventsAreFilteredByTheResolvedLrpsCells) {
  Event created = ActualLrpGroupCreatedEvent(GroupOf(kR));
  EXPECT_EQ(created.cell_ids, std::vector<std::string>{"cell-1"});
  EXPECT_FALSE(created.unresolved_group);
  Event changed = ActualLrpGroupChangedEvent(GroupOf(kR), GroupOf(kR2));
  EXPECT_EQ(changed.cell_ids, (std::vector<std::string>{"cell-1", "cell-2"}));
  Event same_cell = ActualLrpGroupChangedEvent(GroupOf(kC), GroupOf(kR));
  EXPECT_EQ(same_cell.cell_ids, std::vector<std::string>{"cell-1"});
  // With both slots set, a non-running instance resolves to the evacuating LRP.
  models::ActualLRPGroup both;
  *both.mutable_instance() = kC2;
  *both.mutable_evacuating() = WithPresence(kR, kEvacuating);
  EXPECT_EQ(ActualLrpGroupRemovedEvent(both).cell_ids, std::vector<std::string>{"cell-1"});
  Event empty = ActualLrpGroupRemovedEvent(models::ActualLRPGroup());
  EXPECT_TRUE(empty.unresolved_group);
  EXPECT_TRUE(empty.cell_ids.empty());
}

TEST(LrpEventCalcTest, GroupOfPlacesAnEvacuatingLrpInTheEvacuatingSlot) {
  EXPECT_TRUE(GroupOf(WithPresence(kR, kEvacuating)).has_evacuating());
  EXPECT_FALSE(GroupOf(WithPresence(kR, kEvacuating)).has_instance());
  EXPECT_TRUE(GroupOf(WithPresence(kR, kSuspect)).has_instance());
  EXPECT_TRUE(GroupOf(kU).has_instance());
}

TEST(LrpEventCalcTest, SortsRunningResultsBeforeRemovalsKeepingTheOrderOtherwise) {
  // Start replacing a suspect: the removal comes first in the changes, the RUNNING one first in
  // the events.
  const models::ActualLRP suspect = WithPresence(kR, kSuspect);
  auto events =
      ComputeActualLrpEvents({suspect, kC2}, {Change(suspect, std::nullopt), Change(kC2, kR2)},
                             LrpEventMode::kStandard, "");
  const Split got = Describe(events);
  EXPECT_EQ(got.instance,
            (std::vector<std::string>{"changed(CLAIMED->RUNNING)", "removed(RUNNING/SUSPECT)"}));
  // Equal scores keep their computed order (created before removed).
  auto restart =
      ComputeActualLrpEvents({kR}, {Change(kR, Unclaimed(kR))}, LrpEventMode::kStandard, "");
  EXPECT_EQ(Describe(restart).instance,
            (std::vector<std::string>{"created(UNCLAIMED)", "removed(RUNNING)"}));
}

TEST(LrpEventCalcTest, ApplyRowChangesReplacesInPlaceAndAppendsNewRows) {
  const models::ActualLRP evacuating = WithPresence(kR, kEvacuating);
  auto rows = ApplyRowChanges(
      {kR, kR2}, {Change(kR, evacuating), Change(std::nullopt, kU), Change(kR2, std::nullopt)});
  ASSERT_EQ(rows.size(), 3u);
  ASSERT_TRUE(rows[0].has_value());
  EXPECT_EQ(rows[0]->presence(), kEvacuating);
  EXPECT_FALSE(rows[1].has_value());
  ASSERT_TRUE(rows[2].has_value());
  EXPECT_EQ(rows[2]->state(), "UNCLAIMED");
  // A change of a row that is not there is appended.
  auto appended = ApplyRowChanges({kU}, {Change(kR2, kR2)});
  ASSERT_EQ(appended.size(), 2u);
  EXPECT_EQ(appended[1]->actual_lrp_instance_key().instance_guid(), "ig-2");
}

TEST(LrpEventCalcTest, SameActualLrpTreatsAbsentAndEmptySubMessagesAlike) {
  models::ActualLRP bare;
  bare.set_state("UNCLAIMED");
  models::ActualLRP full = bare;
  full.mutable_actual_lrp_key();
  full.mutable_actual_lrp_instance_key();
  full.mutable_actual_lrp_net_info();
  full.mutable_modification_tag();
  EXPECT_TRUE(SameActualLrp(bare, full));
  full.set_routable(false);
  EXPECT_FALSE(SameActualLrp(bare, full));  // upstream tells a nil Routable from false
  EXPECT_FALSE(SameActualLrp(kR, kRNetChanged));
}

}  // namespace
}  // namespace bbs::domain
