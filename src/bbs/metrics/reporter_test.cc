#include "bbs/metrics/reporter.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bbs::metrics {
namespace {

using std::chrono::milliseconds;

class RecordingSink : public MetricSink {
 public:
  void Emit(std::vector<Measurement> measurements) override {
    for (auto& m : measurements) received.push_back(std::move(m));
  }
  std::vector<Measurement> received;
};

const Measurement* Find(const std::vector<Measurement>& ms, const std::string& name) {
  for (const auto& m : ms) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::vector<std::string> Names(const std::vector<Measurement>& ms) {
  std::vector<std::string> names;
  for (const auto& m : ms) names.push_back(m.name);
  return names;
}

TEST(ReporterTest, RequestTickSendsCountDeltaMaxLatencyFileDescriptorsAndLockHeld) {
  BbsMetrics metrics;
  RecordingSink sink;
  Reporter reporter(&metrics, &sink, {}, Logger(LogSink::Null(), "test"));
  RouteMetrics* route = metrics.RouteFor("ClaimActualLRP");
  metrics.ObserveRequest(route, 200, milliseconds(2));
  metrics.ObserveRequest(route, 200, milliseconds(6));

  auto first = reporter.ReportRequests();
  EXPECT_THAT(Names(first), ::testing::ElementsAre("RequestCount", "RequestLatency",
                                                   "OpenFileDescriptors", "LockHeld"));
  EXPECT_EQ(Find(first, "RequestCount")->kind, Measurement::Kind::kCounter);
  EXPECT_EQ(Find(first, "RequestCount")->delta, 2u);
  EXPECT_EQ(Find(first, "RequestLatency")->value, 6e6);
  EXPECT_EQ(Find(first, "RequestLatency")->unit, "nanos");
  EXPECT_GT(Find(first, "OpenFileDescriptors")->value, 0);
  EXPECT_EQ(Find(first, "OpenFileDescriptors")->unit, "Metric");
  EXPECT_EQ(Find(first, "LockHeld")->value, 0);

  metrics.SetLockHeld(true);
  auto second = reporter.ReportRequests();
  EXPECT_EQ(Find(second, "RequestCount")->delta, 0u);
  EXPECT_EQ(Find(second, "RequestLatency")->value, 0);
  EXPECT_EQ(Find(second, "LockHeld")->value, 1);
  EXPECT_EQ(sink.received.size(), first.size() + second.size());
}

TEST(ReporterTest, AdvancedMetricsAddTheConfiguredRoutesOnly) {
  BbsMetrics metrics;
  ReporterOptions options;
  options.advanced_enabled = true;
  options.request_count_routes = {"StartActualLRP", "NeverCalled"};
  options.request_latency_routes = {"DesireDesiredLRP"};
  Reporter reporter(&metrics, nullptr, options, Logger(LogSink::Null(), "test"));
  metrics.ObserveRequest("StartActualLRP", 200, milliseconds(1));
  metrics.ObserveRequest("StartActualLRP", 200, milliseconds(1));
  metrics.ObserveRequest("DesireDesiredLRP", 200, milliseconds(40));
  metrics.ObserveRequest("ClaimActualLRP", 200, milliseconds(50));

  auto report = reporter.ReportRequests();
  EXPECT_THAT(Names(report), ::testing::ElementsAre(
                                 "RequestCount", "RequestLatency", "RequestCount.StartActualLRP",
                                 "RequestCount.NeverCalled", "RequestLatency.DesireDesiredLRP",
                                 "OpenFileDescriptors", "LockHeld"));
  EXPECT_EQ(Find(report, "RequestCount")->delta, 4u);
  EXPECT_EQ(Find(report, "RequestLatency")->value, 50e6);
  EXPECT_EQ(Find(report, "RequestCount.StartActualLRP")->delta, 2u);
  EXPECT_EQ(Find(report, "RequestCount.NeverCalled")->delta, 0u);
  EXPECT_EQ(Find(report, "RequestLatency.DesireDesiredLRP")->value, 40e6);
}

TEST(ReporterTest, ConvergenceTickSendsUpstreamsLrpAndTaskMetrics) {
  BbsMetrics metrics;
  Reporter reporter(&metrics, nullptr, {}, Logger(LogSink::Null(), "test"));
  LrpConvergenceStats lrp;
  lrp.duration = milliseconds(3);
  lrp.desired = 10;
  lrp.running = 8;
  lrp.missing = 2;
  lrp.present_cells = 3;
  lrp.fresh_domains = {"cf-apps", "cf-tasks"};
  metrics.RecordLrpConvergence(lrp);
  TaskConvergenceStats tasks;
  tasks.duration = milliseconds(1);
  tasks.pending = 4;
  tasks.kicked = 2;
  tasks.pruned = 1;
  metrics.RecordTaskConvergence(tasks);
  metrics.TaskStarted("cell-1");

  auto report = reporter.ReportConvergence();
  EXPECT_EQ(Find(report, "ConvergenceLRPRuns")->delta, 1u);
  EXPECT_EQ(Find(report, "ConvergenceLRPDuration")->value, 3e6);
  EXPECT_EQ(Find(report, "ConvergenceLRPDuration")->unit, "nanos");
  EXPECT_EQ(Find(report, "Domain.cf-apps")->value, 1);
  EXPECT_EQ(Find(report, "Domain.cf-tasks")->value, 1);
  EXPECT_EQ(Find(report, "LRPsDesired")->value, 10);
  EXPECT_EQ(Find(report, "LRPsRunning")->value, 8);
  EXPECT_EQ(Find(report, "LRPsMissing")->value, 2);
  EXPECT_EQ(Find(report, "PresentCells")->value, 3);
  EXPECT_EQ(Find(report, "TasksPending")->value, 4);
  EXPECT_EQ(Find(report, "ConvergenceTaskRuns")->delta, 1u);
  EXPECT_EQ(Find(report, "ConvergenceTasksKicked")->delta, 2u);
  EXPECT_EQ(Find(report, "ConvergenceTasksPruned")->delta, 1u);
  const Measurement* started = Find(report, "TasksStarted");
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(started->value, 1);
  EXPECT_THAT(started->tags,
              ::testing::ElementsAre(std::pair<std::string, std::string>("cell-id", "cell-1")));
  for (const char* name :
       {"LRPsUnclaimed", "LRPsClaimed", "CrashedActualLRPs", "LRPsExtra",
        "SuspectRunningActualLRPs", "SuspectClaimedActualLRPs", "CrashingDesiredLRPs",
        "SuspectCells", "TasksRunning", "TasksCompleted", "TasksResolving", "TasksFailed",
        "TasksSucceeded", "ConvergenceTaskDuration"}) {
    EXPECT_NE(Find(report, name), nullptr) << name;
  }

  // Runs are deltas, sent only when a pass happened; the kicked/pruned figures of the last
  // pass are re-sent every tick, as upstream does.
  auto next = reporter.ReportConvergence();
  EXPECT_EQ(Find(next, "ConvergenceLRPRuns"), nullptr);
  EXPECT_EQ(Find(next, "ConvergenceTaskRuns"), nullptr);
  EXPECT_EQ(Find(next, "ConvergenceTasksKicked")->delta, 2u);
  EXPECT_EQ(Find(next, "LRPsRunning")->value, 8);
}

TEST(ReporterTest, StoreTickSendsTheDbMetrics) {
  BbsMetrics metrics;
  Reporter reporter(&metrics, nullptr, {}, Logger(LogSink::Null(), "test"));
  metrics.StoreQueryStarted();
  metrics.StoreQueryFinished(true, milliseconds(4));
  metrics.SetStorePoolStats({7, 3, milliseconds(9)});
  auto report = reporter.ReportStore();
  EXPECT_THAT(Names(report),
              ::testing::ElementsAre("DBOpenConnections", "DBWaitDuration", "DBWaitCount",
                                     "DBQueriesTotal", "DBQueriesSucceeded", "DBQueriesFailed",
                                     "DBQueriesInFlight", "DBQueryDurationMax"));
  EXPECT_EQ(Find(report, "DBOpenConnections")->value, 7);
  EXPECT_EQ(Find(report, "DBWaitDuration")->value, 9e6);
  EXPECT_EQ(Find(report, "DBWaitDuration")->unit, "nanos");
  EXPECT_EQ(Find(report, "DBQueriesTotal")->value, 1);
  EXPECT_EQ(Find(report, "DBQueriesInFlight")->value, 1);
  EXPECT_EQ(Find(report, "DBQueryDurationMax")->value, 4e6);
}

TEST(ReporterTest, APassiveSendsNoConvergenceOrDbStatsButStillItsFileDescriptors) {
  // Upstream's metrics_test: a bbs that does not hold the lock emits OpenFileDescriptors and
  // LockHeld 0, never ConvergenceLRPDuration, ConvergenceTaskDuration or DBOpenConnections.
  BbsMetrics metrics;
  ReporterOptions options;
  options.stats_only_when_lock_held = true;
  Reporter reporter(&metrics, nullptr, options, Logger(LogSink::Null(), "test"));
  EXPECT_THAT(reporter.ReportConvergence(), ::testing::IsEmpty());
  EXPECT_THAT(reporter.ReportStore(), ::testing::IsEmpty());
  auto requests = reporter.ReportRequests();
  EXPECT_NE(Find(requests, "OpenFileDescriptors"), nullptr);
  ASSERT_NE(Find(requests, "LockHeld"), nullptr);
  EXPECT_EQ(Find(requests, "LockHeld")->value, 0);

  metrics.SetLockHeld(true);
  EXPECT_NE(Find(reporter.ReportConvergence(), "ConvergenceLRPDuration"), nullptr);
  EXPECT_NE(Find(reporter.ReportStore(), "DBOpenConnections"), nullptr);
}

TEST(ReporterTest, ProcessTickReplacesTheGoRuntimeMetrics) {
  BbsMetrics metrics;
  Reporter reporter(&metrics, nullptr, {}, Logger(LogSink::Null(), "test"));
  auto report = reporter.ReportProcess();
  EXPECT_THAT(Names(report), ::testing::ElementsAre("memoryStats.numBytesResident", "numThreads",
                                                    "numFileDescriptors"));
  EXPECT_GT(Find(report, "memoryStats.numBytesResident")->value, 0);
  EXPECT_GE(Find(report, "numThreads")->value, 1);
}

TEST(ReporterTest, OneShotMetricsReachTheSinkWhileTheReporterLives) {
  BbsMetrics metrics;
  RecordingSink sink;
  {
    Reporter reporter(&metrics, &sink, {}, Logger(LogSink::Null(), "test"));
    metrics.MasterElected();
  }
  metrics.MigrationFinished(milliseconds(1));
  ASSERT_EQ(sink.received.size(), 1u);
  EXPECT_EQ(sink.received[0].name, "BBSMasterElected");
}

TEST(ReporterTest, StartsAndStopsPromptly) {
  BbsMetrics metrics;
  ReporterOptions options;
  options.report_interval = std::chrono::hours(1);
  Reporter reporter(&metrics, nullptr, options, Logger(LogSink::Null(), "test"));
  reporter.Start();
  reporter.Stop();
  reporter.Stop();
}

}  // namespace
}  // namespace bbs::metrics
