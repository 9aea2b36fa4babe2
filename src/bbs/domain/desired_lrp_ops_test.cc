#include "bbs/domain/desired_lrp_ops.h"

#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/domain/actual_lrp_factory.h"

namespace bbs::domain {
namespace {

models::DesiredLRP NewLrp() {
  models::DesiredLRP lrp;
  lrp.set_process_guid("pg-1");
  lrp.set_domain("cf-apps");
  lrp.set_root_fs("preloaded:cflinuxfs4");
  lrp.set_instances(2);
  lrp.set_image_username("u");
  lrp.set_image_password("p");
  lrp.mutable_modification_tag()->set_epoch("client-epoch");
  lrp.mutable_modification_tag()->set_index(7);
  lrp.mutable_action()->mutable_run_action()->set_path("/bin/true");
  (*lrp.mutable_routes()->mutable_routes())["cf-router"] = R"([ {"hostnames": ["a<b"]} ])";
  return lrp;
}

TEST(DesiredLrpOpsTest, NewRecordReplacesTheModificationTagAndStampsCreatedAt) {
  auto record = NewDesiredLrpRecord(NewLrp(), 42, "epoch-1");
  ASSERT_THAT(record, IsOk()) << record.status().ToString();
  EXPECT_EQ(record->scheduling_info().modification_tag().epoch(), "epoch-1");
  EXPECT_EQ(record->scheduling_info().modification_tag().index(), 0u);
  models::DesiredLRPRunInfo run_info;
  ASSERT_TRUE(run_info.ParseFromString(record->run_info()));
  EXPECT_EQ(run_info.created_at(), 42);
}

TEST(DesiredLrpOpsTest, NewRecordReEncodesRouteJson) {
  auto record = NewDesiredLrpRecord(NewLrp(), 42, "epoch-1");
  ASSERT_THAT(record, IsOk());
  EXPECT_EQ(record->scheduling_info().routes().routes().at("cf-router"),
            R"([{"hostnames":["a\u003cb"]}])");
}

TEST(DesiredLrpOpsTest, NewRecordRejectsRouteValuesThatAreNotJson) {
  auto lrp = NewLrp();
  (*lrp.mutable_routes()->mutable_routes())["cf-router"] = "{nope";
  auto record = NewDesiredLrpRecord(lrp, 42, "epoch-1");
  EXPECT_THAT(record, StatusIs(ErrorCode::kInvalidRequest));
}

TEST(DesiredLrpOpsTest, RecordRoundTripsToTheDesiredLrp) {
  auto record = NewDesiredLrpRecord(NewLrp(), 42, "epoch-1");
  ASSERT_THAT(record, IsOk());
  auto lrp = DesiredLrpFromRecord(*record);
  ASSERT_THAT(lrp, IsOk());
  EXPECT_EQ(lrp->process_guid(), "pg-1");
  EXPECT_EQ(lrp->instances(), 2);
  EXPECT_EQ(lrp->action().run_action().path(), "/bin/true");
  EXPECT_EQ(lrp->modification_tag().epoch(), "epoch-1");
}

TEST(DesiredLrpOpsTest, UpdateChangesOnlyWhatIsPresent) {
  auto before = NewDesiredLrpRecord(NewLrp(), 42, "epoch-1");
  ASSERT_THAT(before, IsOk());
  models::DesiredLRPUpdate update;
  update.set_image_username("u2");
  update.set_image_password("p2");
  auto after = ApplyDesiredLrpUpdate(*before, update);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->scheduling_info().instances(), 2);
  EXPECT_EQ(after->scheduling_info().routes().routes_size(), 1);
  EXPECT_EQ(after->scheduling_info().modification_tag().index(), 1u);
  auto lrp = DesiredLrpFromRecord(*after);
  ASSERT_THAT(lrp, IsOk());
  EXPECT_EQ(lrp->image_username(), "u2");
  EXPECT_EQ(lrp->image_password(), "p2");
}

TEST(DesiredLrpOpsTest, UpdateWithAPresentEmptyRoutesMessageClearsTheRoutes) {
  auto before = NewDesiredLrpRecord(NewLrp(), 42, "epoch-1");
  ASSERT_THAT(before, IsOk());
  models::DesiredLRPUpdate update;
  update.mutable_routes();
  auto after = ApplyDesiredLrpUpdate(*before, update);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->scheduling_info().routes().routes_size(), 0);
}

TEST(DesiredLrpOpsTest, StoppingSkipsEvacuatingAndLowerIndices) {
  auto u0 = NewUnclaimedActualLrp("pg", 0, "d", 1, "e0");
  auto u2 = NewUnclaimedActualLrp("pg", 2, "d", 1, "e2");
  auto r1 = NewUnclaimedActualLrp("pg", 1, "d", 1, "e1");
  r1.set_state(kRunning);
  auto c3 = NewUnclaimedActualLrp("pg", 3, "d", 1, "e3");
  c3.set_state(kCrashed);
  auto ev = NewUnclaimedActualLrp("pg", 2, "d", 1, "ev");
  ev.set_state(kRunning);
  ev.set_presence(models::ActualLRP::EVACUATING);
  auto plan = PlanStopInstances({&u0, &r1, &u2, &c3, &ev}, 1);
  ASSERT_EQ(plan.to_delete.size(), 2u);
  EXPECT_EQ(plan.to_delete[0].actual_lrp_key().index(), 2);
  EXPECT_EQ(plan.to_delete[1].actual_lrp_key().index(), 3);
  ASSERT_EQ(plan.to_stop.size(), 1u);
  EXPECT_EQ(plan.to_stop[0].actual_lrp_key().index(), 1);
}

}  // namespace
}  // namespace bbs::domain
