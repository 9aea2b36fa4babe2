#include <gtest/gtest.h>

#include "bbs/base/go_json.h"
#include "bbs/clients/auctioneer.h"
#include "bbs/clients/callbacks.h"
#include "bbs/clients/http_client.h"
#include "bbs/clients/reps.h"

namespace bbs::clients {
namespace {

std::string GoString(std::string_view text) {
  std::string out;
  AppendGoJsonString(out, text);
  return out;
}

TEST(EncodingTest, LrpStartRequestsMatchTheContractExample) {
  LrpStartRequest request;
  request.process_guid = "5b0e-a1";
  request.domain = "cf-apps";
  request.indices = {0, 1};
  request.root_fs = "preloaded:cflinuxfs4";
  request.memory_mb = 256;
  request.disk_mb = 1024;
  request.max_pids = 1024;
  EXPECT_EQ(EncodeLrpStartRequests({request}),
            R"([{"process_guid":"5b0e-a1","domain":"cf-apps","indices":[0,1],)"
            R"("PlacementTags":null,"VolumeDrivers":[],"RootFs":"preloaded:cflinuxfs4",)"
            R"("MemoryMB":256,"DiskMB":1024,"MaxPids":1024}])");
}

TEST(EncodingTest, LrpStartRequestsCarryTagsDriversAndSeveralEntries) {
  LrpStartRequest a;
  a.process_guid = "pg-a";
  a.domain = "d";
  a.indices = {3};
  a.placement_tags = {"iso-1", "iso-2"};
  a.volume_drivers = {"nfs"};
  a.root_fs = "docker:///busybox";
  a.memory_mb = -1;
  LrpStartRequest b;
  b.process_guid = "pg-b";
  EXPECT_EQ(EncodeLrpStartRequests({a, b}),
            R"([{"process_guid":"pg-a","domain":"d","indices":[3],)"
            R"("PlacementTags":["iso-1","iso-2"],"VolumeDrivers":["nfs"],)"
            R"("RootFs":"docker:///busybox","MemoryMB":-1,"DiskMB":0,"MaxPids":0},)"
            R"({"process_guid":"pg-b","domain":"","indices":[],"PlacementTags":null,)"
            R"("VolumeDrivers":[],"RootFs":"","MemoryMB":0,"DiskMB":0,"MaxPids":0}])");
}

TEST(EncodingTest, TaskStartRequestsMatchTheContractExample) {
  TaskStartRequest request;
  request.task_guid = "tg-1";
  request.domain = "cf-tasks";
  request.placement_tags = {"iso-seg"};
  request.root_fs = "docker:///busybox";
  request.memory_mb = 128;
  request.disk_mb = 512;
  request.max_pids = 1024;
  EXPECT_EQ(EncodeTaskStartRequests({request}),
            R"([{"TaskGuid":"tg-1","Domain":"cf-tasks","PlacementTags":["iso-seg"],)"
            R"("VolumeDrivers":[],"RootFs":"docker:///busybox","MemoryMB":128,"DiskMB":512,)"
            R"("MaxPids":1024,"state":"Invalid","failed":false}])");
}

TEST(EncodingTest, TaskStartRequestsWriteNullTagsWhenThereAreNone) {
  TaskStartRequest request;
  request.task_guid = "tg-2";
  request.volume_drivers = {"smb", "nfs"};
  EXPECT_EQ(EncodeTaskStartRequests({request}),
            R"([{"TaskGuid":"tg-2","Domain":"","PlacementTags":null,)"
            R"("VolumeDrivers":["smb","nfs"],"RootFs":"","MemoryMB":0,"DiskMB":0,)"
            R"("MaxPids":0,"state":"Invalid","failed":false}])");
}

TEST(EncodingTest, AnEmptyListEncodesAsAnEmptyArray) {
  EXPECT_EQ(EncodeLrpStartRequests({}), "[]");
  EXPECT_EQ(EncodeTaskStartRequests({}), "[]");
}

TEST(EncodingTest, StringsAreEscapedTheWayGoEscapesThem) {
  EXPECT_EQ(GoString("<a&b>"), R"("\u003ca\u0026b\u003e")");
  EXPECT_EQ(GoString("q\"b\\s"), R"("q\"b\\s")");
  EXPECT_EQ(GoString("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(GoString(std::string("\x01\x1f\x00", 3)), R"("\u0001\u001f\u0000")");
  EXPECT_EQ(GoString("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  EXPECT_EQ(GoString("\xE2\x80\xA8\xE2\x80\xA9"), R"("\u2028\u2029")");
  EXPECT_EQ(GoString("a\xFF"
                     "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(GoString("\xC0\xAF"), R"("\ufffd\ufffd")");            // overlong '/'
  EXPECT_EQ(GoString("\xED\xA0\x80"), R"("\ufffd\ufffd\ufffd")");  // a surrogate
  EXPECT_EQ(GoString("\xE2\x82"), R"("\ufffd\ufffd")");            // truncated
  EXPECT_EQ(GoString("/ ~"), R"("/ ~")");
}

TEST(EncodingTest, StartRequestsEscapeTheirStrings) {
  LrpStartRequest request;
  request.process_guid = "a<b";
  request.root_fs = "x&y";
  request.placement_tags = {"t>"};
  EXPECT_EQ(EncodeLrpStartRequests({request}),
            R"([{"process_guid":"a\u003cb","domain":"","indices":[],)"
            R"("PlacementTags":["t\u003e"],"VolumeDrivers":[],"RootFs":"x\u0026y",)"
            R"("MemoryMB":0,"DiskMB":0,"MaxPids":0}])");
}

TEST(EncodingTest, InstanceUpdatesMatchTheContractExamples) {
  LrpInstanceUpdate update;
  update.instance_guid = "ig-1";
  update.process_guid = "pg-1";
  update.index = 3;
  update.domain = "cf-apps";
  update.internal_routes = std::vector<std::string>{"app.apps.internal"};
  EXPECT_EQ(EncodeLrpInstanceUpdate(update),
            R"({"instance_guid":"ig-1","process_guid":"pg-1","index":3,"domain":"cf-apps",)"
            R"("internal_routes":[{"hostname":"app.apps.internal"}],"metric_tags":null})");

  update.internal_routes.reset();
  update.metric_tags = std::map<std::string, std::string>{
      {"source_id", "a1"}, {"app_id", "a1"}, {"instance_id", "3"}};
  EXPECT_EQ(EncodeLrpInstanceUpdate(update),
            R"({"instance_guid":"ig-1","process_guid":"pg-1","index":3,"domain":"cf-apps",)"
            R"("internal_routes":null,"metric_tags":{"app_id":"a1","instance_id":"3",)"
            R"("source_id":"a1"}})");
}

TEST(EncodingTest, InstanceUpdatesWriteEmptyRoutesAndTagsAsEmptyCollections) {
  LrpInstanceUpdate update;
  update.internal_routes = std::vector<std::string>{};
  update.metric_tags = std::map<std::string, std::string>{};
  EXPECT_EQ(EncodeLrpInstanceUpdate(update),
            R"({"instance_guid":"","process_guid":"","index":0,"domain":"",)"
            R"("internal_routes":[],"metric_tags":{}})");
}

TEST(EncodingTest, TaskCallbacksMatchTheContractExample) {
  EXPECT_EQ(EncodeTaskCallback("tg-1", true, "task was cancelled", "", "", 1700000000000000000),
            R"({"task_guid":"tg-1","failed":true,"failure_reason":"task was cancelled",)"
            R"("result":"","created_at":1700000000000000000})");
}

TEST(EncodingTest, TaskCallbacksCarryTheAnnotationOnlyWhenSet) {
  EXPECT_EQ(EncodeTaskCallback("tg-2", false, "", "out<put>\n", "note&", 42),
            R"({"task_guid":"tg-2","failed":false,"failure_reason":"",)"
            R"("result":"out\u003cput\u003e\n","annotation":"note\u0026","created_at":42})");
}

TEST(UrlTest, ParsesSchemeHostPortPathAndQuery) {
  auto url = ParseUrl("HTTPS://user@cell-1.cell.service.cf.internal:1801/prefix/x?a=b#frag");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "cell-1.cell.service.cf.internal");
  EXPECT_EQ(url->port, 1801);
  EXPECT_TRUE(url->explicit_port);
  EXPECT_EQ(url->path, "/prefix/x");
  EXPECT_EQ(url->query, "a=b");
  EXPECT_EQ(url->Authority(), "cell-1.cell.service.cf.internal:1801");
  EXPECT_EQ(url->Target(), "/prefix/x?a=b");
}

TEST(UrlTest, UsesTheSchemeDefaultPortAndKeepsTheHostHeaderWithoutIt) {
  auto url = ParseUrl("http://auctioneer.service.cf.internal");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->port, 80);
  EXPECT_FALSE(url->explicit_port);
  EXPECT_EQ(url->Authority(), "auctioneer.service.cf.internal");
  EXPECT_EQ(url->Target(), "/");
  EXPECT_EQ(ParseUrl("https://h")->port, 443);
}

TEST(UrlTest, ParsesBracketedIpv6Hosts) {
  auto url = ParseUrl("http://[::1]:9016/v1");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 9016);
  EXPECT_EQ(url->ToString(), "http://[::1]:9016/v1");
}

TEST(UrlTest, RejectsWhatIsNotAnHttpUrl) {
  EXPECT_FALSE(ParseUrl("").ok());
  EXPECT_FALSE(ParseUrl("auctioneer:9016").ok());
  EXPECT_FALSE(ParseUrl("ftp://h/x").ok());
  EXPECT_FALSE(ParseUrl("http:///x").ok());
  EXPECT_FALSE(ParseUrl("http://h:99999").ok());
  EXPECT_FALSE(ParseUrl("http://h:port").ok());
  EXPECT_FALSE(ParseUrl("http://h/a b").ok());
}

TEST(UrlTest, JoinsRoutesOntoABaseUrlWithAPathPrefix) {
  EXPECT_EQ(ParseUrl("http://a:1/prefix/")->WithRoute("/v1/lrps").ToString(),
            "http://a:1/prefix/v1/lrps");
  EXPECT_EQ(ParseUrl("http://a:1")->WithRoute("/v1/lrps").ToString(), "http://a:1/v1/lrps");
}

TEST(StatusTextTest, FormatsUpstreamsHttpErrorText) {
  EXPECT_EQ(HttpStatusError(500), "http error: status code 500 (Internal Server Error)");
  EXPECT_EQ(HttpStatusError(404), "http error: status code 404 (Not Found)");
  EXPECT_EQ(HttpStatusError(599), "http error: status code 599 ()");
}

}  // namespace
}  // namespace bbs::clients
