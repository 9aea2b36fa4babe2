#include "bbs/domain/actual_lrp_lifecycle.h"

#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/restart_policy.h"

namespace bbs::domain {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr int64_t kMinute = 60LL * 1'000'000'000;

models::ActualLRPInstanceKey Ik(const std::string& guid, const std::string& cell) {
  models::ActualLRPInstanceKey k;
  k.set_instance_guid(guid);
  k.set_cell_id(cell);
  return k;
}

models::ActualLRPKey Key(const std::string& domain = "d") {
  models::ActualLRPKey k;
  k.set_process_guid("pg");
  k.set_index(0);
  k.set_domain(domain);
  return k;
}

models::ActualLRP Row(const std::string& state, const models::ActualLRPInstanceKey& ik = {},
                      models::ActualLRP::Presence presence = models::ActualLRP::ORDINARY) {
  models::ActualLRP lrp = NewUnclaimedActualLrp("pg", 0, "d", kNow - kMinute, "epoch");
  lrp.set_state(state);
  *lrp.mutable_actual_lrp_instance_key() = ik;
  lrp.set_presence(presence);
  if (state == kRunning) lrp.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
  return lrp;
}

StartParams Params(const models::ActualLRPInstanceKey& ik) {
  StartParams p;
  p.key = Key();
  p.instance_key = ik;
  p.net_info.set_address("10.0.0.1");
  p.availability_zone = "";
  return p;
}

// --- the transition matrix of behavior.md §1.2, one test per cell ---

struct MatrixCase {
  const char* from;
  const char* to;
  const char* request_key;  // "same", "other", "empty"
  bool allowed;
};

class TransitionMatrixTest : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(TransitionMatrixTest, AllowsExactlyTheTransitionsOfTheTable) {
  const MatrixCase& c = GetParam();
  auto stored = Ik("ig-1", "cell-1");
  models::ActualLRP row =
      Row(c.from, std::string(c.from) == kUnclaimed || std::string(c.from) == kCrashed
                      ? models::ActualLRPInstanceKey()
                      : stored);
  if (std::string(c.from) == kCrashed) *row.mutable_actual_lrp_instance_key() = stored;
  models::ActualLRPInstanceKey request;
  std::string rk = c.request_key;
  if (rk == "same") request = stored;
  if (rk == "other") request = Ik("ig-2", "cell-2");
  EXPECT_EQ(AllowsTransitionTo(row, Key(), request, c.to), c.allowed)
      << c.from << " -> " << c.to << " with " << c.request_key << " instance key";
}

INSTANTIATE_TEST_SUITE_P(EveryCell, TransitionMatrixTest,
                         ::testing::Values(MatrixCase{kUnclaimed, kUnclaimed, "other", true},
                                           MatrixCase{kUnclaimed, kClaimed, "other", true},
                                           MatrixCase{kUnclaimed, kRunning, "other", true},
                                           MatrixCase{kUnclaimed, kCrashed, "other", false},
                                           MatrixCase{kClaimed, kUnclaimed, "empty", true},
                                           MatrixCase{kClaimed, kUnclaimed, "same", false},
                                           MatrixCase{kClaimed, kClaimed, "same", true},
                                           MatrixCase{kClaimed, kClaimed, "other", false},
                                           MatrixCase{kClaimed, kRunning, "other", true},
                                           MatrixCase{kClaimed, kRunning, "same", true},
                                           MatrixCase{kClaimed, kCrashed, "same", true},
                                           MatrixCase{kClaimed, kCrashed, "other", false},
                                           MatrixCase{kRunning, kUnclaimed, "empty", true},
                                           MatrixCase{kRunning, kUnclaimed, "same", false},
                                           MatrixCase{kRunning, kClaimed, "same", true},
                                           MatrixCase{kRunning, kClaimed, "other", false},
                                           MatrixCase{kRunning, kRunning, "same", true},
                                           MatrixCase{kRunning, kRunning, "other", false},
                                           MatrixCase{kRunning, kCrashed, "same", true},
                                           MatrixCase{kRunning, kCrashed, "other", false},
                                           MatrixCase{kCrashed, kUnclaimed, "empty", true},
                                           MatrixCase{kCrashed, kUnclaimed, "same", false},
                                           MatrixCase{kCrashed, kClaimed, "same", true},
                                           MatrixCase{kCrashed, kClaimed, "other", false},
                                           MatrixCase{kCrashed, kRunning, "same", true},
                                           MatrixCase{kCrashed, kRunning, "other", false},
                                           MatrixCase{kCrashed, kCrashed, "same", false}));

TEST(TransitionRuleTest, RefusesARequestWhoseKeyHasAnotherDomain) {
  EXPECT_FALSE(AllowsTransitionTo(Row(kUnclaimed), Key("other"), Ik("ig", "c"), kRunning));
}

// --- restart schedule (behavior.md §2), one test per row ---

TEST(RestartPolicyTest, CrashCountsOneAndTwoRestartImmediately) {
  EXPECT_TRUE(ShouldRestart(kNow, kNow, 1));
  EXPECT_TRUE(ShouldRestart(kNow, kNow, 2));
}

TEST(RestartPolicyTest, CrashCountThreeWaitsThirtySeconds) {
  EXPECT_FALSE(ShouldRestart(kNow + 29'999'999'999, kNow, 3));
  EXPECT_TRUE(ShouldRestart(kNow + 30'000'000'000, kNow, 3));
}

TEST(RestartPolicyTest, CrashCountFourWaitsOneMinute) {
  EXPECT_FALSE(ShouldRestart(kNow + kMinute - 1, kNow, 4));
  EXPECT_TRUE(ShouldRestart(kNow + kMinute, kNow, 4));
}

TEST(RestartPolicyTest, CrashCountFiveWaitsTwoMinutes) {
  EXPECT_EQ(RestartBackoffNanos(5), 2 * kMinute);
}

TEST(RestartPolicyTest, CrashCountSixWaitsFourMinutes) {
  EXPECT_EQ(RestartBackoffNanos(6), 4 * kMinute);
}

TEST(RestartPolicyTest, CrashCountSevenWaitsEightMinutes) {
  EXPECT_EQ(RestartBackoffNanos(7), 8 * kMinute);
}

TEST(RestartPolicyTest, CrashCountsEightToOneNinetyNineWaitSixteenMinutes) {
  EXPECT_EQ(RestartBackoffNanos(8), 16 * kMinute);
  EXPECT_EQ(RestartBackoffNanos(199), 16 * kMinute);
  EXPECT_TRUE(ShouldRestart(kNow + 16 * kMinute, kNow, 199));
}

TEST(RestartPolicyTest, CrashCountTwoHundredIsNeverRestarted) {
  EXPECT_FALSE(ShouldRestart(kNow + 1000 * kMinute, kNow, 200));
}

TEST(RestartPolicyTest, ACrashAfterFiveMinutesRunningResetsTheCount) {
  EXPECT_EQ(NextCrashCount(kRunning, kNow - 5 * kMinute - 1, 7, kNow), 1);
  EXPECT_EQ(NextCrashCount(kRunning, kNow - 5 * kMinute, 7, kNow), 8);
  EXPECT_EQ(NextCrashCount(kClaimed, kNow - 60 * kMinute, 7, kNow), 8);
}

// --- operations ---

TEST(ClaimTest, ClaimsAnUnclaimedInstance) {
  auto row = Row(kUnclaimed);
  row.set_placement_error("no room");
  LrpRows rows{&row};
  auto d = Claim(rows, Ik("ig-1", "cell-1"), kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_EQ(d.puts.size(), 1u);
  EXPECT_EQ(d.puts[0].state(), kClaimed);
  EXPECT_EQ(d.puts[0].actual_lrp_instance_key().cell_id(), "cell-1");
  EXPECT_EQ(d.puts[0].placement_error(), "");
  EXPECT_EQ(d.puts[0].since(), kNow);
  EXPECT_EQ(d.puts[0].modification_tag().index(), 1u);
}

TEST(ClaimTest, ClaimingAgainWithTheSameKeyChangesNothing) {
  auto row = Row(kClaimed, Ik("ig-1", "cell-1"));
  auto d = Claim({&row}, Ik("ig-1", "cell-1"), kNow);
  EXPECT_THAT(d.status, IsOk());
  EXPECT_TRUE(d.puts.empty());
}

TEST(ClaimTest, ClaimingAnInstanceClaimedByAnotherCellFails) {
  auto row = Row(kClaimed, Ik("ig-1", "cell-1"));
  auto d = Claim({&row}, Ik("ig-2", "cell-2"), kNow);
  EXPECT_THAT(d.status, StatusIs(ErrorCode::kActualLrpCannotBeClaimed));
}

TEST(ClaimTest, ClaimingAMissingInstanceIsNotFound) {
  EXPECT_THAT(Claim({}, Ik("ig-1", "c"), kNow).status, StatusIs(ErrorCode::kResourceNotFound));
}

TEST(ClaimTest, AClaimFromASuspectInstanceIsIgnored) {
  auto ordinary = Row(kUnclaimed);
  auto suspect = Row(kRunning, Ik("ig-1", "cell-1"), models::ActualLRP::SUSPECT);
  auto d = Claim({&ordinary, nullptr, &suspect}, Ik("ig-1", "cell-1"), kNow);
  EXPECT_THAT(d.status, IsOk());
  EXPECT_TRUE(d.puts.empty());
}

TEST(StartTest, StartsAClaimedInstanceFromAnyCell) {
  auto row = Row(kClaimed, Ik("ig-1", "cell-1"));
  auto d = Start({&row}, Params(Ik("ig-2", "cell-2")), kNow, "e");
  ASSERT_THAT(d.status, IsOk());
  ASSERT_EQ(d.puts.size(), 1u);
  EXPECT_EQ(d.puts[0].state(), kRunning);
  EXPECT_EQ(d.puts[0].actual_lrp_net_info().address(), "10.0.0.1");
  EXPECT_TRUE(d.puts[0].routable());
}

TEST(StartTest, AnIdenticalHeartbeatChangesNothing) {
  auto row = Row(kRunning, Ik("ig-1", "cell-1"));
  row.set_routable(true);
  auto d = Start({&row}, Params(Ik("ig-1", "cell-1")), kNow, "e");
  EXPECT_THAT(d.status, IsOk());
  EXPECT_TRUE(d.puts.empty());
  EXPECT_TRUE(d.deletes.empty());
}

TEST(StartTest, StartingAMissingInstanceCreatesItRunning) {
  auto d = Start({}, Params(Ik("ig-1", "cell-1")), kNow, "fresh-epoch");
  ASSERT_THAT(d.status, IsOk());
  ASSERT_EQ(d.puts.size(), 1u);
  EXPECT_EQ(d.puts[0].state(), kRunning);
  EXPECT_EQ(d.puts[0].modification_tag().epoch(), "fresh-epoch");
  EXPECT_EQ(d.puts[0].modification_tag().index(), 0u);
}

TEST(StartTest, StartingARunningInstanceOfAnotherCellFails) {
  auto row = Row(kRunning, Ik("ig-1", "cell-1"));
  auto d = Start({&row}, Params(Ik("ig-2", "cell-2")), kNow, "e");
  EXPECT_THAT(d.status, StatusIs(ErrorCode::kActualLrpCannotBeStarted));
}

TEST(StartTest, StartingRemovesTheEvacuatingAndSuspectRows) {
  auto row = Row(kClaimed, Ik("ig-2", "cell-2"));
  auto evac = Row(kRunning, Ik("ig-1", "cell-1"), models::ActualLRP::EVACUATING);
  auto d = Start({&row, &evac}, Params(Ik("ig-2", "cell-2")), kNow, "e");
  ASSERT_THAT(d.status, IsOk());
  ASSERT_EQ(d.deletes.size(), 1u);
  EXPECT_EQ(d.deletes[0].presence(), models::ActualLRP::EVACUATING);
}

TEST(CrashTest, TheFirstTwoCrashesRestartImmediatelyAndTheThirdWaits) {
  struct Case {
    int previous_crashes;
    const char* state;
    bool auction;
  };
  for (const Case& c :
       {Case{0, kUnclaimed, true}, Case{1, kUnclaimed, true}, Case{2, kCrashed, false}}) {
    auto row = Row(kRunning, Ik("ig-1", "cell-1"));
    row.set_crash_count(c.previous_crashes);
    auto d = Crash({&row}, Key(), Ik("ig-1", "cell-1"), "boom", kNow);
    ASSERT_THAT(d.status, IsOk());
    EXPECT_EQ(d.puts[0].state(), c.state) << c.previous_crashes;
    EXPECT_EQ(d.puts[0].crash_count(), c.previous_crashes + 1);
    EXPECT_EQ(d.puts[0].crash_reason(), "boom");
    EXPECT_EQ(d.request_auction, c.auction) << c.previous_crashes;
    EXPECT_TRUE(d.crash_events);
    if (c.auction) {
      EXPECT_TRUE(d.puts[0].actual_lrp_instance_key().cell_id().empty());
    }
  }
}

TEST(CrashTest, CrashingFromAnotherCellFails) {
  auto row = Row(kRunning, Ik("ig-1", "cell-1"));
  auto d = Crash({&row}, Key(), Ik("ig-2", "cell-2"), "boom", kNow);
  EXPECT_THAT(d.status, StatusIs(ErrorCode::kActualLrpCannotBeCrashed));
}

TEST(CrashTest, ACrashOfASuspectRemovesTheSuspectOnly) {
  auto ordinary = Row(kUnclaimed);
  auto suspect = Row(kRunning, Ik("ig-1", "cell-1"), models::ActualLRP::SUSPECT);
  auto d = Crash({&ordinary, nullptr, &suspect}, Key(), Ik("ig-1", "cell-1"), "x", kNow);
  ASSERT_THAT(d.status, IsOk());
  ASSERT_EQ(d.deletes.size(), 1u);
  EXPECT_EQ(d.deletes[0].presence(), models::ActualLRP::SUSPECT);
  EXPECT_TRUE(d.puts.empty());
}

TEST(CrashTest, LongCrashReasonsAreTruncated) {
  auto row = Row(kRunning, Ik("ig-1", "cell-1"));
  auto d = Crash({&row}, Key(), Ik("ig-1", "cell-1"), std::string(2000, 'x'), kNow);
  EXPECT_EQ(d.puts[0].crash_reason().size(), 1024u);
}

TEST(FailTest, SetsThePlacementErrorOfAnUnclaimedInstance) {
  auto row = Row(kUnclaimed);
  auto d = Fail({&row}, "insufficient resources", kNow);
  ASSERT_THAT(d.status, IsOk());
  EXPECT_EQ(d.puts[0].placement_error(), "insufficient resources");
  EXPECT_EQ(d.puts[0].state(), kUnclaimed);
}

TEST(FailTest, FailingAClaimedInstanceIsRefused) {
  auto row = Row(kClaimed, Ik("ig", "c"));
  EXPECT_THAT(Fail({&row}, "x", kNow).status, StatusIs(ErrorCode::kActualLrpCannotBeFailed));
}

TEST(FailTest, FailingAMissingInstanceSucceeds) {
  auto d = Fail({}, "x", kNow);
  EXPECT_THAT(d.status, IsOk());
  EXPECT_TRUE(d.puts.empty());
}

TEST(RemoveTest, RemovesTheOrdinaryRowWhenTheInstanceKeyMatches) {
  auto row = Row(kRunning, Ik("ig-1", "cell-1"));
  auto ik = Ik("ig-1", "cell-1");
  EXPECT_EQ(Remove({&row}, &ik).deletes.size(), 1u);
  auto other = Ik("ig-2", "cell-1");
  EXPECT_THAT(Remove({&row}, &other).status, StatusIs(ErrorCode::kResourceNotFound));
  EXPECT_THAT(Remove({}, nullptr).status, StatusIs(ErrorCode::kResourceNotFound));
}

TEST(UnclaimTest, StaleUnclaimRefusesClaimedAndUnclaimedRows) {
  auto claimed = Row(kClaimed, Ik("ig", "c"));
  EXPECT_THAT(Unclaim({&claimed}, true, kNow).status,
              StatusIs(ErrorCode::kActualLrpCannotBeUnclaimed));
  auto unclaimed = Row(kUnclaimed);
  EXPECT_EQ(Unclaim({&unclaimed}, false, kNow).status.code(),
            ErrorCode::kActualLrpCannotBeUnclaimed);
  auto crashed = Row(kCrashed);
  crashed.set_crash_count(4);
  auto d = Unclaim({&crashed}, true, kNow);
  ASSERT_THAT(d.status, IsOk());
  EXPECT_EQ(d.puts[0].state(), kUnclaimed);
  EXPECT_EQ(d.puts[0].crash_count(), 4);
}

TEST(RetireTest, RunningInstancesNeedTheirRep) {
  auto running = Row(kRunning, Ik("ig", "c"));
  EXPECT_TRUE(Retire({&running}).needs_rep_stop);
  auto crashed = Row(kCrashed);
  EXPECT_FALSE(Retire({&crashed}).needs_rep_stop);
  EXPECT_THAT(Retire({}).status, StatusIs(ErrorCode::kResourceNotFound));
}

TEST(EvacuateRunningTest, RollingEvacuationCopiesTheInstanceAndUnclaimsTheOrdinary) {
  auto row = Row(kRunning, Ik("ig-1", "cell-1"));
  DesiredInfo desired{true, 0, 1, 1};
  auto d = EvacuateRunning({&row}, Params(Ik("ig-1", "cell-1")), desired, kNow, "ev-epoch");
  ASSERT_THAT(d.status, IsOk());
  EXPECT_TRUE(d.keep_container);
  EXPECT_TRUE(d.request_auction);
  ASSERT_EQ(d.puts.size(), 2u);
  EXPECT_EQ(d.puts[0].presence(), models::ActualLRP::EVACUATING);
  EXPECT_EQ(d.puts[0].state(), kRunning);
  EXPECT_EQ(d.puts[1].presence(), models::ActualLRP::ORDINARY);
  EXPECT_EQ(d.puts[1].state(), kUnclaimed);
}

TEST(EvacuateRunningTest, OnceTheReplacementRunsTheEvacuatingRowGoes) {
  auto ordinary = Row(kRunning, Ik("ig-2", "cell-2"));
  auto evac = Row(kRunning, Ik("ig-1", "cell-1"), models::ActualLRP::EVACUATING);
  DesiredInfo desired{true, 0, 1, 1};
  auto d = EvacuateRunning({&ordinary, &evac}, Params(Ik("ig-1", "cell-1")), desired, kNow, "e");
  EXPECT_FALSE(d.keep_container);
  ASSERT_EQ(d.deletes.size(), 1u);
  EXPECT_EQ(d.deletes[0].presence(), models::ActualLRP::EVACUATING);
}

TEST(EvacuateRunningTest, RecreateKeepsTheContainerUntilEveryInstanceRuns) {
  auto row = Row(kRunning, Ik("ig-1", "cell-1"));
  DesiredInfo waiting{true, 1, 2, 1};
  auto d = EvacuateRunning({&row}, Params(Ik("ig-1", "cell-1")), waiting, kNow, "e");
  EXPECT_TRUE(d.keep_container);
  EXPECT_TRUE(d.puts.empty());
  DesiredInfo all_running{true, 1, 2, 2};
  auto d2 = EvacuateRunning({&row}, Params(Ik("ig-1", "cell-1")), all_running, kNow, "e");
  EXPECT_FALSE(d2.keep_container);
  EXPECT_TRUE(d2.request_auction);
  ASSERT_EQ(d2.puts.size(), 1u);
  EXPECT_EQ(d2.puts[0].state(), kUnclaimed);
}

TEST(EvacuateClaimedTest, UnclaimsAndAuctions) {
  auto row = Row(kClaimed, Ik("ig-1", "cell-1"));
  auto d = EvacuateClaimed({&row}, Ik("ig-1", "cell-1"), kNow);
  ASSERT_THAT(d.status, IsOk());
  EXPECT_FALSE(d.keep_container);
  EXPECT_TRUE(d.request_auction);
  EXPECT_EQ(d.puts[0].state(), kUnclaimed);
  auto unknown = EvacuateClaimed({&row}, Ik("ig-9", "cell-9"), kNow);
  EXPECT_THAT(unknown.status, StatusIs(ErrorCode::kResourceNotFound));
}

TEST(RemoveEvacuatingTest, RequiresAnEvacuatingRowWithThatKey) {
  auto evac = Row(kRunning, Ik("ig-1", "cell-1"), models::ActualLRP::EVACUATING);
  EXPECT_EQ(RemoveEvacuating({nullptr, &evac}, Ik("ig-1", "cell-1")).deletes.size(), 1u);
  EXPECT_EQ(RemoveEvacuating({nullptr, &evac}, Ik("ig-2", "cell-1")).status.code(),
            ErrorCode::kResourceNotFound);
}

}  // namespace
}  // namespace bbs::domain
