// High availability with real bbs processes (docs/ha.md): two processes contend for the leader
// lock — a flock beside one SQLite file, or the `bbs` lock in an external Locket (served here by
// an in-process Locket gRPC server). Exactly one is active; the passive does not listen on its
// API port; killing the active makes the passive take over with every acknowledged write.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbs/base/clock.h"
#include "bbs/cells/cell_presence_json.h"
#include "bbs/cells/locket_client.h"
#include "bbs/cells/locket_service.h"
#include "bbs/cells/presence_registry.h"
#include "bbs/http/test_client.h"
#include "bbs/models/models.h"
#include "bbs/storage/mysql/mysql_test_util.h"
#include "bbs/storage/postgres/postgres_test_util.h"
#include "bbs/storage/tcp_proxy_test_util.h"
#include "bbs/testing/bbs_process.h"
#include "bbs/testing/ha_helpers.h"

namespace bbs::testing {
namespace {

using namespace std::chrono_literals;

int PortOf(const std::string& address) {
  return std::atoi(address.substr(address.rfind(':') + 1).c_str());
}

// True when the desire was acknowledged; a refusal with an HTTP answer is a test failure.
bool Desire(http::TestClient& client, const std::string& guid) {
  std::string why;
  bool ok = DesireLrp(client, guid, &why);
  if (!ok && why.starts_with("HTTP ")) ADD_FAILURE() << why;
  return ok;
}

std::set<std::string> DesiredGuids(int port) {
  std::string why;
  std::set<std::string> out = ListDesiredGuids(port, &why);
  EXPECT_TRUE(why.empty()) << why;
  return out;
}

class HaE2eTest : public ::testing::Test {
 protected:
  // A bbs on the shared data directory with a fixed API port and, optionally, a JSON config.
  std::unique_ptr<BbsProcess> MakeBbs(int api_port, const nlohmann::json& config = nullptr) {
    std::vector<std::string> args = {"-address=127.0.0.1:" + std::to_string(api_port)};
    if (!config.is_null() && config.contains("database_driver")) {
      // The flags BbsProcess passes (sqlite in the data directory) win over a config file.
      args.push_back("-databaseDriver=" + config["database_driver"].get<std::string>());
      args.push_back("-databaseConnectionString=" +
                     config["database_connection_string"].get<std::string>());
    }
    if (!config.is_null()) {
      std::string path = dir_.path() + "/config-" + std::to_string(api_port) + ".json";
      std::ofstream(path) << config.dump();
      args.push_back("-config=" + path);
    }
    return std::make_unique<BbsProcess>(BBS_BINARY, dir_.path(), args);
  }

  // Waits until `bbs` logged that it waits for the lock and returns its health port.
  static int WaitUntilPassive(BbsProcess& bbs, const std::string& waiting_line) {
    std::string line;
    EXPECT_TRUE(bbs.WaitForLine("\"bbs.acquiring-lock\"", 30000, &line));
    auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_TRUE(bbs.WaitForLine(waiting_line, 30000, &line)) << waiting_line;
    return j.is_discarded() ? 0 : PortOf(j["data"]["health_address"].get<std::string>());
  }

  static bool Logged(BbsProcess& bbs, const std::string& needle) {
    for (const auto& line : bbs.Lines()) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  // The built-in Locket's address of `bbs` (from its bbs.acquiring-lock line).
  static std::string LocketAddressOf(BbsProcess& bbs) {
    std::string line;
    EXPECT_TRUE(bbs.WaitForLine("\"bbs.acquiring-lock\"", 30000, &line));
    auto j = nlohmann::json::parse(line, nullptr, false);
    return j.is_discarded() ? "" : j["data"]["locket_listen_address"].get<std::string>();
  }

  static std::unique_ptr<cells::LocketClient> LocketClientOf(BbsProcess& bbs) {
    cells::LocketClientOptions options;
    options.address = LocketAddressOf(bbs);
    auto client = cells::LocketClient::Create(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // The built-in Locket keeps its records in the store's database (docs/ha.md): a cell that
  // registered its presence through the active's Locket is seen through the passive's at once,
  // and after the active is killed the new active's convergence counts it as present (its
  // instance is not made suspect). `a` is started and active, `b` launched and passive.
  void ExpectACellPresenceToSurviveTheTakeover(BbsProcess& a, BbsProcess& b, int b_port) {
    auto locket_a = LocketClientOf(a);
    auto locket_b = LocketClientOf(b);
    ASSERT_TRUE(locket_a && locket_b);
    models::CellPresence cell;
    cell.set_cell_id("cell-1");
    cell.set_zone("z1");
    cell.set_rep_url("https://cell-1.cell.service.cf.internal:1801");
    cells::LocketResource presence{"cell-1", "rep-guid-1", cells::EncodeCellPresenceJson(cell),
                                   cells::ResourceType::kPresence};
    ASSERT_TRUE(locket_a->Lock(presence, 15, {5000ms, false, ""}).ok());
    auto seen = locket_b->Fetch("cell-1", {5000ms, false, ""});
    ASSERT_TRUE(seen.ok()) << seen.status().ToString();
    EXPECT_EQ(seen->owner, "rep-guid-1");
    // The rep's next refresh may land on either process: it is the same record.
    EXPECT_TRUE(locket_b->Lock(presence, 15, {5000ms, false, ""}).ok());
    EXPECT_EQ(locket_b
                  ->Lock({"cell-1", "rep-guid-2", "", cells::ResourceType::kPresence}, 15,
                         {5000ms, false, ""})
                  .code(),
              ErrorCode::kLockCollision);

    // One instance RUNNING on cell-1.
    {
      http::TestClient api(static_cast<uint16_t>(a.port()));
      ASSERT_TRUE(Desire(api, "pg-on-cell-1"));
      models::ActualLRPInstanceKey ik;
      ik.set_instance_guid("ig-1");
      ik.set_cell_id("cell-1");
      models::StartActualLRPRequest start;
      start.mutable_actual_lrp_key()->set_process_guid("pg-on-cell-1");
      start.mutable_actual_lrp_key()->set_index(0);
      start.mutable_actual_lrp_key()->set_domain("cf-apps");
      *start.mutable_actual_lrp_instance_key() = ik;
      start.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
      auto r = api.Send("POST", "/v1/actual_lrps/start.r1", start.SerializeAsString(),
                        {{"Content-Type", "application/x-protobuf"}});
      models::ActualLRPLifecycleResponse resp;
      ASSERT_TRUE(r.ok() && r->status == 200 && resp.ParseFromString(r->body));
      ASSERT_FALSE(resp.has_error()) << resp.error().message();
    }

    a.Kill();
    ASSERT_TRUE(b.WaitUntilServing(30000)) << b.error();
    auto after = locket_b->Fetch("cell-1", {5000ms, false, ""});
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    EXPECT_EQ(after->owner, "rep-guid-1");
    std::string line;
    ASSERT_TRUE(b.WaitForLine("converge-lrps-done", 20000, &line));
    auto pass = nlohmann::json::parse(line)["data"];
    EXPECT_EQ(pass["PresentCells"], 1) << line;
    EXPECT_EQ(pass["SuspectCells"], 0) << line;
    EXPECT_EQ(pass["SuspectRunningActualLRPs"], 0) << line;
    EXPECT_EQ(pass["LRPsRunning"], 1) << line;
    http::TestClient api(static_cast<uint16_t>(b_port));
    auto r =
        api.Send("POST", "/v1/cells/list.r1", "", {{"Content-Type", "application/x-protobuf"}});
    models::CellsResponse cells_resp;
    ASSERT_TRUE(r.ok() && r->status == 200 && cells_resp.ParseFromString(r->body));
    ASSERT_EQ(cells_resp.cells_size(), 1);
    EXPECT_EQ(cells_resp.cells(0).cell_id(), "cell-1");
  }

  TempDir dir_;
};

// --- SQLite: the flock beside the database ---------------------------------------------------

constexpr char kFileLockWaiting[] = "\"bbs.file-lock.waiting-for-lock\"";

TEST_F(HaE2eTest, OnOneSqliteFileOneProcessIsActiveAndThePassiveDoesNotListenOnItsApiPort) {
  int active_port = FreePort();
  auto active = MakeBbs(active_port);
  ASSERT_TRUE(active->Start()) << active->error();
  EXPECT_TRUE(Logged(*active, "\"bbs.file-lock.acquired-lock\""));
  // The start-up lines upstream's integration suite waits for (behavior.md §9.2).
  EXPECT_TRUE(Logged(*active, "\"bbs.migration-manager.finished-migrations\""));
  EXPECT_TRUE(Logged(*active, "\"bbs.encryptor.encryption-finished\""));
  // Exactly one such line (the stores used to log their own as well).
  int encryption_lines = 0;
  for (const auto& line : active->Lines()) {
    if (line.find("encryption-finished") != std::string::npos) ++encryption_lines;
  }
  EXPECT_EQ(encryption_lines, 1);

  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port);
  ASSERT_TRUE(passive->Launch());
  int health_port = WaitUntilPassive(*passive, kFileLockWaiting);
  ASSERT_GT(health_port, 0);

  EXPECT_TRUE(ConnectionRefused(passive_port));
  http::TestClient health(static_cast<uint16_t>(health_port));
  auto ping = health.Send("GET", "/ping");
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  EXPECT_EQ(ping->status, 200);
  EXPECT_FALSE(Logged(*passive, "\"bbs.started\""));
  http::TestClient api(static_cast<uint16_t>(active_port));
  EXPECT_TRUE(Desire(api, "pg-on-the-active"));

  // A passive stops cleanly on SIGTERM while it waits.
  EXPECT_EQ(passive->Stop(), 0);
}

TEST_F(HaE2eTest, KillingTheActiveUnderWritesLetsThePassiveServeEveryAcknowledgedWrite) {
  int active_port = FreePort();
  auto active = MakeBbs(active_port);
  ASSERT_TRUE(active->Start()) << active->error();
  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port);
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive, kFileLockWaiting);

  // Writers keep desiring LRPs until the active disappears under them.
  AcknowledgedWrites writes(active_port, 4);
  EXPECT_TRUE(writes.WaitFor(200, 30s));
  active->Kill();  // SIGKILL: no release, no clean-up
  std::set<std::string> acknowledged = writes.Stop();
  EXPECT_THAT(writes.http_refusals(), ::testing::IsEmpty());

  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  EXPECT_EQ(passive->port(), passive_port);
  EXPECT_TRUE(Logged(*passive, "\"bbs.file-lock.acquired-lock\""));
  std::string durations;
  EXPECT_TRUE(passive->WaitForLine("\"bbs.start-up-durations\"", 10000, &durations));
  std::set<std::string> present = DesiredGuids(passive_port);
  for (const auto& guid : acknowledged) {
    EXPECT_TRUE(present.count(guid)) << guid << " was acknowledged but lost";
  }
  http::TestClient api(static_cast<uint16_t>(passive_port));
  EXPECT_TRUE(Desire(api, "pg-after-takeover"));
}

TEST_F(HaE2eTest, AGracefulStopReleasesTheLockAndThePassiveTakesOver) {
  auto active = MakeBbs(FreePort());
  ASSERT_TRUE(active->Start()) << active->error();
  {
    http::TestClient api(static_cast<uint16_t>(active->port()));
    ASSERT_TRUE(Desire(api, "pg-1"));
  }
  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port);
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive, kFileLockWaiting);

  EXPECT_EQ(active->Stop(), 0);
  EXPECT_TRUE(Logged(*active, "\"bbs.file-lock.released-lock\""));
  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  EXPECT_EQ(DesiredGuids(passive_port), std::set<std::string>{"pg-1"});
}

// What the route-emitter sees: its event stream ends when the active dies, and a new
// subscription to the new active works (events in between must be re-synced by listing).
TEST_F(HaE2eTest, AnEventStreamEndsWhenTheActiveDiesAndResubscribingReachesTheNewActive) {
  auto active = MakeBbs(FreePort());
  ASSERT_TRUE(active->Start()) << active->error();
  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port);
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive, kFileLockWaiting);

  http::TestClient stream(static_cast<uint16_t>(active->port()));
  ASSERT_TRUE(stream.StartRequest("POST", "/v1/events/lrp_instances.r1").ok());
  auto head = stream.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_NE(head->find("200"), std::string::npos) << *head;

  active->Kill();
  auto rest = stream.ReadToEof(10s);
  EXPECT_TRUE(rest.ok() || rest.status().code() != ErrorCode::kTimeout)
      << "the stream outlived the active";

  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  http::TestClient again(static_cast<uint16_t>(passive_port));
  ASSERT_TRUE(again.StartRequest("POST", "/v1/events/lrp_instances.r1").ok());
  auto again_head = again.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(again_head.ok()) << again_head.status().ToString();
  EXPECT_NE(again_head->find("200"), std::string::npos) << *again_head;
  http::TestClient api(static_cast<uint16_t>(passive_port));
  ASSERT_TRUE(Desire(api, "pg-seen-by-the-new-stream"));
  auto event = again.ReadUntil("actual_lrp_instance_created", 10s);
  EXPECT_TRUE(event.ok()) << event.status().ToString();
}

// SQLite's guarantee is single-host flock semantics: a stopped (or hung) active keeps its flock,
// so the passive must not take over — no split brain, at the price of no failover until the
// active dies.
TEST_F(HaE2eTest, AStoppedActiveKeepsItsFlockSoThePassiveWaits) {
  int active_port = FreePort();
  auto active = MakeBbs(active_port);
  ASSERT_TRUE(active->Start()) << active->error();
  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port);
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive, kFileLockWaiting);

  ASSERT_EQ(kill(active->pid(), SIGSTOP), 0);
  std::string line;
  EXPECT_FALSE(passive->WaitForLine("\"bbs.file-lock.acquired-lock\"", 1500, &line))
      << "the passive took over from a stopped active";
  EXPECT_TRUE(ConnectionRefused(passive_port));
  ASSERT_EQ(kill(active->pid(), SIGCONT), 0);
  http::TestClient api(static_cast<uint16_t>(active_port));
  EXPECT_TRUE(Desire(api, "pg-still-active"));

  // The passive was waiting all along: it takes over as soon as the active really dies.
  active->Kill();
  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  EXPECT_TRUE(DesiredGuids(passive_port).count("pg-still-active"));
}

TEST_F(HaE2eTest, ACellRegisteredThroughTheOldActiveIsPresentForTheNewOne) {
  nlohmann::json config = {{"locket_listen_address", "127.0.0.1:0"},
                           {"converge_repeat_interval", "200ms"}};
  auto active = MakeBbs(FreePort(), config);
  ASSERT_TRUE(active->Start()) << active->error();
  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port, config);
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive, kFileLockWaiting);
  ExpectACellPresenceToSurviveTheTakeover(*active, *passive, passive_port);
}

// --- An external Locket ------------------------------------------------------------------

class HaLocketE2eTest : public HaE2eTest {
 protected:
  void SetUp() override {
    registry_ = std::make_unique<cells::PresenceRegistry>(&clock_, Logger(LogSink::Null(), "t"));
    server_ = std::make_unique<cells::LocketServer>(registry_.get(), Logger(LogSink::Null(), "t"));
    ASSERT_TRUE(server_->Start(cells::LocketServerOptions{"127.0.0.1:0", std::nullopt}).ok());
    address_ = "127.0.0.1:" + std::to_string(server_->port());
    cells::LocketClientOptions options;
    options.address = address_;
    auto client = cells::LocketClient::Create(options);
    ASSERT_TRUE(client.ok());
    locket_ = std::move(*client);
  }
  void TearDown() override { server_->Stop(); }

  nlohmann::json Config(const std::string& uuid) const {
    return {{"uuid", uuid},
            {"locket_address", address_},
            {"lock_ttl", "1s"},
            {"lock_retry_interval", "100ms"}};
  }

  std::string LockOwner() {
    auto fetched = locket_->Fetch("bbs", {2000ms, false, ""});
    return fetched.ok() ? fetched->owner : fetched.status().ToString();
  }

  SystemClock clock_;
  std::unique_ptr<cells::PresenceRegistry> registry_;
  std::unique_ptr<cells::LocketServer> server_;
  std::string address_;
  std::unique_ptr<cells::LocketClient> locket_;
};

TEST_F(HaLocketE2eTest, TheActiveHoldsTheBbsLockAsItsUuidAndThePassiveDoesNotListen) {
  auto active = MakeBbs(FreePort(), Config("bbs-uuid-a"));
  ASSERT_TRUE(active->Start()) << active->error();
  EXPECT_EQ(LockOwner(), "bbs-uuid-a");
  auto fetched = locket_->Fetch("bbs");
  ASSERT_TRUE(fetched.ok());
  EXPECT_EQ(fetched->type, cells::ResourceType::kLock);
  EXPECT_TRUE(Logged(*active, "\"bbs.locket-lock.acquired-lock\""));

  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port, Config("bbs-uuid-b"));
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive, "\"bbs.locket-lock.failed-to-acquire-lock\"");
  // What upstream's master_lock_test waits for before checking the passive is unreachable.
  EXPECT_TRUE(Logged(*passive, "\"bbs.locket-lock.started\""));
  EXPECT_TRUE(ConnectionRefused(passive_port));
  EXPECT_EQ(LockOwner(), "bbs-uuid-a");

  // Graceful stop releases the lock in Locket; the passive takes it at its next retry.
  EXPECT_EQ(active->Stop(), 0);
  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  EXPECT_EQ(LockOwner(), "bbs-uuid-b");
}

TEST_F(HaLocketE2eTest, LosingLocketEndsTheActiveWithANonZeroExit) {
  auto active = MakeBbs(FreePort(), Config("bbs-uuid-a"));
  ASSERT_TRUE(active->Start()) << active->error();
  server_->Stop();
  int status = active->WaitForExit(20000);
  EXPECT_NE(status, -1) << "still running after Locket went away";
  EXPECT_EQ(status, 1);
  EXPECT_TRUE(Logged(*active, "\"bbs.locket-lock.lost-lock\""));
  EXPECT_TRUE(Logged(*active, "\"bbs.lost-lock-exiting\""));
}

TEST_F(HaLocketE2eTest, KillingTheActiveLetsThePassiveTakeTheLockOnceItsTtlRanOut) {
  auto active = MakeBbs(FreePort(), Config("bbs-uuid-a"));
  ASSERT_TRUE(active->Start()) << active->error();
  {
    http::TestClient api(static_cast<uint16_t>(active->port()));
    ASSERT_TRUE(Desire(api, "pg-1"));
  }
  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port, Config("bbs-uuid-b"));
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive, "\"bbs.locket-lock.failed-to-acquire-lock\"");

  active->Kill();
  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  EXPECT_EQ(LockOwner(), "bbs-uuid-b");
  EXPECT_EQ(DesiredGuids(passive_port), std::set<std::string>{"pg-1"});
}

// --- PostgreSQL without Locket: the lease row (docs/ha.md §"Store locks") -------------------

enum class SqlEngine { kPostgres, kMysql };

// The lease-row tests run on both engines; the fixture of the health-check test is PostgreSQL.
class HaSqlE2eTest : public HaE2eTest, public ::testing::WithParamInterface<SqlEngine> {
 protected:
  void SetUp() override { SetUpEngine(GetParam()); }

  void SetUpEngine(SqlEngine engine) {
    engine_ = engine;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string seed = std::string("ha_") + info->name();
    for (char& c : seed) {
      if (c == '/') c = '_';
    }
    if (engine == SqlEngine::kPostgres) {
      if (storage::testing::PostgresTestUrl().empty()) {
        GTEST_SKIP() << "BBS_TEST_POSTGRES_URL is not set (scripts/servers/postgres.sh)";
      }
      url_ = storage::testing::PostgresUrlWithFreshSchema(seed);
    } else {
      if (storage::testing::MysqlTestDsn().empty()) {
        GTEST_SKIP() << "BBS_TEST_MYSQL_URL is not set (scripts/servers/mariadb.sh)";
      }
      url_ = storage::testing::MysqlDsnWithFreshDatabase(seed);
    }
  }

  nlohmann::json Config(const std::string& uuid) const {
    return {{"uuid", uuid},
            {"database_driver", engine_ == SqlEngine::kPostgres ? "postgres" : "mysql"},
            {"database_connection_string", url_},
            {"encryption_keys", {{"k1", "a passphrase for the ha test"}}},
            {"active_key_label", "k1"},
            {"lock_ttl", "1s"},
            {"lock_retry_interval", "100ms"}};
  }

  SqlEngine engine_ = SqlEngine::kPostgres;
  std::string url_;
};

class HaPostgresE2eTest : public HaSqlE2eTest {
 protected:
  void SetUp() override { SetUpEngine(SqlEngine::kPostgres); }
};

constexpr char kSqlLockWaiting[] = "\"bbs.sql-lock.waiting-for-lock\"";

TEST_P(HaSqlE2eTest, ACellRegisteredThroughTheOldActiveIsPresentForTheNewOne) {
  auto config = [&](const std::string& uuid) {
    nlohmann::json c = Config(uuid);
    c["locket_listen_address"] = "127.0.0.1:0";
    c["converge_repeat_interval"] = "200ms";
    return c;
  };
  auto active = MakeBbs(FreePort(), config("bbs-uuid-a"));
  ASSERT_TRUE(active->Start()) << active->error();
  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port, config("bbs-uuid-b"));
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive, kSqlLockWaiting);
  ExpectACellPresenceToSurviveTheTakeover(*active, *passive, passive_port);
}

TEST_P(HaSqlE2eTest, KillingTheActiveUnderWritesLetsThePassiveServeEveryAcknowledgedWrite) {
  int active_port = FreePort();
  auto active = MakeBbs(active_port, Config("bbs-uuid-a"));
  ASSERT_TRUE(active->Start()) << active->error();
  EXPECT_TRUE(Logged(*active, "\"bbs.sql-lock.acquired-lock\""));
  EXPECT_TRUE(Logged(*active, "\"bbs.migration-manager.finished-migrations\""));
  EXPECT_TRUE(Logged(*active, "\"bbs.encryptor.encryption-finished\""));
  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port, Config("bbs-uuid-b"));
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive, kSqlLockWaiting);
  EXPECT_TRUE(ConnectionRefused(passive_port));
  EXPECT_FALSE(Logged(*passive, "\"bbs.started\""));

  // Writers keep desiring LRPs until the active disappears under them.
  AcknowledgedWrites writes(active_port, 4);
  EXPECT_TRUE(writes.WaitFor(100, 30s));
  active->Kill();  // SIGKILL: the lease is not released; the passive waits out its TTL
  std::set<std::string> acknowledged = writes.Stop();
  EXPECT_THAT(writes.http_refusals(), ::testing::IsEmpty());

  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  EXPECT_TRUE(Logged(*passive, "\"bbs.sql-lock.acquired-lock\""));
  std::set<std::string> present = DesiredGuids(passive_port);
  for (const auto& guid : acknowledged) {
    EXPECT_TRUE(present.count(guid)) << guid << " was acknowledged but lost";
  }
  http::TestClient api(static_cast<uint16_t>(passive_port));
  EXPECT_TRUE(Desire(api, "pg-after-takeover"));
}

TEST_P(HaSqlE2eTest, AStoppedActiveIsReplacedAndExitsWhenItResumes) {
  int active_port = FreePort();
  auto active = MakeBbs(active_port, Config("bbs-uuid-a"));
  ASSERT_TRUE(active->Start()) << active->error();
  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port, Config("bbs-uuid-b"));
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive, kSqlLockWaiting);

  // Unlike the flock, the lease lapses while the holder is stopped: the passive takes over.
  ASSERT_EQ(kill(active->pid(), SIGSTOP), 0);
  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  http::TestClient api(static_cast<uint16_t>(passive_port));
  EXPECT_TRUE(Desire(api, "pg-on-the-successor"));

  // The old active resumes: its renewal finds the row taken (or a commit is fenced off), and
  // it exits with the lost-lock status.
  ASSERT_EQ(kill(active->pid(), SIGCONT), 0);
  int status = active->WaitForExit(20000);
  EXPECT_EQ(status, 1);
  EXPECT_TRUE(Logged(*active, "\"bbs.lost-lock-exiting\""));
  EXPECT_TRUE(DesiredGuids(passive_port).count("pg-on-the-successor"));
}

TEST_P(HaSqlE2eTest, AGracefulStopReleasesTheLeaseAndThePassiveTakesOver) {
  auto active = MakeBbs(FreePort(), Config("bbs-uuid-a"));
  ASSERT_TRUE(active->Start()) << active->error();
  {
    http::TestClient api(static_cast<uint16_t>(active->port()));
    ASSERT_TRUE(Desire(api, "pg-1"));
  }
  int passive_port = FreePort();
  auto passive = MakeBbs(passive_port, Config("bbs-uuid-b"));
  ASSERT_TRUE(passive->Launch());
  WaitUntilPassive(*passive, kSqlLockWaiting);
  EXPECT_EQ(active->Stop(), 0);
  EXPECT_TRUE(Logged(*active, "\"bbs.sql-lock.released-lock\""));
  ASSERT_TRUE(passive->WaitUntilServing(30000)) << passive->error();
  EXPECT_EQ(DesiredGuids(passive_port), std::set<std::string>{"pg-1"});
}

TEST_F(HaPostgresE2eTest, ADatabaseThatStopsAnsweringEndsTheActiveThroughTheHealthCheck) {
  // The server behind a proxy that the test can take down.
  size_t host = url_.find("127.0.0.1:");
  ASSERT_NE(host, std::string::npos) << url_;
  size_t port_end = url_.find('/', host);
  int server_port = std::stoi(url_.substr(host + 10, port_end - host - 10));
  storage::testing::TcpProxy proxy(static_cast<uint16_t>(server_port));
  url_ = url_.substr(0, host + 10) + std::to_string(proxy.port()) + url_.substr(port_end);

  nlohmann::json config = Config("bbs-uuid-a");
  // A lease that outlives the outage, so that the health check is what notices it.
  config["lock_ttl"] = "60s";
  config["lock_retry_interval"] = "20s";
  config["enable_db_health_check"] = true;
  config["health_check_interval"] = "100ms";
  config["health_check_timeout"] = "1s";
  config["health_check_failure_threshold"] = 2;
  auto active = MakeBbs(FreePort(), config);
  ASSERT_TRUE(active->Start()) << active->error();
  proxy.Down();
  int status = active->WaitForExit(20000);
  EXPECT_EQ(status, 1) << "still running (-1) or a wrong exit status";
  EXPECT_TRUE(Logged(*active, "\"bbs.db-health-check.db-health-check-failed\""));
  EXPECT_TRUE(Logged(*active, "\"bbs.db-health-check-failed-exiting\""));
  EXPECT_FALSE(Logged(*active, "\"bbs.lost-lock-exiting\""));
}

INSTANTIATE_TEST_SUITE_P(Engines, HaSqlE2eTest,
                         ::testing::Values(SqlEngine::kPostgres, SqlEngine::kMysql),
                         [](const ::testing::TestParamInfo<SqlEngine>& info) {
                           return info.param == SqlEngine::kPostgres ? "Postgres" : "Mysql";
                         });

}  // namespace
}  // namespace bbs::testing
