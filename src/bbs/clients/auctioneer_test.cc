#include "bbs/clients/auctioneer.h"

#include <gtest/gtest.h>

#include "bbs/clients/fake_peers.h"
#include "bbs/clients/test_util.h"

namespace bbs::clients {
namespace {

using std::chrono::milliseconds;
using testing::CapturingLogSink;
using testing::FakeTransport;
using testing::FindHeader;
using testing::kWait;
using testing::RefusingPort;
using testing::SharedPki;

LrpStartRequest Lrp(std::string process_guid, std::vector<int32_t> indices) {
  LrpStartRequest request;
  request.process_guid = std::move(process_guid);
  request.domain = "cf-apps";
  request.indices = std::move(indices);
  request.root_fs = "preloaded:cflinuxfs4";
  request.memory_mb = 256;
  request.disk_mb = 1024;
  request.max_pids = 1024;
  return request;
}

TaskStartRequest Task(std::string task_guid) {
  TaskStartRequest request;
  request.task_guid = std::move(task_guid);
  request.domain = "cf-tasks";
  request.root_fs = "docker:///busybox";
  return request;
}

HttpAuctioneerOptions FastOptions() {
  HttpAuctioneerOptions options;
  options.timeout = std::chrono::seconds(5);
  options.retry_backoff = milliseconds(1);
  options.shutdown_timeout = std::chrono::seconds(5);
  return options;
}

class AuctioneerTest : public testing::FakePeerTest<FakeAuctioneer> {
 protected:
  std::unique_ptr<HttpAuctioneer> NewAuctioneer(HttpAuctioneerOptions options = FastOptions(),
                                                const std::string& url = "") {
    return testing::CreatedOrNull(
        HttpAuctioneer::Create(url.empty() ? fake_.url() : url, std::move(options), logger()));
  }

  // An auctioneer client whose one sender is stuck in a first request (pg-1 with `trace_id`)
  // that the fake holds until ReleaseHung().
  std::unique_ptr<HttpAuctioneer> NewAuctioneerWithItsSenderHung(const std::string& trace_id) {
    fake_.Script({FakeReply::Hang(202)});
    auto options = FastOptions();
    options.workers = 1;
    auto auctioneer = NewAuctioneer(options);
    auctioneer->RequestLrpAuctions({Lrp("pg-1", {0})}, trace_id);
    EXPECT_TRUE(fake_.WaitForRequests(1, kWait));
    return auctioneer;
  }
};

TEST_F(AuctioneerTest, PostsLrpStartRequestsWithTheTraceId) {
  auto auctioneer = NewAuctioneer();
  auctioneer->RequestLrpAuctions({Lrp("pg-1", {0, 1})}, "trace-1");
  ASSERT_TRUE(fake_.WaitForRequests(1, kWait));

  RecordedRequest request = fake_.requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/v1/lrps");
  EXPECT_EQ(request.Header("Content-Type"), "application/json");
  EXPECT_EQ(request.Header("X-Vcap-Request-Id"), "trace-1");
  EXPECT_EQ(request.body, EncodeLrpStartRequests({Lrp("pg-1", {0, 1})}));
  ASSERT_TRUE(request.json.is_array());
  EXPECT_EQ(request.json[0]["process_guid"], "pg-1");
  EXPECT_EQ(request.json[0]["MemoryMB"], 256);
  EXPECT_TRUE(request.json[0]["PlacementTags"].is_null());
}

TEST_F(AuctioneerTest, PostsTaskStartRequestsWithAnEmptyTraceIdHeader) {
  auto auctioneer = NewAuctioneer();
  auctioneer->RequestTaskAuctions({Task("tg-1")});
  ASSERT_TRUE(fake_.WaitForRequests(1, kWait));

  RecordedRequest request = fake_.requests()[0];
  EXPECT_EQ(request.target, "/v1/tasks");
  EXPECT_EQ(request.Header("Content-Type"), "application/json");
  EXPECT_TRUE(request.HasHeader("X-Vcap-Request-Id"));
  EXPECT_EQ(request.Header("X-Vcap-Request-Id"), "");
  ASSERT_TRUE(request.json.is_array());
  EXPECT_EQ(request.json[0]["TaskGuid"], "tg-1");
  EXPECT_EQ(request.json[0]["state"], "Invalid");
  EXPECT_EQ(request.json[0]["failed"], false);
}

TEST_F(AuctioneerTest, SendingOnceSucceedsOnlyOn202) {
  auto auctioneer = NewAuctioneer();
  EXPECT_TRUE(auctioneer->SendLrpAuctions({Lrp("pg-1", {0})}, "").ok());
  fake_.Script({FakeReply::Respond(200)});
  Status status = auctioneer->SendTaskAuctions({Task("tg-1")});
  EXPECT_EQ(status.message(), "http error: status code 200 (OK)");
  fake_.Script({FakeReply::Respond(500)});
  status = auctioneer->SendLrpAuctions({Lrp("pg-1", {0})}, "");
  EXPECT_EQ(status.message(), "http error: status code 500 (Internal Server Error)");
}

TEST_F(AuctioneerTest, RetriesA500BoundedlyAndLogsTheError) {
  fake_.SetDefaultReply(FakeReply::Respond(500));
  auto auctioneer = NewAuctioneer();
  auctioneer->RequestLrpAuctions({Lrp("pg-1", {0})}, "");
  ASSERT_TRUE(fake_.WaitForRequests(3, kWait));
  auctioneer->Shutdown(kWait);  // drains: the last attempt is logged, nothing is re-queued
  EXPECT_EQ(fake_.request_count(), 3u);
  EXPECT_TRUE(
      sink_->Contains({"failed-to-request-auction",
                       "http error: status code 500 (Internal Server Error)", "\"attempt\":3"}));
  EXPECT_TRUE(sink_->Contains({"retrying-auction-request"}));
}

TEST_F(AuctioneerTest, DoesNotRetryA4xx) {
  fake_.SetDefaultReply(FakeReply::Respond(400));
  auto auctioneer = NewAuctioneer();
  auctioneer->RequestTaskAuctions({Task("tg-1")});
  ASSERT_TRUE(fake_.WaitForRequests(1, kWait));
  auctioneer->Shutdown(kWait);
  EXPECT_EQ(fake_.request_count(), 1u);
  EXPECT_TRUE(sink_->Contains({"failed-requesting-task-auction", "status code 400"}));
}

TEST_F(AuctioneerTest, RetriesATransportErrorBoundedlyWithoutBlockingTheCaller) {
  RefusingPort refusing;
  auto options = FastOptions();
  options.max_retries = 1;
  auto auctioneer = NewAuctioneer(options, refusing.url());
  auctioneer->RequestLrpAuctions({Lrp("pg-1", {0})}, "t");
  auctioneer->RequestTaskAuctions({Task("tg-1")});
  auctioneer->Shutdown(kWait);
  EXPECT_TRUE(sink_->Contains({"failed-to-request-auction", "dial tcp", "\"attempt\":2"}));
  EXPECT_TRUE(sink_->Contains({"failed-requesting-task-auction", "dial tcp", "\"attempt\":2"}));
}

TEST_F(AuctioneerTest, AHungAuctioneerDoesNotBlockTheCaller) {
  auto auctioneer = NewAuctioneerWithItsSenderHung("");
  // The only sender is stuck in the network; the caller is not.
  for (int i = 0; i < 10; ++i) auctioneer->RequestTaskAuctions({Task("tg-" + std::to_string(i))});
  fake_.ReleaseHung();
  ASSERT_TRUE(fake_.WaitForRequests(2, kWait));
}

TEST_F(AuctioneerTest, BatchesRequestsThatWaitForTheSameTargetAndTraceId) {
  auto auctioneer = NewAuctioneerWithItsSenderHung("t1");
  auctioneer->RequestLrpAuctions({Lrp("pg-2", {0})}, "t1");
  auctioneer->RequestTaskAuctions({Task("tg-1")});
  auctioneer->RequestLrpAuctions({Lrp("pg-3", {1, 2})}, "t1");
  auctioneer->RequestLrpAuctions({Lrp("pg-4", {0})}, "t2");
  auctioneer->RequestTaskAuctions({Task("tg-2"), Task("tg-3")});
  fake_.ReleaseHung();
  ASSERT_TRUE(fake_.WaitForRequests(4, kWait));
  auctioneer->Shutdown(kWait);

  auto requests = fake_.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[1].target, "/v1/lrps");
  EXPECT_EQ(requests[1].Header("X-Vcap-Request-Id"), "t1");
  EXPECT_EQ(requests[1].body, EncodeLrpStartRequests({Lrp("pg-2", {0}), Lrp("pg-3", {1, 2})}));
  EXPECT_EQ(requests[2].target, "/v1/tasks");
  EXPECT_EQ(requests[2].body, EncodeTaskStartRequests({Task("tg-1"), Task("tg-2"), Task("tg-3")}));
  EXPECT_EQ(requests[3].Header("X-Vcap-Request-Id"), "t2");
  EXPECT_EQ(requests[3].body, EncodeLrpStartRequests({Lrp("pg-4", {0})}));
}

TEST_F(AuctioneerTest, DropsAndLogsRequestsAfterShutdown) {
  auto auctioneer = NewAuctioneer();
  auctioneer->Shutdown(kWait);
  auctioneer->RequestLrpAuctions({Lrp("pg-1", {0})}, "");
  EXPECT_TRUE(sink_->Contains({"failed-to-request-auction", "shut down"}));
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(AuctioneerTest, ShutdownGivesUpOnAHungRequestAtItsDeadline) {
  fake_.SetDefaultReply(FakeReply::Hang(202));
  auto options = FastOptions();
  options.timeout = std::chrono::seconds(60);
  options.workers = 1;
  auto auctioneer = NewAuctioneer(options);
  auctioneer->RequestLrpAuctions({Lrp("pg-1", {0})}, "");
  ASSERT_TRUE(fake_.WaitForRequests(1, kWait));
  auctioneer->RequestLrpAuctions({Lrp("pg-2", {0})}, "");
  auctioneer->Shutdown(milliseconds(50));  // aborts the hung POST instead of waiting 60 s
  EXPECT_TRUE(sink_->Contains({"dropped-auction-requests", "\"count\":1"}));
  EXPECT_EQ(fake_.request_count(), 1u);
}

TEST_F(AuctioneerTest, FallsBackToPlainHttpWhenTheSecureRequestFails) {
  auto options = FastOptions();
  options.tls.ca_file = SharedPki().ca_file;
  std::string https_url = "https://127.0.0.1:" + std::to_string(fake_.port());
  auto auctioneer = NewAuctioneer(options, https_url);
  EXPECT_TRUE(auctioneer->SendLrpAuctions({Lrp("pg-1", {0})}, "").ok());
  EXPECT_TRUE(sink_->Contains({"retrying-on-http"}));
  EXPECT_EQ(fake_.lrp_requests().size(), 1u);
}

TEST_F(AuctioneerTest, DoesNotFallBackToPlainHttpWhenTlsIsRequired) {
  auto options = FastOptions();
  options.tls.ca_file = SharedPki().ca_file;
  options.require_tls = true;
  std::string https_url = "https://127.0.0.1:" + std::to_string(fake_.port());
  auto auctioneer = NewAuctioneer(options, https_url);
  EXPECT_FALSE(auctioneer->SendLrpAuctions({Lrp("pg-1", {0})}, "").ok());
  EXPECT_EQ(fake_.lrp_requests().size(), 0u);
}

TEST_F(AuctioneerTest, TalksMutualTlsToASecureAuctioneer) {
  const TestPki& pki = SharedPki();
  FakePeerOptions peer;
  peer.cert_file = pki.server_cert_file;
  peer.key_file = pki.server_key_file;
  peer.client_ca_file = pki.ca_file;
  FakeAuctioneer secure(peer);
  ASSERT_TRUE(secure.Start().ok());
  auto options = FastOptions();
  options.tls = {pki.ca_file, pki.client_cert_file, pki.client_key_file};
  options.require_tls = true;
  auto auctioneer = NewAuctioneer(options, secure.url());
  EXPECT_TRUE(auctioneer->SendTaskAuctions({Task("tg-1")}).ok());
  EXPECT_EQ(secure.task_requests().size(), 1u);
}

TEST(AuctioneerCreateTest, RejectsAMissingOrInvalidAddress) {
  Logger logger(LogSink::Null(), "bbs");
  EXPECT_FALSE(HttpAuctioneer::Create("", FastOptions(), logger).ok());
  EXPECT_FALSE(HttpAuctioneer::Create("auctioneer:9016", FastOptions(), logger).ok());
  auto options = FastOptions();
  options.tls.ca_file = "/nonexistent/ca.crt";
  EXPECT_FALSE(HttpAuctioneer::Create("https://a:9016", options, logger).ok());
}

TEST(AuctioneerTransportTest, SendsTheRequestIdHeaderEvenWhenEmptyAndKeepsThePathPrefix) {
  auto transport = std::make_shared<FakeTransport>();
  HttpAuctioneer auctioneer(*ParseUrl("http://auctioneer:9016/prefix"), FastOptions(),
                            Logger(LogSink::Null(), "bbs"), transport);
  EXPECT_TRUE(auctioneer.SendLrpAuctions({Lrp("pg-1", {0})}, "").ok());
  EXPECT_TRUE(auctioneer.SendTaskAuctions({Task("tg-1")}).ok());

  auto requests = transport->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].url, "http://auctioneer:9016/prefix/v1/lrps");
  EXPECT_EQ(requests[1].url, "http://auctioneer:9016/prefix/v1/tasks");
  for (const HttpRequest& request : requests) {
    ASSERT_NE(FindHeader(request.headers, "X-Vcap-Request-Id"), nullptr);
    EXPECT_EQ(*FindHeader(request.headers, "X-Vcap-Request-Id"), "");
    ASSERT_NE(FindHeader(request.headers, "Content-Type"), nullptr);
    EXPECT_EQ(*FindHeader(request.headers, "Content-Type"), "application/json");
  }
  EXPECT_EQ(requests[1].body, EncodeTaskStartRequests({Task("tg-1")}));
}

TEST(AuctioneerTransportTest, RetriesTransportErrorsAnd5xxUntilAccepted) {
  auto transport = std::make_shared<FakeTransport>();
  transport->Script({FakeTransport::Error(TransportError::kTimeout), FakeTransport::Response(503),
                     FakeTransport::Response(202)});
  auto sink = std::make_shared<CapturingLogSink>();
  {
    HttpAuctioneer auctioneer(*ParseUrl("http://a:1"), FastOptions(), Logger(sink, "bbs"),
                              transport);
    auctioneer.RequestLrpAuctions({Lrp("pg-1", {0})}, "");
    auctioneer.Shutdown(kWait);
  }
  EXPECT_EQ(transport->requests().size(), 3u);
  EXPECT_FALSE(sink->Contains({"failed-to-request-auction"}));
}

}  // namespace
}  // namespace bbs::clients
