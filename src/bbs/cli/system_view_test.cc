#include "bbs/cli/system_view.h"

#include <gtest/gtest.h>

namespace bbs::cli {
namespace {

models::DesiredLRP Desired(const std::string& guid, int instances) {
  models::DesiredLRP d;
  d.set_process_guid(guid);
  d.set_instances(instances);
  d.set_memory_mb(256);
  d.set_disk_mb(1024);
  return d;
}

models::ActualLRP Actual(const std::string& guid, int index, const std::string& state,
                         const std::string& cell = "", int crashes = 0) {
  models::ActualLRP a;
  a.mutable_actual_lrp_key()->set_process_guid(guid);
  a.mutable_actual_lrp_key()->set_index(index);
  a.mutable_actual_lrp_instance_key()->set_cell_id(cell);
  a.mutable_actual_lrp_instance_key()->set_instance_guid(cell.empty() ? "" : "ig");
  a.set_state(state);
  a.set_crash_count(crashes);
  return a;
}

models::CellPresence Cell(const std::string& id, int memory) {
  models::CellPresence c;
  c.set_cell_id(id);
  c.set_zone("z1");
  c.mutable_capacity()->set_memory_mb(memory);
  c.mutable_capacity()->set_disk_mb(10000);
  c.mutable_capacity()->set_containers(10);
  return c;
}

models::Task Task(const std::string& guid, models::Task::State state) {
  models::Task t;
  t.set_task_guid(guid);
  t.set_state(state);
  return t;
}

// Counts by state, as SystemView::Counts holds them (every known state present).
using ByState = std::map<std::string, int>;

SystemView Loaded() {
  SystemView view;
  view.Reset({Desired("a", 2), Desired("b", 1)},
             {Actual("a", 0, "RUNNING", "cell-1"), Actual("a", 1, "CRASHED", "cell-2", 3),
              Actual("b", 0, "UNCLAIMED")},
             {Task("t1", models::Task::Pending), Task("t2", models::Task::Running)},
             {Cell("cell-1", 4096), Cell("cell-2", 1024)});
  return view;
}

TEST(SystemViewTest, CountsLrpsAndTasksByState) {
  auto c = Loaded().counts();
  EXPECT_EQ(c.desired_lrps, 2);
  EXPECT_EQ(c.desired_instances, 3);
  EXPECT_EQ(c.actual_by_state,
            (ByState{{"UNCLAIMED", 1}, {"CLAIMED", 0}, {"RUNNING", 1}, {"CRASHED", 1}}));
  EXPECT_EQ(c.tasks_by_state,
            (ByState{{"Pending", 1}, {"Running", 1}, {"Completed", 0}, {"Resolving", 0}}));
}

TEST(SystemViewTest, CellsShowInstancesAndFreeCapacity) {
  auto cells = Loaded().Cells();
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].cell_id, "cell-1");
  EXPECT_EQ(cells[0].instances, 1);
  EXPECT_EQ(cells[0].running, 1);
  EXPECT_EQ(cells[0].memory_mb.Free(), 4096 - 256);
  EXPECT_EQ(cells[0].containers.Free(), 9);
  EXPECT_EQ(cells[1].crashed, 1);
}

TEST(SystemViewTest, ACellNamedOnlyByRowsIsShownAsGone) {
  SystemView view;
  view.Reset({}, {Actual("a", 0, "RUNNING", "ghost")}, {}, {});
  auto cells = view.Cells();
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_FALSE(cells[0].registered);
}

TEST(SystemViewTest, EventsKeepTheViewCurrent) {
  SystemView view = Loaded();
  models::ActualLRPInstanceChangedEvent changed;
  *changed.mutable_actual_lrp_key() = Actual("b", 0, "").actual_lrp_key();
  changed.mutable_actual_lrp_instance_key()->set_cell_id("cell-2");
  changed.mutable_actual_lrp_instance_key()->set_instance_guid("ig-b");
  changed.mutable_before()->set_state("UNCLAIMED");
  changed.mutable_after()->set_state("CLAIMED");
  view.Apply("actual_lrp_instance_changed", changed);
  models::ActualLRPInstanceRemovedEvent removed;
  *removed.mutable_actual_lrp() = Actual("a", 1, "CRASHED", "cell-2", 3);
  view.Apply("actual_lrp_instance_removed", removed);
  models::DesiredLRPRemovedEvent desired_removed;
  *desired_removed.mutable_desired_lrp() = Desired("a", 2);
  view.Apply("desired_lrp_removed", desired_removed);
  models::TaskChangedEvent task;
  *task.mutable_before() = Task("t1", models::Task::Pending);
  *task.mutable_after() = Task("t1", models::Task::Completed);
  view.Apply("task_changed", task);
  models::ActualLRPCrashedEvent crashed;
  view.Apply("actual_lrp_crashed", crashed);

  auto c = view.counts();
  EXPECT_EQ(c.desired_lrps, 1);
  EXPECT_EQ(c.actual_by_state,
            (ByState{{"UNCLAIMED", 0}, {"CLAIMED", 1}, {"RUNNING", 1}, {"CRASHED", 0}}));
  EXPECT_EQ(c.tasks_by_state,
            (ByState{{"Pending", 0}, {"Running", 1}, {"Completed", 1}, {"Resolving", 0}}));
  EXPECT_EQ(c.events, 5);
  EXPECT_EQ(c.crash_events, 1);
  EXPECT_EQ(view.Cells()[1].instances, 1);  // cell-2 now holds b/0, not a/1
}

TEST(SystemViewTest, AnInstanceReplacedAfterACrashKeepsItsNewRow) {
  SystemView view;
  view.Reset({Desired("a", 1)}, {Actual("a", 0, "RUNNING", "cell-1")}, {}, {Cell("cell-1", 4096)});
  // The BBS announces the restarted instance, then the removal of the crashed one.
  models::ActualLRPInstanceCreatedEvent created;
  *created.mutable_actual_lrp() = Actual("a", 0, "UNCLAIMED", "", 1);
  view.Apply("actual_lrp_instance_created", created);
  models::ActualLRPInstanceRemovedEvent removed;
  *removed.mutable_actual_lrp() = Actual("a", 0, "RUNNING", "cell-1");
  view.Apply("actual_lrp_instance_removed", removed);
  auto c = view.counts();
  EXPECT_EQ(c.actual_by_state["UNCLAIMED"], 1);
  EXPECT_EQ(c.actual_by_state["RUNNING"], 0);
  EXPECT_EQ(view.Cells()[0].instances, 0);
  ASSERT_EQ(view.Crashing().size(), 1u);
}

TEST(SystemViewTest, CrashingLrpsComeMostCrashesFirst) {
  SystemView view;
  view.Reset({},
             {Actual("a", 0, "RUNNING", "c", 1), Actual("b", 0, "CRASHED", "c", 5),
              Actual("c", 0, "RUNNING", "c", 0)},
             {}, {});
  auto rows = view.Crashing();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].process_guid, "b");
  EXPECT_EQ(rows[1].process_guid, "a");
}

TEST(SystemViewTest, MetricsAreFoundUnderUpstreamOrPrometheusNamesAndCountsBecomeRates) {
  MetricsRows first = ParseMetrics(
      "# TYPE x counter\nConvergenceLRPRuns 3\nbbs_request_count_total{route=\"a\"} 10\n"
      "bbs_request_count_total{route=\"b\"} 5\nRequestLatency 1200\n",
      nullptr, 0);
  ASSERT_TRUE(first.available);
  EXPECT_EQ(first.values.at("convergence_lrp_runs"), 3);
  EXPECT_EQ(first.values.at("request_count"), 15);
  EXPECT_EQ(first.values.at("request_latency_max_ns"), 1200);
  EXPECT_EQ(first.values.count("request_rate_per_s"), 0u);
  MetricsRows second = ParseMetrics("RequestCount 35\n", &first, 10);
  EXPECT_DOUBLE_EQ(second.values.at("request_rate_per_s"), 2.0);
}

TEST(SystemViewTest, TheScreenShowsEverySectionAndMarksMetricsUnavailable) {
  MetricsRows none;
  none.error = "no --metricsURL";
  ScreenOptions o;
  o.title = "http://bbs";
  auto lines = RenderScreen(Loaded(), none, o);
  std::string screen;
  for (const auto& l : lines) screen += l + "\n";
  for (const char* text :
       {"bbsctl top - http://bbs", "CELLS (2)", "cell-1", "3840/4096", "desired 2 (3 instances)",
        "RUNNING 1", "CRASHING LRPS (1", "TASKS  Pending 1  Running 1",
        "CONVERGENCE  unavailable (no --metricsURL)", "REQUESTS     unavailable"}) {
    EXPECT_NE(screen.find(text), std::string::npos) << text << "\n" << screen;
  }
}

TEST(SystemViewTest, TheScreenFiltersAndSortsCells) {
  MetricsRows none;
  ScreenOptions o;
  o.filter = "cell-2";
  std::string screen;
  for (const auto& l : RenderScreen(Loaded(), none, o)) screen += l + "\n";
  EXPECT_NE(screen.find("CELLS (1)"), std::string::npos);
  EXPECT_EQ(screen.find("cell-1 "), std::string::npos);
  o.filter.clear();
  o.sort = "memory";
  auto lines = RenderScreen(Loaded(), none, o);
  size_t first = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("cell-", 0) == 0) {
      first = i;
      break;
    }
  }
  EXPECT_EQ(lines[first].rfind("cell-1", 0), 0u);  // most free memory first
  o.reverse = true;
  lines = RenderScreen(Loaded(), none, o);
  EXPECT_EQ(lines[first].rfind("cell-2", 0), 0u);
}

TEST(SystemViewTest, SummaryIsOneJsonDocument) {
  MetricsRows m;
  m.available = true;
  m.values["convergence_lrp_runs"] = 2;
  std::string json = SummaryJson(Loaded(), m);
  EXPECT_NE(json.find(R"("desired_lrps":{"count":2,"instances":3})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("crashing_lrps":[{"process_guid":"a","index":1,"state":"CRASHED",)"
                      R"("crash_count":3,"crash_reason":"","cell_id":"cell-2"}])"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("metrics":{"available":true,"convergence_lrp_runs":2})"),
            std::string::npos)
      << json;
}

}  // namespace
}  // namespace bbs::cli
