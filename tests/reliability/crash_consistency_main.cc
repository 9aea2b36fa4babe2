// bbs-crash-consistency: the long run of the crash-consistency trials (issue #16 item 2).
//
//   bbs-crash-consistency [--trials N] [--seed S] [--binary PATH]
//                         [--backend sqlite|postgres|mysql|etcd] [-- BBS-FLAG...]
//
// Each trial starts bbs on a fresh data directory and a fresh database, runs the writers, kills
// bbs with SIGKILL at a random moment, restarts it and checks the acknowledged writes. The
// backend: SQLite by default; postgres, mysql and etcd use the private test servers of
// scripts/servers/*.sh (BBS_TEST_POSTGRES_URL, BBS_TEST_MYSQL_URL, BBS_TEST_ETCD_ENDPOINTS):
// a fresh schema (PostgreSQL) or database (MySQL) per trial, an emptied etcd (every key is
// deleted: use the private server only). The flags after "--" are passed to bbs as well.
// Prints one line per trial and "N passed, M failed"; exits non-zero on any failure.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include "bbs/storage/mysql/mysql_test_util.h"
#include "bbs/storage/postgres/postgres_test_util.h"
#include "bbs/testing/bbs_process.h"
#include "crash_consistency.h"

namespace {

// The bbs flags of trial `t` on `backend`; false (with a message) when it cannot be set up.
bool BackendArgs(const std::string& backend, int t, std::vector<std::string>* args) {
  const std::vector<std::string> keys = {"-encryptionKey=k1:a passphrase for the crash trials",
                                         "-activeKeyLabel=k1"};
  const std::string seed = "crash_trial_" + std::to_string(getpid()) + "_" + std::to_string(t);
  if (backend == "sqlite") return true;
  if (backend == "postgres") {
    if (bbs::storage::testing::PostgresTestUrl().empty()) {
      std::fprintf(stderr, "BBS_TEST_POSTGRES_URL is not set (scripts/servers/postgres.sh)\n");
      return false;
    }
    args->push_back("-databaseDriver=postgres");
    args->push_back("-databaseConnectionString=" +
                    bbs::storage::testing::PostgresUrlWithFreshSchema(seed));
  } else if (backend == "mysql") {
    if (bbs::storage::testing::MysqlTestDsn().empty()) {
      std::fprintf(stderr, "BBS_TEST_MYSQL_URL is not set (scripts/servers/mariadb.sh)\n");
      return false;
    }
    args->push_back("-databaseDriver=mysql");
    args->push_back("-databaseConnectionString=" +
                    bbs::storage::testing::MysqlDsnWithFreshDatabase(seed));
  } else if (backend == "etcd") {
    const char* endpoints = std::getenv("BBS_TEST_ETCD_ENDPOINTS");
    if (endpoints == nullptr || *endpoints == '\0') {
      std::fprintf(stderr, "BBS_TEST_ETCD_ENDPOINTS is not set (scripts/servers/etcd.sh)\n");
      return false;
    }
    const std::string wipe = std::string("ETCDCTL_API=3 etcdctl --endpoints=") + endpoints +
                             " del '' --from-key >/dev/null";
    if (std::system(wipe.c_str()) != 0) {
      std::fprintf(stderr, "could not empty etcd: %s\n", wipe.c_str());
      return false;
    }
    args->push_back("-databaseDriver=etcd");
    args->push_back(std::string("-etcdCluster=") + endpoints);
  } else {
    std::fprintf(stderr, "unknown backend %s\n", backend.c_str());
    return false;
  }
  args->insert(args->end(), keys.begin(), keys.end());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int trials = 20;
  std::string backend = "sqlite";
  uint32_t seed = 1;
  std::string binary = BBS_BINARY;
  std::vector<std::string> backend_args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--trials" && i + 1 < argc) {
      trials = std::atoi(argv[++i]);
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--backend" && i + 1 < argc) {
      backend = argv[++i];
    } else if (arg == "--binary" && i + 1 < argc) {
      binary = argv[++i];
    } else if (arg == "--") {
      for (++i; i < argc; ++i) backend_args.emplace_back(argv[i]);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--trials N] [--seed S] [--binary PATH] "
                   "[--backend sqlite|postgres|mysql|etcd] [-- BBS-FLAG...]\n",
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
    options.backend_args.clear();
    if (!BackendArgs(backend, t, &options.backend_args)) return 2;
    options.backend_args.insert(options.backend_args.end(), backend_args.begin(),
                                backend_args.end());
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
  std::printf("%s: %ld acknowledged writes checked\n", backend.c_str(), acknowledged);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
