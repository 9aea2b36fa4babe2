// bbs-crash-consistency: the long run of the crash-consistency trials (issue #16 item 2).
//
//   bbs-crash-consistency [--trials N] [--seed S] [--binary PATH] [-- BBS-FLAG...]
//
// Each trial starts bbs on a fresh data directory (SQLite by default; the flags after "--" select
// another backend, e.g. -databaseDriver=postgres -databaseConnectionString=...; a shared
// database must be emptied between trials by the caller's flags or a fresh database name), runs
// the writers, kills bbs with SIGKILL at a random moment, restarts it and checks the acknowledged
// writes. Prints one line per trial and "N passed, M failed"; exits non-zero on any failure.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bbs/testing/bbs_process.h"
#include "crash_consistency.h"

int main(int argc, char** argv) {
  int trials = 20;
  uint32_t seed = 1;
  std::string binary = BBS_BINARY;
  std::vector<std::string> backend_args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--trials" && i + 1 < argc) {
      trials = std::atoi(argv[++i]);
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--binary" && i + 1 < argc) {
      binary = argv[++i];
    } else if (arg == "--") {
      for (++i; i < argc; ++i) backend_args.emplace_back(argv[i]);
    } else {
      std::fprintf(stderr, "usage: %s [--trials N] [--seed S] [--binary PATH] [-- BBS-FLAG...]\n",
                   argv[0]);
      return 2;
    }
  }
  int passed = 0;
  int failed = 0;
  long acknowledged = 0;
  for (int t = 0; t < trials; ++t) {
    bbs::testing::TempDir dir;
    bbs::reliability::CrashTrialOptions options;
    options.binary = binary;
    options.data_dir = dir.path();
    options.backend_args = backend_args;
    options.seed = seed + static_cast<uint32_t>(t);
    auto result = bbs::reliability::RunCrashTrial(options);
    bool ok = result.ran && result.problems.empty() && result.acknowledged > 0;
    ok ? ++passed : ++failed;
    acknowledged += result.acknowledged;
    std::printf("trial %d (seed %u): kill after %d ms, %d acknowledged, %d in flight: %s\n", t + 1,
                options.seed, result.kill_after_ms, result.acknowledged, result.in_flight,
                ok ? "consistent" : "INCONSISTENT");
    for (const auto& p : result.problems) std::printf("  %s\n", p.c_str());
    std::fflush(stdout);
  }
  std::printf("%ld acknowledged writes checked\n", acknowledged);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
