#include "bbs/cells/cell_presence_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"

namespace bbs::cells {
namespace {

// locket.md §10.3, the current rep's value (one line on the wire).
constexpr char kRepExample[] =
    R"({"cell_id":"cell_z1-0","rep_address":"http://10.0.1.12:1800","zone":"z1",)"
    R"("capacity":{"memory_mb":16384,"disk_mb":102400,"containers":250},)"
    R"("rootfs_provider_list":[{"name":"preloaded","properties":["cflinuxfs4@1.94.0"]},)"
    R"({"name":"preloaded+layer","properties":["cflinuxfs4@1.94.0"]},{"name":"extra"},)"
    R"({"name":"docker"}],)"
    R"("rep_url":"https://cell-z1-0.cell.service.cf.internal:1801"})";

models::CellPresence RepExample() {
  models::CellPresence p;
  p.set_cell_id("cell_z1-0");
  p.set_rep_address("http://10.0.1.12:1800");
  p.set_zone("z1");
  p.mutable_capacity()->set_memory_mb(16384);
  p.mutable_capacity()->set_disk_mb(102400);
  p.mutable_capacity()->set_containers(250);
  models::Provider* preloaded = p.add_rootfs_providers();
  preloaded->set_name("preloaded");
  preloaded->add_properties("cflinuxfs4@1.94.0");
  models::Provider* layer = p.add_rootfs_providers();
  layer->set_name("preloaded+layer");
  layer->add_properties("cflinuxfs4@1.94.0");
  p.add_rootfs_providers()->set_name("extra");
  p.add_rootfs_providers()->set_name("docker");
  p.set_rep_url("https://cell-z1-0.cell.service.cf.internal:1801");
  return p;
}

MATCHER_P(EqualsProto, expected, "equals " + expected.ShortDebugString()) {
  if (arg.SerializeAsString() == expected.SerializeAsString()) return true;
  *result_listener << "got " << arg.ShortDebugString();
  return false;
}

TEST(CellPresenceJsonTest, DecodesTheRepsExample) {
  Result<models::CellPresence> decoded = DecodeCellPresenceJson(kRepExample);
  ASSERT_THAT(decoded, IsOk());
  EXPECT_THAT(*decoded, EqualsProto(RepExample()));
  EXPECT_FALSE(decoded->rootfs_providers(2).properties_size());
}

TEST(CellPresenceJsonTest, EncodesTheRepsExampleByteForByte) {
  EXPECT_EQ(EncodeCellPresenceJson(RepExample()), kRepExample);
}

TEST(CellPresenceJsonTest, EncodesAlwaysPresentKeysOfAnEmptyPresence) {
  EXPECT_EQ(EncodeCellPresenceJson(models::CellPresence()),
            R"({"cell_id":"","rep_address":"","zone":"","rep_url":""})");
}

TEST(CellPresenceJsonTest, EncodesTagsAndSortedAnnotationsInTheRepsKeyOrder) {
  models::CellPresence p;
  p.set_cell_id("c");
  p.add_placement_tags("t1");
  p.add_placement_tags("t2");
  p.add_optional_placement_tags("o1");
  (*p.mutable_annotations())["zeta"] = "1";
  (*p.mutable_annotations())["alpha"] = "2";
  p.mutable_capacity();
  EXPECT_EQ(EncodeCellPresenceJson(p),
            R"({"cell_id":"c","rep_address":"","zone":"",)"
            R"("capacity":{"memory_mb":0,"disk_mb":0,"containers":0},)"
            R"("placement_tags":["t1","t2"],"optional_placement_tags":["o1"],"rep_url":"",)"
            R"("annotations":{"alpha":"2","zeta":"1"}})");
}

TEST(CellPresenceJsonTest, EscapesStringsTheWayGoDoes) {
  models::CellPresence p;
  p.set_cell_id("a\"b\\c<d>e&f\n\t\x01 \xe2\x80\xa8 \xff \xc3\xa9");
  std::string json = EncodeCellPresenceJson(p);
  EXPECT_EQ(json.substr(0, json.find(",\"rep_address\"")),
            R"({"cell_id":"a\"b\\c\u003cd\u003ee\u0026f\n\t\u0001 \u2028 \ufffd )"
            "\xc3\xa9\"");
}

TEST(CellPresenceJsonTest, RoundTripsEveryField) {
  models::CellPresence p = RepExample();
  p.add_placement_tags("gpu");
  p.add_optional_placement_tags("ssd");
  (*p.mutable_annotations())["team"] = "diego";
  Result<models::CellPresence> decoded = DecodeCellPresenceJson(EncodeCellPresenceJson(p));
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->ShortDebugString(), p.ShortDebugString());
}

TEST(CellPresenceJsonTest, MatchesKeysCaseInsensitivelyAndIgnoresUnknownKeys) {
  Result<models::CellPresence> decoded = DecodeCellPresenceJson(
      R"({"Cell_ID":"c1","REP_URL":"https://x:1801","future":{"a":[1,2]},)"
      R"("Capacity":{"Memory_MB":5,"other":true},"Rootfs_Provider_List":[{"NAME":"docker"}]})");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->cell_id(), "c1");
  EXPECT_EQ(decoded->rep_url(), "https://x:1801");
  EXPECT_EQ(decoded->capacity().memory_mb(), 5);
  ASSERT_EQ(decoded->rootfs_providers_size(), 1);
  EXPECT_EQ(decoded->rootfs_providers(0).name(), "docker");
}

TEST(CellPresenceJsonTest, LeavesMissingAndNullFieldsEmpty) {
  Result<models::CellPresence> decoded = DecodeCellPresenceJson(
      R"({"cell_id":"c1","zone":null,"capacity":null,"placement_tags":null,"annotations":{}})");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->cell_id(), "c1");
  EXPECT_EQ(decoded->zone(), "");
  EXPECT_FALSE(decoded->has_capacity());
  EXPECT_EQ(decoded->placement_tags_size(), 0);
  EXPECT_TRUE(decoded->annotations().empty());
  ASSERT_THAT(DecodeCellPresenceJson("null"), IsOk());
  EXPECT_EQ(DecodeCellPresenceJson(" null ")->cell_id(), "");
}

TEST(CellPresenceJsonTest, TheLastOfARepeatedKeyWins) {
  Result<models::CellPresence> decoded =
      DecodeCellPresenceJson(R"({"cell_id":"first","CELL_ID":"second"})");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->cell_id(), "second");
}

TEST(CellPresenceJsonTest, RejectsMalformedJsonAndValuesOfTheWrongType) {
  for (const char* bad : {"",
                          "not json",
                          "{",
                          R"({"cell_id":"a"} x)",
                          "[]",
                          R"("text")",
                          "5",
                          R"({"cell_id":5})",
                          R"({"zone":true})",
                          R"({"capacity":[]})",
                          R"({"capacity":{"memory_mb":"5"}})",
                          R"({"capacity":{"disk_mb":1.5}})",
                          R"({"capacity":{"containers":2147483648}})",
                          R"({"capacity":{"containers":-2147483649}})",
                          R"({"rootfs_provider_list":{}})",
                          R"({"rootfs_provider_list":["docker"]})",
                          R"({"rootfs_provider_list":[{"properties":"x"}]})",
                          R"({"placement_tags":"gpu"})",
                          R"({"optional_placement_tags":[1]})",
                          R"({"annotations":{"a":1}})",
                          R"({"annotations":[]})"}) {
    Result<models::CellPresence> decoded = DecodeCellPresenceJson(bad);
    EXPECT_FALSE(decoded.ok()) << bad;
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), ErrorCode::kInvalidJson) << bad;
    }
  }
}

TEST(CellPresenceJsonTest, AcceptsTheInt32Limits) {
  Result<models::CellPresence> decoded = DecodeCellPresenceJson(
      R"({"capacity":{"memory_mb":2147483647,"disk_mb":-2147483648,"containers":-0}})");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->capacity().memory_mb(), 2147483647);
  EXPECT_EQ(decoded->capacity().disk_mb(), -2147483647 - 1);
  EXPECT_EQ(decoded->capacity().containers(), 0);
}

TEST(CellSetFromPresencesTest, SkipsUndecodableValuesAndKeysByTheJsonCellId) {
  std::vector<LocketResource> presences = {
      {"key-z", "o1", R"({"cell_id":"cell-b","zone":"old"})", ResourceType::kPresence},
      {"key-y", "o2", "garbage", ResourceType::kPresence},
      {"key-x", "o3", R"({"cell_id":"cell-a"})", ResourceType::kPresence},
      {"key-w", "o4", R"({"cell_id":"cell-b","zone":"new"})", ResourceType::kPresence},
  };
  std::vector<models::CellPresence> cells =
      CellSetFromPresences(presences, Logger(LogSink::Null(), "bbs"));
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].cell_id(), "cell-a");
  EXPECT_EQ(cells[1].cell_id(), "cell-b");
  EXPECT_EQ(cells[1].zone(), "new");
}

TEST(CellSetFromPresencesTest, CellPresenceFromResourceTurnsDecodeErrorsIntoUnknownError) {
  Result<models::CellPresence> decoded =
      CellPresenceFromResource({"k", "o", "{", ResourceType::kPresence});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), ErrorCode::kUnknownError);
  EXPECT_THAT(CellPresenceFromResource({"k", "o", kRepExample, ResourceType::kPresence}), IsOk());
}

}  // namespace
}  // namespace bbs::cells
