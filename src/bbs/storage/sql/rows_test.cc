#include "bbs/storage/sql/rows.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/storage/store_test_util.h"

namespace bbs::storage::sql {
namespace {

using testing::EqualsProto;

TEST(RowsTest, WritesRoutesAsAGoJsonObjectWithRawValuesInKeyOrder) {
  models::ProtoRoutes routes;
  (*routes.mutable_routes())["tcp-router"] = R"([{"external_port":1}])";
  (*routes.mutable_routes())["cf-router"] = R"([{"hostnames":["a<b"],"port":8080}])";
  EXPECT_EQ(
      RoutesJson(routes).value(),
      R"({"cf-router":[{"hostnames":["a<b"],"port":8080}],"tcp-router":[{"external_port":1}]})");
  EXPECT_EQ(RoutesJson(models::ProtoRoutes()).value(), "{}");
  (*routes.mutable_routes())["bad"] = "not json";
  EXPECT_EQ(RoutesJson(routes).status().code(), ErrorCode::kInvalidJson);
}

TEST(RowsTest, WritesMetricTagsAsGoDoes) {
  google::protobuf::Map<std::string, models::MetricTagValue> tags;
  tags["source_id"].set_static_("app");
  tags["index"].set_dynamic(models::MetricTagValue::INDEX);
  tags["guid"].set_dynamic(models::MetricTagValue::INSTANCE_GUID);
  EXPECT_EQ(DesiredMetricTagsJson(tags),
            R"({"guid":{"dynamic":"INSTANCE_GUID"},"index":{"dynamic":"INDEX"},)"
            R"("source_id":{"static":"app"}})");
  google::protobuf::Map<std::string, std::string> resolved;
  resolved["b"] = "x&y";
  resolved["a"] = "1";
  EXPECT_EQ(ActualMetricTagsJson(resolved), R"({"a":"1","b":"x\u0026y"})");
}

TEST(RowsTest, WritesInternalRoutesPlacementTagsAndTheVersionRecord) {
  google::protobuf::RepeatedPtrField<models::ActualLRPInternalRoute> routes;
  routes.Add()->set_hostname("a.apps.internal");
  routes.Add()->set_hostname("b.apps.internal");
  EXPECT_EQ(InternalRoutesJson(routes),
            R"([{"hostname":"a.apps.internal"},{"hostname":"b.apps.internal"}])");
  google::protobuf::RepeatedPtrField<std::string> tags;
  EXPECT_EQ(PlacementTagsJson(tags), "[]");
  tags.Add("x");
  EXPECT_EQ(PlacementTagsJson(tags), R"(["x"])");
  EXPECT_EQ(VersionJson(1772581987), R"({"CurrentVersion":1772581987})");
  EXPECT_EQ(ParseVersionJson(R"({"CurrentVersion": 42})").value(), 42);
  EXPECT_FALSE(ParseVersionJson("42").ok());
}

TEST(RowsTest, RoundTripsRecordsThroughRows) {
  auto encoder = testing::TestEncoder();
  records::DesiredLRPRecord desired = testing::FullDesiredLrp("pg", 3);
  DesiredRow desired_row = EncodeDesired(desired, *encoder).value();
  records::DesiredLRPRecord desired_back;
  ASSERT_TRUE(DecodeDesired(desired_row, *encoder, &desired_back).ok());
  EXPECT_THAT(desired_back, EqualsProto(desired));

  models::ActualLRP actual = testing::FullActualLrp("pg", 1, models::ActualLRP::SUSPECT, 3);
  ActualRow actual_row = EncodeActual(actual, *encoder);
  EXPECT_EQ(actual_row.presence, 2);
  models::ActualLRP actual_back;
  ASSERT_TRUE(DecodeActual(actual_row, *encoder, &actual_back).ok());
  EXPECT_THAT(actual_back, EqualsProto(actual));

  models::Task task = testing::FullTask("tg", 3);
  TaskRow task_row = EncodeTask(task, *encoder);
  models::Task task_back;
  ASSERT_TRUE(DecodeTask(task_row, *encoder, &task_back).ok());
  EXPECT_THAT(task_back, EqualsProto(task));
}

TEST(RowsTest, ReadsNullAndEmptyOptionalColumnsAsEmpty) {
  auto encoder = testing::TestEncoder();
  ActualRow row = EncodeActual(testing::SmallActualLrp("pg", 0), *encoder);
  row.internal_routes.reset();
  row.metric_tags = encoder->EncodeValue("null");
  models::ActualLRP lrp;
  ASSERT_TRUE(DecodeActual(row, *encoder, &lrp).ok());
  EXPECT_EQ(lrp.actual_lrp_internal_routes_size(), 0);
  EXPECT_EQ(lrp.metric_tags_size(), 0);
}

TEST(RowsTest, DecodingIntoAReusedRecordGivesWhatAFreshRecordGets) {
  // The start-up load decodes row after row into the same records: nothing of an earlier row
  // (routes, tags, net info, the presence of a sub-message) may survive into a later one.
  auto encoder = testing::TestEncoder();
  records::DesiredLRPRecord full = testing::FullDesiredLrp("pg-full", 3);
  ASSERT_TRUE(full.scheduling_info().has_routes());
  records::DesiredLRPRecord bare;
  bare.mutable_scheduling_info()->mutable_desired_lrp_key()->set_process_guid("pg-bare");
  DesiredRow bare_row = EncodeDesired(bare, *encoder).value();
  bare_row.routes.clear();  // no routes column: no routes message
  DesiredRow bare_copy = bare_row;
  records::DesiredLRPRecord fresh;
  ASSERT_TRUE(DecodeDesired(bare_copy, *encoder, &fresh).ok());
  ASSERT_FALSE(fresh.scheduling_info().has_routes());

  records::DesiredLRPRecord reused;
  for (int round = 0; round < 2; ++round) {
    DesiredRow full_row = EncodeDesired(full, *encoder).value();
    ASSERT_TRUE(DecodeDesired(full_row, *encoder, &reused).ok());
    EXPECT_THAT(reused, EqualsProto(full));
    DesiredRow row = bare_row;
    ASSERT_TRUE(DecodeDesired(row, *encoder, &reused).ok());
    EXPECT_THAT(reused, EqualsProto(fresh));
    EXPECT_EQ(reused.SerializeAsString(), fresh.SerializeAsString());
  }

  models::ActualLRP full_actual = testing::FullActualLrp("pg", 1, models::ActualLRP::SUSPECT, 3);
  models::ActualLRP small_actual = testing::SmallActualLrp("pg", 0);
  models::ActualLRP reused_actual;
  for (int round = 0; round < 2; ++round) {
    ActualRow full_row = EncodeActual(full_actual, *encoder);
    ASSERT_TRUE(DecodeActual(full_row, *encoder, &reused_actual).ok());
    EXPECT_THAT(reused_actual, EqualsProto(full_actual));
    ActualRow small_row = EncodeActual(small_actual, *encoder);
    ActualRow small_copy = small_row;
    models::ActualLRP fresh_actual;
    ASSERT_TRUE(DecodeActual(small_copy, *encoder, &fresh_actual).ok());
    ASSERT_TRUE(DecodeActual(small_row, *encoder, &reused_actual).ok());
    EXPECT_THAT(reused_actual, EqualsProto(fresh_actual));
    EXPECT_EQ(reused_actual.SerializeAsString(), fresh_actual.SerializeAsString());
  }
}

}  // namespace
}  // namespace bbs::storage::sql
