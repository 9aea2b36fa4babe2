#include "bbs/state/convergence_index.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/desired_lrp_ops.h"
#include "bbs/domain/lrp_convergence_testing.h"
#include "bbs/domain/restart_policy.h"
#include "bbs/state/model.h"

namespace bbs::state {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = 1'700'000'000LL * kSecond;

records::DesiredLRPRecord DesiredRecord(const std::string& guid, const std::string& domain,
                                        int32_t instances, bool tagged) {
  models::DesiredLRP lrp;
  lrp.set_process_guid(guid);
  lrp.set_domain(domain);
  lrp.set_root_fs("preloaded:cflinuxfs4");
  lrp.set_instances(instances);
  lrp.mutable_action()->mutable_run_action()->set_path("/bin/app");
  if (tagged) (*lrp.mutable_metric_tags())["source_id"].set_static_("app-" + guid);
  auto record = domain::NewDesiredLrpRecord(lrp, kStart, "epoch-" + guid);
  return std::move(*record);
}

using domain::testing::ConvergenceRow;

// Every action and metric of a pass, in an order-independent form.
struct Normalized {
  std::vector<std::string> lines;
  domain::LrpConvergenceMetrics metrics;
};

Normalized Normalize(const domain::LrpConvergenceActions& a) {
  Normalized n;
  auto keys = [&](const char* what, const std::vector<domain::LrpKey>& keys) {
    for (const auto& k : keys) {
      n.lines.push_back(std::string(what) + " " + k.process_guid + "/" + std::to_string(k.index));
    }
  };
  for (const auto& row : a.prune_evacuating) {
    n.lines.push_back("prune " + row.actual_lrp_key().process_guid() + "/" +
                      std::to_string(row.actual_lrp_key().index()) + " " +
                      row.actual_lrp_instance_key().cell_id());
  }
  keys("retire", a.retire);
  keys("create", a.create_missing);
  keys("unclaim-stale", a.unclaim_stale);
  keys("replace", a.missing_cell_replace);
  keys("unclaim-missing", a.missing_cell_unclaim);
  keys("promote", a.promote_suspect);
  keys("remove-suspect", a.remove_suspect);
  for (const auto& u : a.instance_updates) {
    std::string line = "update " + u.lrp.actual_lrp_key().process_guid() + "/" +
                       std::to_string(u.lrp.actual_lrp_key().index());
    if (u.metric_tags) {
      for (const auto& [k, v] : *u.metric_tags) line += " " + k + "=" + v;
    }
    n.lines.push_back(line);
  }
  std::sort(n.lines.begin(), n.lines.end());
  n.metrics = a.metrics;
  return n;
}

std::string MetricsString(const domain::LrpConvergenceMetrics& m) {
  return "unclaimed=" + std::to_string(m.unclaimed) + " claimed=" + std::to_string(m.claimed) +
         " running=" + std::to_string(m.running) + " crashed=" + std::to_string(m.crashed) +
         " crashing_desired=" + std::to_string(m.crashing_desired) +
         " desired=" + std::to_string(m.desired_instances) +
         " missing=" + std::to_string(m.missing) + " extra=" + std::to_string(m.extra) +
         " suspect_running=" + std::to_string(m.suspect_running) +
         " suspect_claimed=" + std::to_string(m.suspect_claimed) +
         " present_cells=" + std::to_string(m.present_cells) +
         " suspect_cells=" + std::to_string(m.suspect_cells);
}

class ConvergenceIndexTest : public ::testing::Test {
 protected:
  // Applies `mutations` the way the committer does: model first, then the index's dirty marks.
  void Apply(std::vector<storage::Mutation> mutations) {
    std::vector<std::vector<storage::Mutation>*> batches{&mutations};
    auto guids = ConvergenceIndex::ProcessGuidsOf(batches);
    model_.Apply(batches);
    index_.MarkDirty(std::move(guids));
  }

  // Domain "d" (fresh) and `n` processes pg-0... with one instance RUNNING on cell-1 each.
  void PutRunningProcesses(int n) {
    Apply({storage::PutDomain{"d", INT64_MAX}});
    for (int i = 0; i < n; ++i) {
      std::string guid = "pg-" + std::to_string(i);
      Apply({storage::PutDesiredLrp{DesiredRecord(guid, "d", 1, false)},
             storage::PutActualLrp{ConvergenceRow(guid, 0, "d", models::ActualLRP::ORDINARY,
                                                  domain::kRunning, "cell-1", now_, 0)}});
    }
  }

  // One pass through the index, checked against the full calculator over the same model.
  ConvergenceIndex::PassStats PassMatchesFullCalculator(
      const std::optional<std::set<std::string>>& cells) {
    ConvergenceIndex::PassStats stats;
    Normalized incremental = Normalize(index_.Calculate(now_, cells, &stats));
    Normalized full = Normalize(model_.CalculateLrpConvergence(now_, cells));
    EXPECT_EQ(incremental.lines, full.lines) << "at +" << (now_ - kStart) / kSecond << " s";
    EXPECT_EQ(MetricsString(incremental.metrics), MetricsString(full.metrics));
    return stats;
  }

  Model model_;
  ConvergenceIndex index_{&model_, {.full_every_passes = 0}};
  int64_t now_ = kStart;
};

TEST_F(ConvergenceIndexTest, APassWithNothingChangedLooksAtNoProcess) {
  PutRunningProcesses(50);
  std::set<std::string> cells{"cell-1"};
  auto first = PassMatchesFullCalculator(cells);
  EXPECT_TRUE(first.full);
  EXPECT_EQ(first.evaluated, 50u);
  now_ += 30 * kSecond;
  auto second = PassMatchesFullCalculator(cells);
  EXPECT_FALSE(second.full);
  EXPECT_EQ(second.evaluated, 0u);
}

TEST_F(ConvergenceIndexTest, OnlyTheChangedProcessesAreLookedAtAndTheirActionsFound) {
  PutRunningProcesses(20);
  std::set<std::string> cells{"cell-1"};
  PassMatchesFullCalculator(cells);
  // Scale one process up (a desire change) and crash another one's instance.
  Apply({storage::PutDesiredLrp{DesiredRecord("pg-3", "d", 3, false)}});
  Apply({storage::PutActualLrp{
      ConvergenceRow("pg-7", 0, "d", models::ActualLRP::ORDINARY, domain::kCrashed, "", now_, 1)}});
  auto stats = PassMatchesFullCalculator(cells);
  EXPECT_EQ(stats.evaluated, 2u);
  // Their actions were not carried out: the next pass finds them again.
  stats = PassMatchesFullCalculator(cells);
  EXPECT_EQ(stats.evaluated, 2u);
}

TEST_F(ConvergenceIndexTest, APassHandsBackTheRowsOfTheProcessesWithActionsSortedByIndex) {
  PutRunningProcesses(3);
  // pg-1 scaled to 3 with index 2 placed (index 1 missing), rows written out of index order.
  Apply({storage::PutDesiredLrp{DesiredRecord("pg-1", "d", 3, false)},
         storage::PutActualLrp{ConvergenceRow("pg-1", 2, "d", models::ActualLRP::ORDINARY,
                                              domain::kRunning, "cell-1", now_, 0)},
         storage::PutActualLrp{ConvergenceRow("pg-1", 0, "d", models::ActualLRP::SUSPECT,
                                              domain::kRunning, "cell-1", now_, 0)}});
  ConvergenceIndex::PassRows rows;
  auto actions = index_.Calculate(now_, std::set<std::string>{"cell-1"}, nullptr, &rows);
  ASSERT_EQ(actions.create_missing, (std::vector<domain::LrpKey>{{"pg-1", 1}}));
  ASSERT_EQ(rows.size(), 1u);  // the processes without actions are not kept
  const ProcessSnapshot& pg1 = rows.at("pg-1");
  ASSERT_NE(pg1.desired, nullptr);
  EXPECT_EQ(pg1.desired->scheduling_info().instances(), 3);
  std::vector<int32_t> indices;
  for (const auto& a : pg1.actuals) indices.push_back(a->actual_lrp_key().index());
  EXPECT_EQ(indices, (std::vector<int32_t>{0, 0, 2}));
}

// The pass decodes onto arenas in chunks, reusing a chunk once full when few of its processes
// had actions: the rows it keeps must survive that, whether few or all processes have actions.
TEST_F(ConvergenceIndexTest, TheRowsHandedBackStayIntactAcrossManyDecodedProcesses) {
  constexpr int kProcesses = 6000;  // several MiB decoded: more than one chunk
  PutRunningProcesses(kProcesses);
  // Every 97th process scaled to 2: one missing index each.
  std::vector<std::string> scaled;
  for (int i = 0; i < kProcesses; i += 97) {
    scaled.push_back("pg-" + std::to_string(i));
    Apply({storage::PutDesiredLrp{DesiredRecord(scaled.back(), "d", 2, true)}});
  }
  auto expect_rows_are_the_models = [&](const ConvergenceIndex::PassRows& rows,
                                        const std::vector<std::string>& guids) {
    ASSERT_EQ(rows.size(), guids.size());
    for (const auto& guid : guids) {
      const ProcessSnapshot* kept = rows.find(guid);
      ASSERT_NE(kept, nullptr) << guid;
      ProcessSnapshot model = model_.SnapshotProcess(guid);
      ASSERT_NE(kept->desired, nullptr) << guid;
      EXPECT_EQ(kept->desired->SerializeAsString(), model.desired->SerializeAsString()) << guid;
      ASSERT_EQ(kept->actuals.size(), model.actuals.size()) << guid;
      for (size_t i = 0; i < model.actuals.size(); ++i) {
        EXPECT_EQ(kept->actuals[i]->SerializeAsString(), model.actuals[i]->SerializeAsString())
            << guid;
      }
    }
    EXPECT_EQ(rows.find("pg-1"), nullptr);  // no action: not kept
  };
  std::set<std::string> cells{"cell-1"};
  {
    // The first pass evaluates everything: few processes have actions.
    ConvergenceIndex::PassRows rows;
    auto actions = index_.Calculate(now_, cells, nullptr, &rows);
    EXPECT_EQ(actions.create_missing.size(), scaled.size());
    expect_rows_are_the_models(rows, scaled);
  }
  // Now most of the evaluated processes have actions (all but pg-1 scaled to 2).
  std::vector<std::string> all;
  for (int i = 0; i < kProcesses; ++i) {
    if (i == 1) continue;
    all.push_back("pg-" + std::to_string(i));
    Apply({storage::PutDesiredLrp{DesiredRecord(all.back(), "d", 2, true)}});
  }
  Apply({storage::PutDesiredLrp{DesiredRecord("pg-1", "d", 1, true)}});
  ConvergenceIndex::PassRows rows;
  auto actions = index_.Calculate(now_, cells, nullptr, &rows);
  EXPECT_EQ(actions.create_missing.size(), all.size());
  expect_rows_are_the_models(rows, all);
  // The same object reused by the next pass holds that pass's rows only.
  index_.Calculate(now_, cells, nullptr, &rows);
  expect_rows_are_the_models(rows, all);
}

TEST_F(ConvergenceIndexTest, AProcessIsChangedSinceThePassOnlyOnceTheCommitterMarksIt) {
  PutRunningProcesses(2);
  index_.Calculate(now_, std::set<std::string>{"cell-1"});
  EXPECT_FALSE(index_.ChangedSincePass("pg-0"));
  Apply({storage::DeleteActualLrp{"pg-0", 0, models::ActualLRP::ORDINARY}});
  EXPECT_TRUE(index_.ChangedSincePass("pg-0"));
  EXPECT_FALSE(index_.ChangedSincePass("pg-1"));
  // The next pass reads it again: from then on it is unchanged.
  auto actions = index_.Calculate(now_, std::set<std::string>{"cell-1"});
  EXPECT_EQ(actions.create_missing, (std::vector<domain::LrpKey>{{"pg-0", 0}}));
  EXPECT_FALSE(index_.ChangedSincePass("pg-0"));
}

TEST_F(ConvergenceIndexTest, AStaleUnclaimedDeadlineWakesItsProcessWhenTimePassesIt) {
  Apply({storage::PutDomain{"d", INT64_MAX},
         storage::PutDesiredLrp{DesiredRecord("pg", "d", 1, false)},
         storage::PutActualLrp{ConvergenceRow("pg", 0, "d", models::ActualLRP::ORDINARY,
                                              domain::kUnclaimed, "", now_, 0)}});
  PassMatchesFullCalculator(std::set<std::string>{});
  now_ += domain::kStaleUnclaimedNanos;  // exactly 30 s: not stale yet
  EXPECT_EQ(PassMatchesFullCalculator(std::set<std::string>{}).evaluated, 0u);
  now_ += 1;
  auto stats = PassMatchesFullCalculator(std::set<std::string>{});
  EXPECT_EQ(stats.evaluated, 1u);
}

TEST_F(ConvergenceIndexTest, ACrashBackOffDeadlineWakesItsProcessWhenTimePassesIt) {
  Apply({storage::PutDomain{"d", INT64_MAX},
         storage::PutDesiredLrp{DesiredRecord("pg", "d", 1, false)},
         storage::PutActualLrp{ConvergenceRow("pg", 0, "d", models::ActualLRP::ORDINARY,
                                              domain::kCrashed, "", now_, 4)}});
  PassMatchesFullCalculator(std::nullopt);
  now_ += domain::RestartBackoffNanos(4) - 1;
  EXPECT_EQ(PassMatchesFullCalculator(std::nullopt).evaluated, 0u);
  now_ += 1;
  EXPECT_EQ(PassMatchesFullCalculator(std::nullopt).evaluated, 1u);
}

TEST_F(ConvergenceIndexTest, AVanishedCellAndADomainExpiryWakeTheProcessesThatNameThem) {
  Apply({storage::PutDomain{"d", now_ + 60 * kSecond}, storage::PutDomain{"e", INT64_MAX}});
  for (int i = 0; i < 10; ++i) {
    std::string guid = "pg-" + std::to_string(i);
    Apply({storage::PutDesiredLrp{DesiredRecord(guid, i < 5 ? "d" : "e", 1, false)},
           storage::PutActualLrp{ConvergenceRow(guid, 0, i < 5 ? "d" : "e",
                                                models::ActualLRP::ORDINARY, domain::kRunning,
                                                "cell-" + std::to_string(i % 2), now_, 0)}});
  }
  // An orphan in domain d: retired only while d is fresh.
  Apply({storage::PutActualLrp{ConvergenceRow("orphan", 0, "d", models::ActualLRP::ORDINARY,
                                              domain::kRunning, "cell-0", now_, 0)}});
  PassMatchesFullCalculator(std::set<std::string>{"cell-0", "cell-1"});
  EXPECT_EQ(PassMatchesFullCalculator(std::set<std::string>{"cell-0", "cell-1"}).evaluated, 1u);
  // cell-1 vanishes: its five processes are looked at (plus the orphan, still active).
  EXPECT_EQ(PassMatchesFullCalculator(std::set<std::string>{"cell-0"}).evaluated, 6u);
  // Domain d expires: its processes are looked at again.
  now_ += 61 * kSecond;
  PassMatchesFullCalculator(std::set<std::string>{"cell-0"});
  // cell-1 comes back.
  PassMatchesFullCalculator(std::set<std::string>{"cell-0", "cell-1"});
}

// Random changes of every kind (desire, scale, delete, rows of every presence and state, cells
// coming and going, domains expiring or deleted, time passing deadlines), a pass after each step;
// every pass must decide exactly what the full calculator decides.
TEST_F(ConvergenceIndexTest, RandomChangesAlwaysGiveWhatTheFullCalculatorGives) {
  std::mt19937 rng(20261207);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const std::vector<std::string> states{domain::kUnclaimed, domain::kClaimed, domain::kRunning,
                                        domain::kCrashed};
  auto cell_name = [&](int c) { return "cell-" + std::to_string(c); };
  std::set<std::string> present{cell_name(0), cell_name(1), cell_name(2)};
  bool registry = true;
  int full_passes = 0;
  for (int step = 0; step < 1000; ++step) {
    // Quiet stretches (no change, only time and cells moving) let deadlines and cell / domain
    // changes be the only reason to look at a process.
    int changes = step % 40 < 20 ? pick(4) : (pick(6) == 0 ? 1 : 0);
    for (int c = 0; c < changes; ++c) {
      std::string guid = "pg-" + std::to_string(pick(30));
      std::string domain_name = "d" + std::to_string(pick(3));
      switch (pick(9)) {
        case 0:
        case 1:
          Apply({storage::PutDesiredLrp{DesiredRecord(guid, domain_name, pick(5), pick(2) == 0)}});
          break;
        case 2:
          Apply({storage::DeleteDesiredLrp{guid}});
          break;
        case 3:
        case 4:
        case 5: {
          auto presence = static_cast<models::ActualLRP::Presence>(pick(4) == 0 ? pick(3) : 0);
          const std::string& state = states[pick(4)];
          std::string cell = state == domain::kUnclaimed && pick(2) == 0 ? "" : cell_name(pick(5));
          int32_t crash_count = pick(6) == 0 ? 200 : pick(8);
          auto lrp = ConvergenceRow(guid, pick(4), domain_name, presence, state, cell,
                                    now_ - pick(20 * 60) * kSecond, crash_count);
          if (pick(5) == 0) (*lrp.mutable_metric_tags())["source_id"] = "stale";
          Apply({storage::PutActualLrp{std::move(lrp)}});
          break;
        }
        case 6:
          Apply({storage::DeleteActualLrp{guid, pick(4),
                                          static_cast<models::ActualLRP::Presence>(pick(3))}});
          break;
        case 7:
          Apply({storage::PutDomain{domain_name, now_ + (pick(4) - 1) * 40 * kSecond}});
          break;
        case 8:
          if (pick(3) == 0) Apply({storage::DeleteDomain{domain_name}});
          break;
      }
    }
    if (pick(6) == 0) {
      std::string cell = cell_name(pick(5));
      if (!present.erase(cell)) present.insert(cell);
    }
    if (pick(40) == 0) registry = !registry;
    now_ += pick(3) == 0 ? 0 : pick(60) * kSecond + pick(2);
    auto stats = PassMatchesFullCalculator(registry ? std::optional(present) : std::nullopt);
    full_passes += stats.full ? 1 : 0;
    if (HasFailure()) {
      ADD_FAILURE() << "diverged at step " << step;
      return;
    }
  }
  EXPECT_LT(full_passes, 100);  // most passes were incremental
}

// Fully placed processes whose only pending change is time: UNCLAIMED rows turning stale and
// CRASHED rows whose back-off ends, at random moments; rows are occasionally rewritten. Every
// pass must decide exactly what the full calculator decides.
TEST_F(ConvergenceIndexTest, TimePassingDeadlinesAlwaysGivesWhatTheFullCalculatorGives) {
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  Apply({storage::PutDomain{"d", INT64_MAX}});
  auto put_row = [&](const std::string& guid, int32_t index) {
    bool crashed = pick(2) == 0;
    Apply({storage::PutActualLrp{ConvergenceRow(
        guid, index, "d", models::ActualLRP::ORDINARY,
        crashed ? domain::kCrashed : domain::kUnclaimed, "",
        now_ - pick(crashed ? 600 : 30) * kSecond - pick(1000), crashed ? 3 + pick(6) : 0)}});
  };
  for (int i = 0; i < 40; ++i) {
    std::string guid = "pg-" + std::to_string(i);
    Apply({storage::PutDesiredLrp{DesiredRecord(guid, "d", 2, false)}});
    put_row(guid, 0);
    put_row(guid, 1);
  }
  int woken = 0;
  for (int step = 0; step < 300; ++step) {
    if (pick(5) == 0) put_row("pg-" + std::to_string(pick(40)), pick(2));
    now_ += pick(20) * kSecond + pick(3);
    auto stats = PassMatchesFullCalculator(std::set<std::string>{});
    woken += static_cast<int>(stats.evaluated);
    if (HasFailure()) {
      ADD_FAILURE() << "diverged at step " << step;
      return;
    }
  }
  EXPECT_GT(woken, 0);
}

}  // namespace
}  // namespace bbs::state
