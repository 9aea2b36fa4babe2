// End-to-end tests of the event streams: the real bbs binary, raw HTTP bytes (chunk framing
// included) read from its event routes while LRPs and tasks change.

#include <openssl/evp.h>

#include <gtest/gtest.h>

#include "bbs/http/test_client.h"
#include "bbs/models/models.h"
#include "bbs/testing/bbs_process.h"

namespace bbs::testing {
namespace {

using namespace std::chrono_literals;

struct SseEvent {
  std::string id, type, data;
};

// Reads raw bytes of one stream and splits them into chunks and SSE events.
class RawStream {
 public:
  RawStream(int port, const std::optional<http::TestClientTls>& tls, const std::string& method,
            const std::string& path, const std::string& body = "")
      : client_(static_cast<uint16_t>(port), tls, 20s) {
    EXPECT_TRUE(client_.StartRequest(method, path, body).ok());
    auto head = client_.ReadUntil("\r\n\r\n");
    EXPECT_TRUE(head.ok());
    if (head.ok()) head_ = *head;
  }

  const std::string& head() const { return head_; }

  // Waits for the next event; checks the chunk framing "<hex>;\r\n<event>\r\n".
  SseEvent Next() {
    auto size_line = client_.ReadUntil(";\r\n");
    EXPECT_TRUE(size_line.ok());
    if (!size_line.ok()) return {};
    size_t size = std::stoul(*size_line, nullptr, 16);
    auto chunk = client_.ReadUntil("\n\n\r\n");
    EXPECT_TRUE(chunk.ok());
    if (!chunk.ok()) return {};
    EXPECT_EQ(chunk->size(), size + 2) << "chunk size must match its content";
    std::string text = chunk->substr(0, chunk->size() - 2);
    SseEvent e;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      std::string line = text.substr(pos, end - pos);
      pos = end + 1;
      if (line.rfind("id: ", 0) == 0) e.id = line.substr(4);
      if (line.rfind("event: ", 0) == 0) e.type = line.substr(7);
      if (line.rfind("data: ", 0) == 0) e.data = Decode(line.substr(6));
    }
    return e;
  }

  // Events until one of type `type` arrives (included).
  std::vector<SseEvent> Until(const std::string& type) {
    std::vector<SseEvent> out;
    for (int i = 0; i < 100; ++i) {
      out.push_back(Next());
      if (out.back().type == type || out.back().type.empty()) break;
    }
    return out;
  }

 private:
  static std::string Decode(const std::string& b64) {
    std::string out(b64.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
    if (n < 0) return "";
    size_t pad = 0;
    if (!b64.empty() && b64.back() == '=') ++pad;
    if (b64.size() > 1 && b64[b64.size() - 2] == '=') ++pad;
    out.resize(static_cast<size_t>(n) - pad);
    return out;
  }

  http::TestClient client_;
  std::string head_;
};

class EventsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bbs_ = std::make_unique<BbsProcess>(BBS_BINARY, dir_.path());
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    client_ = bbs_->NewClient();
  }

  void Post(const std::string& path, const google::protobuf::Message& req) {
    auto r = client_->Send("POST", path, req.SerializeAsString(), {{"X-Vcap-Request-Id", "tr"}});
    ASSERT_TRUE(r.ok());
    models::DesiredLRPLifecycleResponse resp;  // every lifecycle response: error = field 1
    ASSERT_TRUE(resp.ParseFromString(r->body));
    ASSERT_FALSE(resp.has_error()) << path << ": " << resp.error().message();
  }

  void Desire(const std::string& guid) {
    models::DesireLRPRequest req;
    auto* lrp = req.mutable_desired_lrp();
    lrp->set_process_guid(guid);
    lrp->set_domain("cf-apps");
    lrp->set_root_fs("preloaded:cflinuxfs4");
    lrp->set_instances(1);
    lrp->mutable_action()->mutable_run_action()->set_path("/bin/app");
    lrp->mutable_action()->mutable_run_action()->set_user("vcap");
    (*lrp->mutable_metric_tags())["source_id"].set_static_("app");
    Post("/v1/desired_lrp/desire.r2", req);
  }

  void ClaimAndStart(const std::string& guid, const std::string& cell) {
    models::ClaimActualLRPRequest claim;
    claim.set_process_guid(guid);
    claim.mutable_actual_lrp_instance_key()->set_instance_guid("ig-" + cell);
    claim.mutable_actual_lrp_instance_key()->set_cell_id(cell);
    Post("/v1/actual_lrps/claim", claim);
    models::StartActualLRPRequest start;
    start.mutable_actual_lrp_key()->set_process_guid(guid);
    start.mutable_actual_lrp_key()->set_domain("cf-apps");
    *start.mutable_actual_lrp_instance_key() = claim.actual_lrp_instance_key();
    start.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
    Post("/v1/actual_lrps/start.r1", start);
  }

  TempDir dir_;
  std::unique_ptr<BbsProcess> bbs_;
  std::unique_ptr<http::TestClient> client_;
};

TEST_F(EventsE2eTest, TheInstanceStreamCarriesEveryLifecycleEventInOrder) {
  RawStream stream(bbs_->port(), bbs_->client_tls(), "POST", "/v1/events/lrp_instances.r1");
  EXPECT_NE(stream.head().find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(stream.head().find("Content-Type: text/event-stream; charset=utf-8"),
            std::string::npos);
  EXPECT_NE(stream.head().find("Transfer-Encoding: chunked"), std::string::npos);

  Desire("pg-1");
  auto created = stream.Until("actual_lrp_instance_created");
  ASSERT_EQ(created.size(), 2u);
  EXPECT_EQ(created[0].id, "0");
  EXPECT_EQ(created[0].type, "desired_lrp_created");
  models::DesiredLRPCreatedEvent desired;
  ASSERT_TRUE(desired.ParseFromString(created[0].data));
  EXPECT_EQ(desired.desired_lrp().process_guid(), "pg-1");
  EXPECT_EQ(desired.trace_id(), "tr");
  EXPECT_EQ(created[1].id, "1");

  ClaimAndStart("pg-1", "cell-1");
  auto claimed = stream.Next();
  EXPECT_EQ(claimed.type, "actual_lrp_instance_changed");
  auto started = stream.Next();
  ASSERT_EQ(started.type, "actual_lrp_instance_changed");
  models::ActualLRPInstanceChangedEvent changed;
  ASSERT_TRUE(changed.ParseFromString(started.data));
  EXPECT_EQ(changed.before().state(), "CLAIMED");
  EXPECT_EQ(changed.after().state(), "RUNNING");
  EXPECT_EQ(changed.actual_lrp_instance_key().cell_id(), "cell-1");

  models::CrashActualLRPRequest crash;
  crash.mutable_actual_lrp_key()->set_process_guid("pg-1");
  crash.mutable_actual_lrp_key()->set_domain("cf-apps");
  crash.mutable_actual_lrp_instance_key()->set_instance_guid("ig-cell-1");
  crash.mutable_actual_lrp_instance_key()->set_cell_id("cell-1");
  crash.set_error_message("boom");
  Post("/v1/actual_lrps/crash", crash);
  // Crash with an immediate restart: crashed first, then created (UNCLAIMED), removed.
  auto c1 = stream.Next();
  auto c2 = stream.Next();
  auto c3 = stream.Next();
  EXPECT_EQ(c1.type, "actual_lrp_crashed");
  EXPECT_EQ(c2.type, "actual_lrp_instance_created");
  EXPECT_EQ(c3.type, "actual_lrp_instance_removed");
  models::ActualLRPCrashedEvent crashed;
  ASSERT_TRUE(crashed.ParseFromString(c1.data));
  EXPECT_EQ(crashed.crash_count(), 1);
  EXPECT_EQ(crashed.crash_reason(), "boom");
  EXPECT_EQ(crashed.actual_lrp_instance_key().cell_id(), "cell-1");

  models::RemoveDesiredLRPRequest remove;
  remove.set_process_guid("pg-1");
  Post("/v1/desired_lrp/remove", remove);
  auto removed = stream.Until("actual_lrp_instance_removed");
  EXPECT_EQ(removed.front().type, "desired_lrp_removed");
}

TEST_F(EventsE2eTest, ACellFilterPassesDesiredEventsAndOnlyThatCellsInstanceEvents) {
  models::EventsByCellId filter;
  filter.set_cell_id("cell-2");
  RawStream stream(bbs_->port(), bbs_->client_tls(), "POST", "/v1/events/lrp_instances.r1",
                   filter.SerializeAsString());
  Desire("pg-1");  // desired event passes, the UNCLAIMED instance (no cell) does not
  Desire("pg-2");
  ClaimAndStart("pg-1", "cell-1");  // filtered out
  ClaimAndStart("pg-2", "cell-2");  // passes
  auto events = stream.Until("actual_lrp_instance_changed");
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(e.type);
  EXPECT_EQ(types, (std::vector<std::string>{"desired_lrp_created", "desired_lrp_created",
                                             "actual_lrp_instance_changed"}));
  models::ActualLRPInstanceChangedEvent changed;
  ASSERT_TRUE(changed.ParseFromString(events.back().data));
  EXPECT_EQ(changed.actual_lrp_key().process_guid(), "pg-2");
}

TEST_F(EventsE2eTest, TheDeprecatedGroupStreamIsAGetWithABody) {
  RawStream stream(bbs_->port(), bbs_->client_tls(), "GET", "/v1/events.r1", "");
  Desire("pg-1");
  auto events = stream.Until("actual_lrp_created");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "desired_lrp_created");
  models::ActualLRPCreatedEvent group;
  ASSERT_TRUE(group.ParseFromString(events[1].data));
  EXPECT_EQ(group.actual_lrp_group().instance().state(), "UNCLAIMED");
}

TEST_F(EventsE2eTest, TheTaskStreamCarriesTaskEvents) {
  RawStream stream(bbs_->port(), bbs_->client_tls(), "POST", "/v1/events/tasks.r1");
  models::DesireTaskRequest desire;
  desire.set_task_guid("tg-1");
  desire.set_domain("cf-tasks");
  desire.mutable_task_definition()->set_root_fs("docker:///busybox");
  desire.mutable_task_definition()->mutable_action()->mutable_run_action()->set_path("/bin/true");
  desire.mutable_task_definition()->mutable_action()->mutable_run_action()->set_user("root");
  Post("/v1/tasks/desire.r2", desire);
  auto created = stream.Next();
  EXPECT_EQ(created.type, "task_created");
  models::TaskCreatedEvent e;
  ASSERT_TRUE(e.ParseFromString(created.data));
  EXPECT_EQ(e.task().task_guid(), "tg-1");
  models::TaskGuidRequest cancel;
  cancel.set_task_guid("tg-1");
  Post("/v1/tasks/cancel", cancel);
  EXPECT_EQ(stream.Next().type, "task_changed");
}

TEST_F(EventsE2eTest, AnUndecodableFilterGets500) {
  auto r = client_->Send("POST", "/v1/events/lrp_instances.r1", std::string("\x0a\xff", 2));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
}

TEST_F(EventsE2eTest, ShutdownEndsOpenStreamsWithTheLastChunk) {
  http::TestClient raw(static_cast<uint16_t>(bbs_->port()), bbs_->client_tls(), 20s);
  ASSERT_TRUE(raw.StartRequest("POST", "/v1/events/tasks.r1").ok());
  ASSERT_TRUE(raw.ReadUntil("\r\n\r\n").ok());
  EXPECT_EQ(bbs_->Stop(), 0);
  auto rest = raw.ReadToEof();
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(*rest, "0\r\n\r\n");
}

}  // namespace
}  // namespace bbs::testing
