// End-to-end: the real binary's debug server and Loggregator emitter.

#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/http/test_client.h"
#include "bbs/loggregator/fake_agent.h"
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

TEST(MetricsE2eTest, MetricsReachTheLoggregatorAgentAsV2Envelopes) {
  TempDir dir;
  auto certs = loggregator::TestCertificates::Create(dir.path());
  ASSERT_TRUE(certs.ok()) << certs.status().ToString();
  loggregator::FakeAgent agent;
  ASSERT_TRUE(agent.Start(certs->ca_file, certs->agent_cert_file, certs->agent_key_file).ok());
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
