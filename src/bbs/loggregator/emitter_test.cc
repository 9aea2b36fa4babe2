#include "bbs/loggregator/emitter.h"

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/clients/test_pki.h"
#include "bbs/loggregator/fake_agent.h"
#include "bbs/metrics/reporter.h"
#include "loggregator/envelope.pb.h"

namespace bbs::loggregator {
namespace {

namespace v2 = ::loggregator::v2;
using metrics::Measurement;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr int64_t kNow = 1'700'000'000'123'456'789;

class EmitterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/bbs-loggregator-test-XXXXXX";
    dir_ = new std::string(mkdtemp(pattern));
    auto certs = clients::TestPki::Create(*dir_);
    ASSERT_TRUE(certs.ok()) << certs.status().ToString();
    certs_ = new clients::TestPki(*certs);
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete certs_;
  }

  void SetUp() override {
    ASSERT_TRUE(
        agent_.Start(certs_->ca_file, certs_->server_cert_file, certs_->server_key_file).ok());
  }

  EmitterOptions Options() {
    EmitterOptions o;
    o.address = "127.0.0.1:" + std::to_string(agent_.port());
    o.tls.ca_file = certs_->ca_file;
    o.tls.cert_file = certs_->client_cert_file;
    o.tls.key_file = certs_->client_key_file;
    o.source_id = "bbs";
    o.instance_id = "instance-guid";
    o.tags = {{"origin", "bbs"}, {"deployment", "cf"}, {"job", "diego-api"}};
    o.send_timeout = std::chrono::seconds(5);
    return o;
  }

  std::unique_ptr<Emitter> MakeEmitter(EmitterOptions options) {
    auto emitter = Emitter::Create(std::move(options), &clock_, &metrics_,
                                   Logger(LogSink::Null(), "loggregator"));
    EXPECT_TRUE(emitter.ok()) << emitter.status().ToString();
    return emitter.ok() ? std::move(*emitter) : nullptr;
  }

  static std::string* dir_;
  static clients::TestPki* certs_;
  FakeClock clock_{kNow};
  metrics::BbsMetrics metrics_;
  FakeAgent agent_;
};

std::string* EmitterTest::dir_ = nullptr;
clients::TestPki* EmitterTest::certs_ = nullptr;

const v2::Envelope* FindGauge(const std::vector<v2::Envelope>& es, const std::string& name) {
  for (const auto& e : es) {
    if (e.has_gauge() && e.gauge().metrics().count(name)) return &e;
  }
  return nullptr;
}

const v2::Envelope* FindCounter(const std::vector<v2::Envelope>& es, const std::string& name) {
  for (const auto& e : es) {
    if (e.has_counter() && e.counter().name() == name) return &e;
  }
  return nullptr;
}

TEST_F(EmitterTest, DeliversGaugesDurationsAndCountersAsV2EnvelopesOverMutualTls) {
  auto emitter = MakeEmitter(Options());
  Measurement tasks = Measurement::Gauge("TasksStarted", 3);
  tasks.tags.emplace_back("cell-id", "cell-7");
  emitter->Emit({Measurement::Gauge("LRPsRunning", 8),
                 Measurement::Duration("RequestLatency", 1500),
                 Measurement::Counter("RequestCount", 42), tasks});
  ASSERT_TRUE(emitter->Flush().ok());

  auto envelopes = agent_.envelopes();
  ASSERT_EQ(envelopes.size(), 4u);
  for (const auto& e : envelopes) {
    EXPECT_EQ(e.timestamp(), kNow);
    EXPECT_EQ(e.source_id(), "bbs");
    EXPECT_EQ(e.instance_id(), "instance-guid");
    EXPECT_EQ(e.tags().at("origin"), "bbs");
    EXPECT_EQ(e.tags().at("deployment"), "cf");
    EXPECT_EQ(e.tags().at("job"), "diego-api");
  }
  const v2::Envelope* running = FindGauge(envelopes, "LRPsRunning");
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->gauge().metrics().at("LRPsRunning").unit(), "Metric");
  EXPECT_EQ(running->gauge().metrics().at("LRPsRunning").value(), 8);
  const v2::Envelope* latency = FindGauge(envelopes, "RequestLatency");
  ASSERT_NE(latency, nullptr);
  EXPECT_EQ(latency->gauge().metrics().at("RequestLatency").unit(), "nanos");
  EXPECT_EQ(latency->gauge().metrics().at("RequestLatency").value(), 1500);
  const v2::Envelope* count = FindCounter(envelopes, "RequestCount");
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->counter().delta(), 42u);
  EXPECT_EQ(count->counter().total(), 0u);
  const v2::Envelope* started = FindGauge(envelopes, "TasksStarted");
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(started->tags().at("cell-id"), "cell-7");
  EXPECT_EQ(emitter->sent(), 4u);
  EXPECT_EQ(emitter->dropped(), 0u);
}

TEST_F(EmitterTest, TheReportersMetricsReachTheAgentWithUpstreamsNamesAndUnits) {
  auto emitter = MakeEmitter(Options());
  metrics::Reporter reporter(&metrics_, emitter.get(), {}, Logger(LogSink::Null(), "reporter"));
  auto* route = metrics_.RouteFor("StartActualLRP");
  metrics_.ObserveRequest(route, 200, std::chrono::microseconds(250));
  metrics_.ObserveRequest(route, 200, std::chrono::microseconds(700));
  metrics_.ObserveRequest(route, 200, std::chrono::microseconds(100));
  metrics_.SetLockHeld(true);
  reporter.ReportRequests();
  metrics_.MasterElected();
  metrics::LrpConvergenceStats lrp;
  lrp.desired = 5;
  lrp.fresh_domains = {"cf-apps"};
  metrics_.RecordLrpConvergence(lrp);
  reporter.ReportConvergence();
  ASSERT_TRUE(emitter->Flush().ok());

  auto envelopes = agent_.envelopes();
  const v2::Envelope* count = FindCounter(envelopes, "RequestCount");
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->counter().delta(), 3u);
  const v2::Envelope* latency = FindGauge(envelopes, "RequestLatency");
  ASSERT_NE(latency, nullptr);
  EXPECT_EQ(latency->gauge().metrics().at("RequestLatency").value(), 700'000);
  EXPECT_EQ(latency->gauge().metrics().at("RequestLatency").unit(), "nanos");
  ASSERT_NE(FindGauge(envelopes, "LockHeld"), nullptr);
  EXPECT_EQ(FindGauge(envelopes, "LockHeld")->gauge().metrics().at("LockHeld").value(), 1);
  ASSERT_NE(FindGauge(envelopes, "BBSMasterElected"), nullptr);
  ASSERT_NE(FindGauge(envelopes, "Domain.cf-apps"), nullptr);
  EXPECT_EQ(FindCounter(envelopes, "ConvergenceLRPRuns")->counter().delta(), 1u);
  EXPECT_EQ(FindGauge(envelopes, "LRPsDesired")->gauge().metrics().at("LRPsDesired").value(), 5);
  EXPECT_EQ(FindGauge(envelopes, "ConvergenceLRPDuration")
                ->gauge()
                .metrics()
                .at("ConvergenceLRPDuration")
                .unit(),
            "nanos");

  // The next window's delta starts from zero.
  reporter.ReportRequests();
  ASSERT_TRUE(emitter->Flush().ok());
  envelopes = agent_.envelopes();
  int request_counts = 0;
  for (const auto& e : envelopes) {
    if (e.has_counter() && e.counter().name() == "RequestCount") {
      ++request_counts;
      if (request_counts == 2) {
        EXPECT_EQ(e.counter().delta(), 0u);
      }
    }
  }
  EXPECT_EQ(request_counts, 2);
}

TEST_F(EmitterTest, TheBackgroundFlusherSendsWithoutBeingAsked) {
  EmitterOptions options = Options();
  options.flush_interval = std::chrono::milliseconds(20);
  auto emitter = MakeEmitter(options);
  emitter->Start();
  emitter->Emit({Measurement::Gauge("PresentCells", 2)});
  auto envelopes = agent_.WaitForEnvelopes(1);
  ASSERT_EQ(envelopes.size(), 1u);
  EXPECT_NE(FindGauge(envelopes, "PresentCells"), nullptr);
  emitter->Stop();
}

TEST_F(EmitterTest, BatchesHoldAtMostBatchSizeEnvelopes) {
  EmitterOptions options = Options();
  options.batch_size = 2;
  auto emitter = MakeEmitter(options);
  std::vector<Measurement> ms;
  for (int i = 0; i < 5; ++i) ms.push_back(Measurement::Gauge("G" + std::to_string(i), i));
  emitter->Emit(ms);
  ASSERT_TRUE(emitter->Flush().ok());
  EXPECT_EQ(agent_.envelopes().size(), 5u);
  EXPECT_EQ(emitter->sent(), 5u);
}

TEST_F(EmitterTest, DropsAndCountsEnvelopesWhileTheAgentIsDown) {
  auto emitter = MakeEmitter(Options());
  agent_.Stop();
  emitter->Emit({Measurement::Gauge("LRPsRunning", 1), Measurement::Counter("RequestCount", 1),
                 Measurement::Gauge("LockHeld", 1)});
  EXPECT_FALSE(emitter->Flush().ok());
  EXPECT_EQ(emitter->dropped(), 3u);
  EXPECT_EQ(emitter->sent(), 0u);
  EXPECT_THAT(metrics_.PrometheusText(),
              HasSubstr("\nbbs_loggregator_envelopes_dropped_total 3\n"));
}

TEST_F(EmitterTest, DropsWhatDoesNotFitInTheQueue) {
  EmitterOptions options = Options();
  options.max_queue = 2;
  auto emitter = MakeEmitter(options);
  emitter->Emit({Measurement::Gauge("A", 1), Measurement::Gauge("B", 1), Measurement::Gauge("C", 1),
                 Measurement::Gauge("D", 1)});
  EXPECT_EQ(emitter->dropped(), 2u);
  ASSERT_TRUE(emitter->Flush().ok());
  EXPECT_EQ(agent_.envelopes().size(), 2u);
}

TEST_F(EmitterTest, TheAgentRefusesAClientCertificateFromAnotherCa) {
  EmitterOptions options = Options();
  options.tls.cert_file = certs_->untrusted_cert_file;
  options.tls.key_file = certs_->untrusted_key_file;
  auto emitter = MakeEmitter(options);
  emitter->Emit({Measurement::Gauge("LockHeld", 1)});
  EXPECT_FALSE(emitter->Flush().ok());
  EXPECT_EQ(emitter->dropped(), 1u);
  EXPECT_TRUE(agent_.envelopes().empty());
}

TEST_F(EmitterTest, CreationFailsWhenACertificateFileIsMissing) {
  EmitterOptions options = Options();
  options.tls.key_file = *dir_ + "/missing.key";
  auto emitter = Emitter::Create(options, &clock_, nullptr, Logger(LogSink::Null(), "loggregator"));
  ASSERT_FALSE(emitter.ok());
  EXPECT_THAT(emitter.status().message(), HasSubstr("loggregator_key_path"));
}

}  // namespace
}  // namespace bbs::loggregator
