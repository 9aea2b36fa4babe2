#pragma once

#include <cstdint>
#include <string>
#include <vector>

// Crash consistency (issue #16 item 2): concurrent writers of every kind (desire, claim, start,
// crash, tasks) run at full speed against a real bbs, which is killed with SIGKILL at a random
// moment and restarted on the same data; the state it then serves is compared with the writers'
// logs of acknowledged writes. Used by crash_consistency_test.cc (a few trials in ctest) and by
// the bbs-crash-consistency tool (the long run).
namespace bbs::reliability {

struct CrashTrialOptions {
  std::string binary;    // the bbs binary
  std::string data_dir;  // exists; kept across the kill and the restart
  // Where the restarted bbs keeps its data; "" = data_dir. Another (empty) directory loses
  // every write: the harness's own negative control.
  std::string restart_data_dir;
  std::vector<std::string> backend_args;  // extra bbs flags: the backend under test
  uint32_t seed = 1;                      // chooses the kill moment
  int kill_after_min_ms = 300;   // the kill comes this long after the first acknowledged write...
  int kill_after_max_ms = 1500;  // ...at most this long
  int desire_writers = 2;        // desired LRPs of 2 instances
  int lifecycle_writers = 3;     // claim, start, crash cycles on one LRP each
  int task_writers = 2;          // desire then start tasks
};

struct CrashTrialResult {
  bool ran = false;  // false when bbs did not start or restart (see problems)
  int kill_after_ms = 0;
  int acknowledged = 0;  // writes acknowledged before the kill
  int in_flight = 0;     // writes sent and not answered when bbs died
  // Everything found wrong: lost acknowledged writes, half-written records, orphans.
  std::vector<std::string> problems;
};

CrashTrialResult RunCrashTrial(const CrashTrialOptions& options);

}  // namespace bbs::reliability
