#include "bbs/metrics/bbs_metrics.h"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bbs::metrics {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Every metric of behavior.md §12.1 that Prometheus exports under upstream's name (the Go
// runtime ones are replaced by process_*; Domain.<d> becomes Domain{domain="d"}).
const std::vector<std::string> kUpstreamNames = {
    "BBSMasterElected",
    "LockHeld",
    "MigrationDuration",
    "EncryptionDuration",
    "RequestCount",
    "RequestLatency",
    "OpenFileDescriptors",
    "ConvergenceLRPRuns",
    "ConvergenceLRPDuration",
    "LRPsUnclaimed",
    "LRPsClaimed",
    "LRPsRunning",
    "CrashedActualLRPs",
    "CrashingDesiredLRPs",
    "LRPsDesired",
    "LRPsMissing",
    "LRPsExtra",
    "SuspectRunningActualLRPs",
    "SuspectClaimedActualLRPs",
    "PresentCells",
    "SuspectCells",
    "Domain",
    "ConvergenceTaskRuns",
    "ConvergenceTaskDuration",
    "TasksPending",
    "TasksRunning",
    "TasksCompleted",
    "TasksResolving",
    "ConvergenceTasksKicked",
    "ConvergenceTasksPruned",
    "TasksStarted",
    "TasksSucceeded",
    "TasksFailed",
    "DBOpenConnections",
    "DBWaitCount",
    "DBWaitDuration",
    "DBQueriesTotal",
    "DBQueriesSucceeded",
    "DBQueriesFailed",
    "DBQueriesInFlight",
    "DBQueryDurationMax",
    "process_resident_memory_bytes",
    "process_threads",
    "process_open_fds",
};

// The value of the sample line that starts with `series` ("name{labels}" or "name").
double SampleValue(const std::string& text, const std::string& series) {
  size_t pos = 0;
  while ((pos = text.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      return std::stod(text.substr(pos + series.size() + 1));
    }
    ++pos;
  }
  ADD_FAILURE() << "no sample " << series << " in\n" << text;
  return -1;
}

TEST(BbsMetricsTest, RequestCountIsTheDeltaSinceThePreviousReport) {
  BbsMetrics m;
  RouteMetrics* claim = m.RouteFor("ClaimActualLRP");
  m.ObserveRequest(claim, 200, milliseconds(1));
  m.ObserveRequest(claim, 200, milliseconds(1));
  EXPECT_EQ(m.TakeRequestReport().count, 2u);
  m.ObserveRequest(claim, 200, milliseconds(1));
  EXPECT_EQ(m.TakeRequestReport().count, 1u);
  EXPECT_EQ(m.TakeRequestReport().count, 0u);
}

TEST(BbsMetricsTest, RequestLatencyIsTheMaximumOfTheWindowAndResetsAfterEachReport) {
  BbsMetrics m;
  RouteMetrics* route = m.RouteFor("StartActualLRP");
  m.ObserveRequest(route, 200, milliseconds(3));
  m.ObserveRequest(route, 200, milliseconds(7));
  m.ObserveRequest(route, 200, milliseconds(5));
  EXPECT_EQ(m.TakeRequestReport().max_latency, milliseconds(7));
  m.ObserveRequest(route, 200, milliseconds(2));
  EXPECT_EQ(m.TakeRequestReport().max_latency, milliseconds(2));
  EXPECT_EQ(m.TakeRequestReport().max_latency, milliseconds(0));
}

TEST(BbsMetricsTest, ReportsEachRouteSeparatelyInRegistrationOrder) {
  BbsMetrics m;
  RouteMetrics* desire = m.RouteFor("DesireDesiredLRP");
  RouteMetrics* start = m.RouteFor("StartActualLRP");
  EXPECT_EQ(m.RouteFor("DesireDesiredLRP"), desire);
  m.ObserveRequest(desire, 200, milliseconds(9));
  m.ObserveRequest(start, 200, milliseconds(1));
  m.ObserveRequest("StartActualLRP", 200, milliseconds(2));
  RequestReport report = m.TakeRequestReport();
  EXPECT_EQ(report.count, 3u);
  EXPECT_EQ(report.max_latency, milliseconds(9));
  ASSERT_EQ(report.routes.size(), 2u);
  EXPECT_EQ(report.routes[0].name, "DesireDesiredLRP");
  EXPECT_EQ(report.routes[0].count, 1u);
  EXPECT_EQ(report.routes[0].max_latency, milliseconds(9));
  EXPECT_EQ(report.routes[1].name, "StartActualLRP");
  EXPECT_EQ(report.routes[1].count, 2u);
  EXPECT_EQ(report.routes[1].max_latency, milliseconds(2));
}

TEST(BbsMetricsTest, EventStreamsCountAsRequestsButNotTowardLatency) {
  BbsMetrics m;
  RouteMetrics* events = m.RouteFor("EventStreamR0");
  m.ObserveStreamRequest(events, 200);
  RequestReport report = m.TakeRequestReport();
  EXPECT_EQ(report.count, 1u);
  EXPECT_EQ(report.max_latency, milliseconds(0));
  EXPECT_THAT(m.PrometheusText(),
              HasSubstr("bbs_http_request_duration_seconds_count{route=\"EventStreamR0\"} 0"));
}

TEST(BbsMetricsTest, PrometheusTextContainsEveryUpstreamMetricName) {
  BbsMetrics m;
  std::string text = m.PrometheusText();
  for (const auto& name : kUpstreamNames) {
    EXPECT_THAT(text, HasSubstr("# TYPE " + name + " ")) << name;
  }
  std::vector<std::string> names = m.MetricNames();
  for (const auto& name : kUpstreamNames) {
    EXPECT_TRUE(std::binary_search(names.begin(), names.end(), name)) << name;
  }
}

TEST(BbsMetricsTest, PrometheusCountersStayCumulativeAcrossReports) {
  BbsMetrics m;
  RouteMetrics* route = m.RouteFor("ClaimActualLRP");
  m.ObserveRequest(route, 200, milliseconds(4));
  m.ObserveRequest(route, 404, milliseconds(1));
  m.TakeRequestReport();
  m.ObserveRequest(route, 200, milliseconds(1));
  std::string text = m.PrometheusText();
  EXPECT_EQ(SampleValue(text, "RequestCount"), 3);
  EXPECT_EQ(SampleValue(text, "bbs_http_requests_total{code=\"2xx\",route=\"ClaimActualLRP\"}"), 2);
  EXPECT_EQ(SampleValue(text, "bbs_http_requests_total{code=\"4xx\",route=\"ClaimActualLRP\"}"), 1);
  EXPECT_EQ(SampleValue(text, "bbs_http_request_duration_seconds_count{route=\"ClaimActualLRP\"}"),
            3);
  EXPECT_EQ(SampleValue(text,
                        "bbs_http_request_duration_seconds_bucket{route=\"ClaimActualLRP\","
                        "le=\"0.001\"}"),
            2);
  // The gauge shows the maximum of the last closed window (4 ms), in nanoseconds as upstream.
  EXPECT_EQ(SampleValue(text, "RequestLatency"), 4e6);
}

TEST(BbsMetricsTest, ConvergenceReportsCountRunsSinceTheLastReportAndKeepTheLastPass) {
  BbsMetrics m;
  LrpConvergenceStats lrp;
  lrp.duration = milliseconds(12);
  lrp.running = 5;
  lrp.missing = 2;
  lrp.fresh_domains = {"cf-apps"};
  m.RecordLrpConvergence(lrp);
  lrp.running = 6;
  m.RecordLrpConvergence(lrp);
  LrpReport report = m.TakeLrpReport();
  EXPECT_EQ(report.runs, 2u);
  EXPECT_EQ(report.last.running, 6);
  EXPECT_EQ(m.TakeLrpReport().runs, 0u);
  EXPECT_EQ(m.TakeLrpReport().last.running, 6);

  std::string text = m.PrometheusText();
  EXPECT_EQ(SampleValue(text, "ConvergenceLRPRuns"), 2);
  EXPECT_EQ(SampleValue(text, "LRPsRunning"), 6);
  EXPECT_EQ(SampleValue(text, "ConvergenceLRPDuration"), 12e6);
  EXPECT_EQ(SampleValue(text, "Domain{domain=\"cf-apps\"}"), 1);
}

TEST(BbsMetricsTest, TaskCountsPerCellAreCumulative) {
  BbsMetrics m;
  m.TaskStarted("cell-b");
  m.TaskStarted("cell-a");
  m.TaskStarted("cell-a");
  m.TaskSucceeded("cell-a");
  m.TaskFailed("cell-b");
  TaskConvergenceStats tasks;
  tasks.pending = 3;
  tasks.kicked = 4;
  m.RecordTaskConvergence(tasks);
  m.RecordTaskConvergence(tasks);
  TaskReport report = m.TakeTaskReport();
  EXPECT_EQ(report.runs, 2u);
  ASSERT_EQ(report.cells.size(), 2u);
  EXPECT_EQ(report.cells[0].cell_id, "cell-a");
  EXPECT_EQ(report.cells[0].started, 2);
  EXPECT_EQ(report.cells[0].succeeded, 1);
  EXPECT_EQ(report.cells[1].cell_id, "cell-b");
  EXPECT_EQ(report.cells[1].failed, 1);
  EXPECT_EQ(m.TakeTaskReport().cells.size(), 2u);

  std::string text = m.PrometheusText();
  EXPECT_EQ(SampleValue(text, "TasksStarted{cell_id=\"cell-a\"}"), 2);
  EXPECT_EQ(SampleValue(text, "ConvergenceTasksKicked"), 8);
  EXPECT_EQ(SampleValue(text, "TasksPending"), 3);
}

TEST(BbsMetricsTest, StoreReportKeepsTotalsAndResetsTheWindowedMaxima) {
  BbsMetrics m;
  m.StoreQueryStarted();
  m.StoreQueryStarted();
  m.StoreQueryFinished(true, milliseconds(8));
  m.StoreQueryFinished(false, milliseconds(3));
  m.SetStorePoolStats({4, 2, milliseconds(5)});
  StoreReport report = m.TakeStoreReport();
  EXPECT_EQ(report.queries_total, 2u);
  EXPECT_EQ(report.queries_succeeded, 1u);
  EXPECT_EQ(report.queries_failed, 1u);
  EXPECT_EQ(report.max_in_flight, 2);
  EXPECT_EQ(report.max_query_duration, milliseconds(8));
  EXPECT_EQ(report.pool.open_connections, 4);

  m.StoreQueryStarted();
  m.StoreQueryFinished(true, milliseconds(1));
  report = m.TakeStoreReport();
  EXPECT_EQ(report.queries_total, 3u);
  EXPECT_EQ(report.max_in_flight, 1);
  EXPECT_EQ(report.max_query_duration, milliseconds(1));
  EXPECT_EQ(SampleValue(m.PrometheusText(), "DBQueryDurationMax"), 1e6);
}

class RecordingSink : public MetricSink {
 public:
  void Emit(std::vector<Measurement> measurements) override {
    for (auto& m : measurements) received.push_back(std::move(m));
  }
  std::vector<Measurement> received;
};

TEST(BbsMetricsTest, OneShotMetricsGoToTheSinkWhenRecorded) {
  BbsMetrics m;
  RecordingSink sink;
  m.SetOneShotSink(&sink);
  m.MasterElected();
  m.MigrationFinished(milliseconds(30));
  m.EncryptionFinished(milliseconds(2));
  ASSERT_EQ(sink.received.size(), 3u);
  EXPECT_EQ(sink.received[0].name, "BBSMasterElected");
  EXPECT_EQ(sink.received[0].value, 1);
  EXPECT_EQ(sink.received[0].unit, "Metric");
  EXPECT_EQ(sink.received[1].name, "MigrationDuration");
  EXPECT_EQ(sink.received[1].value, 30e6);
  EXPECT_EQ(sink.received[1].unit, "nanos");
  EXPECT_EQ(sink.received[2].name, "EncryptionDuration");
  std::string text = m.PrometheusText();
  EXPECT_EQ(SampleValue(text, "BBSMasterElected"), 1);
  EXPECT_EQ(SampleValue(text, "MigrationDuration"), 30e6);
}

TEST(BbsMetricsTest, CommitsSubscribersAndOutboundCallsAreExported) {
  BbsMetrics m;
  m.ObserveCommit(3, milliseconds(2), true);
  m.ObserveCommit(100, milliseconds(20), false);
  m.EventSubscriberAdded();
  m.EventSubscriberAdded();
  m.EventSubscriberRemoved();
  m.EventSubscriberDropped();
  m.ObserveOutbound(OutboundPeer::kRep, true, milliseconds(1));
  m.ObserveOutbound(OutboundPeer::kAuctioneer, false, milliseconds(1));
  m.SetLockHeld(true);
  std::string text = m.PrometheusText();
  EXPECT_EQ(SampleValue(text, "bbs_commits_total{result=\"success\"}"), 1);
  EXPECT_EQ(SampleValue(text, "bbs_commits_total{result=\"failure\"}"), 1);
  EXPECT_EQ(SampleValue(text, "bbs_commit_batch_size_bucket{le=\"4\"}"), 1);
  EXPECT_EQ(SampleValue(text, "bbs_commit_batch_size_sum"), 103);
  EXPECT_EQ(SampleValue(text, "bbs_event_subscribers"), 1);
  EXPECT_EQ(SampleValue(text, "bbs_event_subscribers_dropped_total"), 1);
  EXPECT_EQ(SampleValue(text, "bbs_outbound_requests_total{peer=\"rep\",result=\"success\"}"), 1);
  EXPECT_EQ(
      SampleValue(text, "bbs_outbound_requests_total{peer=\"auctioneer\",result=\"failure\"}"), 1);
  EXPECT_EQ(SampleValue(text, "LockHeld"), 1);
}

TEST(BbsMetricsTest, ConcurrentObservationsAreAllCounted) {
  BbsMetrics m;
  RouteMetrics* route = m.RouteFor("StartActualLRP");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, route, t] {
      for (int i = 0; i < kPerThread; ++i) {
        m.ObserveRequest(route, 200, std::chrono::microseconds(i + t));
      }
    });
  }
  for (auto& t : threads) t.join();
  RequestReport report = m.TakeRequestReport();
  EXPECT_EQ(report.count, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(report.max_latency, std::chrono::microseconds(kPerThread - 1 + kThreads - 1));
}

TEST(BbsMetricsTest, ConcurrentRegistrationsOfARouteShareOneHandle) {
  BbsMetrics m;
  std::vector<RouteMetrics*> seen(8);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&m, &seen, t] {
      seen[t] = m.RouteFor("ClaimActualLRP");
      m.RouteFor("Route" + std::to_string(t));
      m.ObserveRequest(seen[t], 200, milliseconds(1));
    });
  }
  for (auto& t : threads) t.join();
  for (RouteMetrics* r : seen) EXPECT_EQ(r, seen[0]);
  RequestReport report = m.TakeRequestReport();
  EXPECT_EQ(report.count, seen.size());
  EXPECT_EQ(report.routes.size(), seen.size() + 1);
}

}  // namespace
}  // namespace bbs::metrics
