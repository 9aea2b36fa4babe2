// Crash consistency in ctest: a few trials of concurrent writers of every kind, kill -9 at a
// random moment, restart on the same data, compare with the acknowledged writes. The long run
// (20 trials per backend) is the bbs-crash-consistency tool; see docs/reliability.md.

#include <gtest/gtest.h>

#include "bbs/testing/bbs_process.h"
#include "crash_consistency.h"

namespace bbs::reliability {
namespace {

TEST(CrashConsistencyTest, KillDashNineUnderConcurrentWritesOnSqliteLosesNothingAcknowledged) {
  for (uint32_t seed : {1u, 2u}) {
    testing::TempDir dir;
    CrashTrialOptions options;
    options.binary = BBS_BINARY;
    options.data_dir = dir.path();
    options.seed = seed;
    options.kill_after_min_ms = 300;
    options.kill_after_max_ms = 1200;
    CrashTrialResult result = RunCrashTrial(options);
    ASSERT_TRUE(result.ran) << (result.problems.empty() ? "" : result.problems[0]);
    EXPECT_GT(result.acknowledged, 0) << "the kill came before any write was acknowledged";
    for (const auto& p : result.problems) ADD_FAILURE() << "seed " << seed << ": " << p;
    RecordProperty("acknowledged_" + std::to_string(seed), result.acknowledged);
  }
}

TEST(CrashConsistencyTest, ATrialThatRestartsOnEmptyDataReportsTheLostWrites) {
  testing::TempDir dir;
  testing::TempDir empty;
  CrashTrialOptions options;
  options.binary = BBS_BINARY;
  options.data_dir = dir.path();
  options.restart_data_dir = empty.path();
  options.kill_after_min_ms = 500;
  options.kill_after_max_ms = 500;
  CrashTrialResult result = RunCrashTrial(options);
  ASSERT_TRUE(result.ran);
  ASSERT_GT(result.acknowledged, 0);
  EXPECT_FALSE(result.problems.empty()) << "the checker missed every lost write";
}

}  // namespace
}  // namespace bbs::reliability
