// The event streams over real sockets: a bbs::http::Server whose routes answer with
// StreamHandler, read byte for byte with TestClient's raw mode.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "bbs/api/api.h"
#include "bbs/base/status_matchers.h"
#include "bbs/events/events_test_util.h"
#include "bbs/events/hub.h"
#include "bbs/http/server.h"
#include "bbs/http/test_client.h"
#include "models/common.pb.h"

namespace bbs::events {

using api::StreamHandler;
namespace {

using std::chrono::seconds;

constexpr auto kWait = seconds(20);

constexpr char kHead[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-cache, no-store, must-revalidate\r\n"
    "Connection: keep-alive\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

std::unique_ptr<http::Server> StartServer(Hub* hub) {
  http::Router router;
  router.Add("POST", "/v1/events/lrp_instances.r1", "LRPInstanceEventStream",
             StreamHandler(hub, StreamKind::kLrpInstances));
  router.Add("GET", "/v1/events.r1", "EventStream", StreamHandler(hub, StreamKind::kLrpGroups));
  router.Add("POST", "/v1/events/tasks.r1", "TaskEventStream",
             StreamHandler(hub, StreamKind::kTasks));
  http::ServerOptions options;
  options.threads = 2;
  options.shutdown_timeout = seconds(5);
  auto server = std::make_unique<http::Server>(std::move(options), std::move(router));
  Status status = server->Start();
  EXPECT_THAT(status, IsOk()) << status.ToString();
  server->SetReady(true);
  return server;
}

std::string CellFilter(const std::string& cell_id) {
  models::EventsByCellId filter;
  filter.set_cell_id(cell_id);
  return filter.SerializeAsString();
}

// Opens a stream and reads its head. The subscription exists once the head has arrived.
void Open(http::TestClient& client, std::string_view method, std::string_view path,
          std::string_view body = {}, const http::HeaderList& headers = {}) {
  ASSERT_THAT(client.StartRequest(method, path, body, headers), IsOk());
  auto head = client.ReadUntil("\r\n\r\n");
  ASSERT_THAT(head, IsOk()) << head.status().ToString();
  ASSERT_EQ(*head, kHead);
}

Event AppendixACrash() {
  auto crash = std::make_shared<models::ActualLRPCrashedEvent>();
  crash->mutable_actual_lrp_key()->set_process_guid("pg-1");
  crash->mutable_actual_lrp_key()->set_domain("cf-apps");
  crash->mutable_actual_lrp_instance_key()->set_instance_guid("ig-1");
  crash->mutable_actual_lrp_instance_key()->set_cell_id("cell-1");
  crash->set_crash_count(1);
  crash->set_crash_reason("exit 1");
  crash->set_since(1700000000000000000);
  return Event{EventFamily::kActualLrpInstance, "actual_lrp_crashed", std::move(crash), {"cell-1"}};
}

TEST(EventStreamTest, WritesTheFirstEventOfAppendixAByteForByte) {
  Hub hub;
  auto server = StartServer(&hub);
  http::TestClient client(server->port());
  Open(client, "POST", "/v1/events/lrp_instances.r1");
  hub.Publish({AppendixACrash()});
  auto chunk = client.ReadUntil("\n\n\r\n");
  ASSERT_THAT(chunk, IsOk()) << chunk.status().ToString();
  EXPECT_EQ(*chunk,
            "70;\r\n"
            "id: 0\nevent: actual_lrp_crashed\n"
            "data: Cg8KBHBnLTEaB2NmLWFwcHMSDgoEaWctMRIGY2VsbC0xGAEiBmV4aXQgMSiAgKix45/nyxc=\n\n"
            "\r\n");
  hub.Publish({AppendixACrash()});
  auto second = client.ReadUntil("\n\n\r\n");
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->substr(0, 11), "70;\r\nid: 1\n");
}

TEST(EventStreamTest, FiltersByTheCellIdOfTheRequestBodyButPassesDesiredEvents) {
  Hub hub;
  auto server = StartServer(&hub);
  http::TestClient client(server->port());
  Open(client, "GET", "/v1/events.r1", CellFilter("cell-1"));
  hub.Publish({testing::GroupCreated("elsewhere", "cell-2"), testing::DesiredCreated("d"),
               testing::GroupCreated("here", "cell-1")});
  auto first = client.ReadUntil("\n\n\r\n");
  auto second = client.ReadUntil("\n\n\r\n");
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  const auto events = testing::ParseStream(*first + *second).events;
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "desired_lrp_created");
  EXPECT_EQ(events[0].id, "0");
  EXPECT_EQ(events[1].type, "actual_lrp_created");
  EXPECT_EQ(events[1].id, "1");
  models::ActualLRPCreatedEvent created;
  ASSERT_TRUE(created.ParseFromString(testing::Unbase64(events[1].data)));
  EXPECT_EQ(created.actual_lrp_group().instance().actual_lrp_key().process_guid(), "here");
}

TEST(EventStreamTest, AnswersAnUndecodableFilterWith500AndAnEmptyBody) {
  Hub hub;
  auto server = StartServer(&hub);
  http::TestClient client(server->port());
  auto response = client.Send("POST", "/v1/events/lrp_instances.r1", "\xff\xff\xff");
  ASSERT_THAT(response, IsOk()) << response.status().ToString();
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body, "");
  EXPECT_EQ(hub.subscriber_count(), 0u);
}

TEST(EventStreamTest, TaskStreamsIgnoreTheBody) {
  Hub hub;
  auto server = StartServer(&hub);
  http::TestClient client(server->port());
  Open(client, "POST", "/v1/events/tasks.r1", "\xff\xff\xff");
  EXPECT_EQ(hub.subscriber_count(), 1u);
}

TEST(EventStreamTest, AnswersAClosedHubWith500) {
  Hub hub;
  auto server = StartServer(&hub);
  hub.Close();
  http::TestClient client(server->port());
  auto response = client.Send("POST", "/v1/events/tasks.r1");
  ASSERT_THAT(response, IsOk()) << response.status().ToString();
  EXPECT_EQ(response->status, 500);
}

TEST(EventStreamTest, FreesTheSubscriptionWhenTheClientDisconnects) {
  Hub hub;
  auto server = StartServer(&hub);
  http::TestClient stays(server->port());
  Open(stays, "POST", "/v1/events/tasks.r1");
  {
    http::TestClient leaves(server->port());
    Open(leaves, "POST", "/v1/events/tasks.r1");
    ASSERT_TRUE(hub.WaitForSubscriberCount(2, kWait));
    leaves.Close();
    ASSERT_TRUE(hub.WaitForSubscriberCount(1, kWait));
  }
  hub.Publish({testing::TaskCreated("t")});
  auto event = stays.ReadUntil("\n\n\r\n");
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(testing::ParseStream(*event).events.size(), 1u);
}

TEST(EventStreamTest, HubCloseEndsEveryStreamWithTheLastChunk) {
  Hub hub;
  auto server = StartServer(&hub);
  http::TestClient a(server->port());
  http::TestClient b(server->port());
  Open(a, "POST", "/v1/events/tasks.r1");
  Open(b, "POST", "/v1/events/lrp_instances.r1", CellFilter("cell-9"));
  hub.Publish({testing::TaskCreated("t")});
  ASSERT_THAT(a.ReadUntil("\n\n\r\n"), IsOk());
  hub.Close();
  auto rest_a = a.ReadToEof();
  auto rest_b = b.ReadToEof();
  ASSERT_THAT(rest_a, IsOk());
  ASSERT_THAT(rest_b, IsOk());
  EXPECT_EQ(*rest_a, "0\r\n\r\n");
  EXPECT_EQ(*rest_b, "0\r\n\r\n");
}

TEST(EventStreamTest, ServerShutdownEndsStreamsWithTheLastChunk) {
  Hub hub;
  auto server = StartServer(&hub);
  http::TestClient client(server->port());
  Open(client, "POST", "/v1/events/tasks.r1");
  server->Stop();
  auto rest = client.ReadToEof();
  ASSERT_THAT(rest, IsOk());
  EXPECT_EQ(*rest, "0\r\n\r\n");
  EXPECT_EQ(hub.subscriber_count(), 0u);
}

TEST(EventStreamTest, ReplaysFromTheLastEventIdHeader) {
  HubOptions options;
  options.epoch = "feed";
  Hub hub(options);
  auto server = StartServer(&hub);
  hub.Publish({testing::TaskCreated("1"), testing::TaskCreated("2"), testing::TaskCreated("3")});
  http::TestClient client(server->port());
  Open(client, "POST", "/v1/events/tasks.r1", "", {{"Last-Event-ID", "feed-1"}});
  auto two = client.ReadUntil("id: feed-3\n");
  ASSERT_THAT(two, IsOk()) << two.status().ToString();
  EXPECT_NE(two->find("id: feed-2\n"), std::string::npos);
}

// Reads events (one chunk each) on its own thread and counts them.
class Reader {
 public:
  explicit Reader(http::TestClient* client) : client_(client), thread_([this] { Run(); }) {}
  ~Reader() { thread_.join(); }

  bool WaitCount(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return count_ >= n || done_; }) && count_ >= n;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }

 private:
  void Run() {
    for (;;) {
      auto event = client_->ReadUntil("\n\n\r\n", seconds(60));
      std::lock_guard<std::mutex> lock(mu_);
      if (!event.ok()) {
        done_ = true;
        cv_.notify_all();
        return;
      }
      ++count_;
      cv_.notify_all();
    }
  }

  http::TestClient* client_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t count_ = 0;
  bool done_ = false;
  std::thread thread_;
};

TEST(EventStreamTest, DropsAClientThatStopsReadingWhileAReadingOneKeepsReceiving) {
  HubOptions options;
  options.queue_capacity = 16;  // the socket buffers hold the rest
  Hub hub(options);
  auto server = StartServer(&hub);
  http::TestClient slow(server->port());
  Open(slow, "POST", "/v1/events/lrp_instances.r1");
  auto fast = std::make_unique<http::TestClient>(server->port());
  Open(*fast, "POST", "/v1/events/lrp_instances.r1");
  size_t published = 0;
  {
    Reader reader(fast.get());
    // Ends the reading client's stream (and so the reader) however this block is left.
    struct CloseHub {
      Hub* hub;
      ~CloseHub() { hub->Close(); }
    } close_hub{&hub};
    // Lockstep with the reading client, so only the slow one can fall behind.
    while (hub.stats().dropped_slow == 0 && published < 5000) {
      hub.Publish({testing::DesiredCreated(std::to_string(published), 64 << 10)});
      ++published;
      ASSERT_TRUE(reader.WaitCount(published)) << "after " << published;
    }
    ASSERT_EQ(hub.stats().dropped_slow, 1u) << "published " << published;
    ASSERT_TRUE(hub.WaitForSubscriberCount(1, kWait));
    hub.Publish({testing::DesiredCreated("after-the-drop")});
    ASSERT_TRUE(reader.WaitCount(published + 1));
  }
  auto everything = slow.ReadToEof(seconds(60));
  ASSERT_THAT(everything, IsOk()) << everything.status().ToString();
  const auto parsed = testing::ParseStream(*everything);
  EXPECT_TRUE(parsed.terminated);
  EXPECT_TRUE(parsed.well_formed);
  EXPECT_LT(parsed.events.size(), published);
  EXPECT_GE(parsed.events.size(), 16u);
  for (size_t i = 0; i < parsed.events.size(); ++i) {
    ASSERT_EQ(parsed.events[i].id, std::to_string(i));
  }
}

}  // namespace
}  // namespace bbs::events
