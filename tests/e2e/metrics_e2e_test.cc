// End-to-end: the real binary's debug server and Loggregator emitter.

#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/clients/test_pki.h"
#include "bbs/http/test_client.h"
#include "bbs/loggregator/fake_agent.h"
#include "bbs/models/models.h"
#include "bbs/testing/bbs_process.h"

namespace bbs::testing {
namespace {

using ::testing::HasSubstr;

// The port of "address" in the daemon's "bbs.debug-server-started" line, or 0.
uint16_t DebugPort(BbsProcess& bbs) {
  for (const auto& line : bbs.Lines()) {
    if (line.find("\"bbs.debug-server-started\"") == std::string::npos) continue;
    auto at = line.find("\"address\":\"");
    if (at == std::string::npos) continue;
    auto colon = line.find(':', at + 11);
    return static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
  }
  return 0;
}

TEST(MetricsE2eTest, TheDebugServerServesMetricsAndSwitchesTheLogLevel) {
  TempDir dir;
  BbsProcess bbs(BBS_BINARY, dir.path(), {"-debugAddr=127.0.0.1:0"});
  ASSERT_TRUE(bbs.Start()) << bbs.error();
  uint16_t port = DebugPort(bbs);
  ASSERT_NE(port, 0);
  http::TestClient debug(port);

  auto metrics = debug.Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("\nLockHeld 1\n"));
  EXPECT_THAT(metrics->body, HasSubstr("\nBBSMasterElected 1\n"));
  EXPECT_THAT(metrics->body, HasSubstr("\n# TYPE LRPsDesired gauge\n"));

  auto level = debug.Send("POST", "/log-level", "debug");
  ASSERT_TRUE(level.ok());
  EXPECT_EQ(level->status, 200);
  auto now = debug.Send("GET", "/log-level");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->body, "debug\n");
  EXPECT_EQ(bbs.Stop(), 0);
}

// The value of the sample `series` (e.g. `RequestCount` or `bbs_commits_total{result="success"}`)
// in a Prometheus text, or -1 when it is absent.
double SampleValue(const std::string& text, const std::string& series) {
  std::string needle = "\n" + series + " ";
  auto at = text.find(needle);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + needle.size()));
}

TEST(MetricsE2eTest, ServedRequestsCommitsConvergenceAndSubscribersShowInTheMetrics) {
  TempDir dir;
  BbsProcess bbs(BBS_BINARY, dir.path(), {"-debugAddr=127.0.0.1:0"});
  ASSERT_TRUE(bbs.Start()) << bbs.error();
  uint16_t port = DebugPort(bbs);
  ASSERT_NE(port, 0);
  http::TestClient debug(port);
  auto scrape = [&debug] {
    auto r = debug.Send("GET", "/metrics");
    EXPECT_TRUE(r.ok() && r->status == 200);
    return r.ok() ? r->body : std::string();
  };
  const std::string ping_ok = R"(bbs_http_requests_total{code="2xx",route="Ping"})";
  const std::string commits_ok = R"(bbs_commits_total{result="success"})";
  std::string before = scrape();
  double requests_before = SampleValue(before, "RequestCount");
  ASSERT_GE(requests_before, 0) << before;
  double lrp_runs_before = SampleValue(before, "ConvergenceLRPRuns");
  ASSERT_GE(lrp_runs_before, 0);

  auto api = bbs.NewClient();
  for (int i = 0; i < 3; ++i) {
    auto ping = api->Send("POST", "/v1/ping");
    ASSERT_TRUE(ping.ok());
    EXPECT_EQ(ping->status, 200);
  }
  models::UpsertDomainRequest upsert;
  upsert.set_domain("cf-apps");
  upsert.set_ttl(0);
  auto upserted = api->Send("POST", "/v1/domains/upsert", upsert.SerializeAsString());
  ASSERT_TRUE(upserted.ok());
  auto converged = api->Send("POST", "/v1/lrps/converge");
  ASSERT_TRUE(converged.ok());
  EXPECT_EQ(converged->status, 200);

  // An open event stream is one subscriber.
  http::TestClient stream(static_cast<uint16_t>(bbs.port()), bbs.client_tls());
  ASSERT_TRUE(stream.StartRequest("POST", "/v1/events/tasks.r1").ok());
  ASSERT_TRUE(stream.ReadUntil("\r\n\r\n").ok());

  std::string after = scrape();
  EXPECT_GE(SampleValue(after, "RequestCount"), requests_before + 5) << after;
  EXPECT_GE(SampleValue(after, ping_ok), 3) << after;
  EXPECT_GE(SampleValue(after, commits_ok), 1) << after;
  EXPECT_GE(SampleValue(after, "ConvergenceLRPRuns"), lrp_runs_before + 1) << after;
  EXPECT_EQ(SampleValue(after, "bbs_event_subscribers"), 1) << after;
  EXPECT_EQ(bbs.Stop(), 0);
}

TEST(MetricsE2eTest, MetricsReachTheLoggregatorAgentAsV2Envelopes) {
  TempDir dir;
  auto certs = clients::TestPki::Create(dir.path());
  ASSERT_TRUE(certs.ok()) << certs.status().ToString();
  loggregator::FakeAgent agent;
  ASSERT_TRUE(agent.Start(certs->ca_file, certs->server_cert_file, certs->server_key_file).ok());
  std::string config = dir.path() + "/bbs.json";
  std::ofstream(config) << R"({
    "report_interval": "100ms",
    "loggregator": {
      "loggregator_use_v2_api": true,
      "loggregator_api_port": )"
                        << agent.port() << R"(,
      "loggregator_ca_path": ")"
                        << certs->ca_file << R"(",
      "loggregator_cert_path": ")"
                        << certs->client_cert_file << R"(",
      "loggregator_key_path": ")"
                        << certs->client_key_file << R"(",
      "loggregator_job_deployment": "cf",
      "loggregator_job_origin": "bbs",
      "loggregator_source_id": "bbs",
      "loggregator_instance_id": "bbs-0"
    }
  })";
  BbsProcess bbs(BBS_BINARY, dir.path(), {"-config=" + config});
  ASSERT_TRUE(bbs.Start()) << bbs.error();

  // Every 100 ms a report tick sends RequestCount, RequestLatency, OpenFileDescriptors and
  // LockHeld; BBSMasterElected goes out once the daemon is ready (LockHeld is 1 from then on).
  bool count = false, latency = false, elected = false, lock_held = false;
  for (size_t n = 1; n <= 200 && !(count && latency && elected && lock_held); ++n) {
    auto envelopes = agent.WaitForEnvelopes(n);
    if (envelopes.size() < n) break;
    const auto& e = envelopes[n - 1];
    EXPECT_EQ(e.source_id(), "bbs");
    EXPECT_EQ(e.instance_id(), "bbs-0");
    EXPECT_EQ(e.tags().at("origin"), "bbs");
    EXPECT_EQ(e.tags().at("deployment"), "cf");
    if (e.has_counter() && e.counter().name() == "RequestCount") count = true;
    if (e.has_gauge()) {
      const auto& metrics = e.gauge().metrics();
      if (metrics.count("RequestLatency")) {
        latency = true;
        EXPECT_EQ(metrics.at("RequestLatency").unit(), "nanos");
      }
      if (metrics.count("BBSMasterElected")) elected = true;
      if (metrics.count("LockHeld") && metrics.at("LockHeld").value() == 1) lock_held = true;
    }
  }
  EXPECT_TRUE(count);
  EXPECT_TRUE(latency);
  EXPECT_TRUE(elected);
  EXPECT_TRUE(lock_held);
  EXPECT_EQ(bbs.Stop(), 0);
}

}  // namespace
}  // namespace bbs::testing
