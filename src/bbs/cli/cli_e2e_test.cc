// End-to-end tests of bbsctl: the real binary against a real bbs started by the test (with its
// own Locket). Every verb's output is compared, after masking timestamps and epochs, with a
// golden file in testdata/ (BBS_UPDATE_GOLDEN=1 rewrites them); `top` runs in a pseudo-terminal.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "bbs/cli/bbs_api.h"
#include "bbs/cli/tls_test_proxy.h"
#include "bbs/testing/bbs_process.h"

namespace bbs::cli {
namespace {

using namespace std::chrono_literals;
using Env = std::map<std::string, std::string>;

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// Environment variables bbsctl reads; cleared in the child so the test's own environment
// cannot leak in.
const char* const kCliEnv[] = {"BBS_URL",          "CA_CERT_FILE",        "CLIENT_CERT_FILE",
                               "CLIENT_KEY_FILE",  "SKIP_CERT_VERIFY",    "BBS_CA_CERT_FILE",
                               "BBS_CERT_FILE",    "BBS_KEY_FILE",        "BBS_SKIP_CERT_VERIFY",
                               "CFDOT_TIMEOUT",    "LOCKET_API_LOCATION", "LOCKET_CA_CERT_FILE",
                               "LOCKET_CERT_FILE", "LOCKET_KEY_FILE",     "LOCKET_SKIP_CERT_VERIFY",
                               "LOCKET_PLAINTEXT", "BBS_METRICS_URL"};

void ExecCli(const std::vector<std::string>& args, const Env& env) {
  for (const char* name : kCliEnv) unsetenv(name);
  for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(BBSCTL_BINARY));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(BBSCTL_BINARY, argv.data());
  _exit(127);
}

// Runs bbsctl to completion, capturing both streams.
CliRun RunCli(const std::vector<std::string>& args, const Env& env) {
  int out_pipe[2];
  int err_pipe[2];
  EXPECT_EQ(pipe(out_pipe), 0);
  EXPECT_EQ(pipe(err_pipe), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    ExecCli(args, env);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  CliRun run;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, 20000) <= 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? run.out : run.err).append(buf, static_cast<size_t>(n));
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// Waits up to `ms` for `fd` to be readable, then appends what one read() returns to `*into`:
// the count read, 0 when nothing came in time, -1 at end of file or on an error.
ssize_t ReadWithin(int fd, int ms, std::string* into) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) return 0;
  char buf[8192];
  ssize_t n = read(fd, buf, sizeof(buf));
  if (n <= 0) return -1;
  into->append(buf, static_cast<size_t>(n));
  return n;
}

// A bbsctl left running (event streams), its stdout read line by line.
class Background {
 public:
  Background(const std::vector<std::string>& args, const Env& env) {
    int out_pipe[2];
    pipe(out_pipe);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out_pipe[1], 1);
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 2);
      close(out_pipe[0]);
      ExecCli(args, env);
    }
    close(out_pipe[1]);
    fd_ = out_pipe[0];
  }
  ~Background() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(fd_);
  }
  // Lines read so far, waiting up to `timeout` for at least `n`.
  std::vector<std::string> WaitLines(size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (Lines().size() < n && std::chrono::steady_clock::now() < deadline) {
      if (!Pump(100)) break;
    }
    return Lines();
  }
  bool Running() { return waitpid(pid_, nullptr, WNOHANG) == 0; }

  // Only lines after this point count for SawProbe.
  void Mark() { mark_ = AllLines().size(); }
  // Reads until, for each of `types`, a line of that event type about a probe has arrived.
  bool SawProbe(const std::vector<std::string>& types, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      bool all = true;
      for (const auto& type : types) {
        bool seen = false;
        auto lines = AllLines();
        for (size_t i = mark_; i < lines.size(); ++i) {
          const std::string& line = lines[i];
          seen = seen || (line.rfind("{\"type\":\"" + type + "\"", 0) == 0 &&
                          line.find("probe-") != std::string::npos);
        }
        all = all && seen;
      }
      if (all) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      Pump(50);
    }
  }

 private:
  // Reads what the pipe has within `ms`; false once it is closed.
  bool Pump(int ms) { return ReadWithin(fd_, ms, &text_) >= 0; }
  // The complete lines that are not about a probe (the events tests make to know that a
  // stream is open).
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    for (auto& l : AllLines()) {
      if (l.find("probe-") == std::string::npos) lines.push_back(l);
    }
    return lines;
  }
  std::vector<std::string> AllLines() const {
    std::vector<std::string> lines;
    std::istringstream in(text_);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    if (!text_.empty() && text_.back() != '\n' && !lines.empty()) lines.pop_back();
    return lines;
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string text_;
  size_t mark_ = 0;
};

// Masks what changes from run to run: timestamps and modification-tag epochs.
std::string Mask(const std::string& text) {
  static const std::regex kTimes(
      "\"(since|created_at|updated_at|first_completed_at)\":[1-9][0-9]*");
  static const std::regex kEpoch("\"epoch\":\"[^\"]+\"");
  std::string out = std::regex_replace(text, kTimes, "\"$1\":\"<time>\"");
  return std::regex_replace(out, kEpoch, "\"epoch\":\"<epoch>\"");
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  std::string path = std::string(BBS_CLI_GOLDEN_DIR) + "/" + name + ".jsonl";
  std::string masked = Mask(actual);
  if (std::getenv("BBS_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << masked;
    return;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "missing golden file " << path << "; run with BBS_UPDATE_GOLDEN=1";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(masked, expected.str()) << "golden " << path;
}

std::string LocketAddress(testing::BbsProcess& bbs) {
  for (const auto& line : bbs.Lines()) {
    auto pos = line.find("\"locket_listen_address\":\"");
    if (pos == std::string::npos) continue;
    pos += 25;
    return line.substr(pos, line.find('"', pos) - pos);
  }
  return "";
}

constexpr char kLrpSpec[] =
    R"({"process_guid":"pg-1","domain":"cf-apps","rootfs":"preloaded:cflinuxfs4","instances":2,)"
    R"("memory_mb":256,"disk_mb":1024,"log_guid":"log-1","ports":[8080],)"
    R"("env":[{"name":"A","value":"b<c"}],)"
    R"("action":{"run":{"path":"/bin/sleep","args":["100"],"user":"vcap"}},)"
    R"("routes":{"cf-router":[{"hostnames":["a.example.com"],"port":8080}]},)"
    R"("metric_tags":{"source_id":{"static":"app"},"index":{"dynamic":"INDEX"}}})";

constexpr char kTaskSpec[] =
    R"({"task_guid":"t-1","domain":"cf-tasks","rootfs":"preloaded:cflinuxfs4","memory_mb":10,)"
    R"("action":{"run":{"path":"/bin/true","user":"vcap"}},"result_file":"/tmp/result"})";

class CliE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bbs_ = std::make_unique<testing::BbsProcess>(
        BBS_BINARY, dir_.path(), std::vector<std::string>{"-locketListenAddress=127.0.0.1:0"});
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    url_ = "http://127.0.0.1:" + std::to_string(bbs_->port());
    locket_ = LocketAddress(*bbs_);
    ASSERT_FALSE(locket_.empty());
  }

  Env BbsEnv() const { return {{"BBS_URL", url_}}; }
  Env LocketEnv() const { return {{"LOCKET_API_LOCATION", locket_}, {"LOCKET_PLAINTEXT", "true"}}; }

  CliRun Cli(const std::vector<std::string>& args) { return RunCli(args, BbsEnv()); }
  // Runs a verb that must succeed silently.
  void Ok(const std::vector<std::string>& args) {
    CliRun r = Cli(args);
    ASSERT_EQ(r.code, 0) << args[0] << ": " << r.err;
    EXPECT_EQ(r.out, "");
  }
  void DesireLrp() { Ok({"create-desired-lrp", kLrpSpec}); }
  void RegisterCell(const std::string& cell) {
    CliRun r = RunCli({"claim-presence", "-k", cell, "-o", "rep-" + cell, "-t", "60", "-v",
                       R"({"cell_id":")" + cell +
                           R"(","rep_address":"http://10.0.0.1:1800","zone":"z1",)"
                           R"("capacity":{"memory_mb":4096,"disk_mb":8192,"containers":100},)"
                           R"("rep_url":"https://)" +
                           cell + R"(.service.cf.internal:1801"})"},
                      LocketEnv());
    ASSERT_EQ(r.code, 0) << r.err;
  }

  // What a rep does: claims and starts instance `index` of pg-1 on `cell`; crashes it once
  // when `crash` (the instance then restarts or stays CRASHED, as the restart policy says).
  void Place(int index, const std::string& cell, bool crash) {
    HttpClient client(*url::ParseUrl(url_), {}, std::chrono::seconds(5));
    models::ClaimActualLRPRequest claim;
    claim.set_process_guid("pg-1");
    claim.set_index(index);
    claim.mutable_actual_lrp_instance_key()->set_instance_guid("ig-" + std::to_string(index));
    claim.mutable_actual_lrp_instance_key()->set_cell_id(cell);
    auto claimed = Call<models::ActualLRPLifecycleResponse>(client, "/v1/actual_lrps/claim", claim);
    ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
    models::StartActualLRPRequest start;
    start.mutable_actual_lrp_key()->set_process_guid("pg-1");
    start.mutable_actual_lrp_key()->set_index(index);
    start.mutable_actual_lrp_key()->set_domain("cf-apps");
    *start.mutable_actual_lrp_instance_key() = claim.actual_lrp_instance_key();
    start.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
    auto started =
        Call<models::ActualLRPLifecycleResponse>(client, "/v1/actual_lrps/start.r1", start);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    if (!crash) return;
    models::CrashActualLRPRequest crashed;
    *crashed.mutable_actual_lrp_key() = start.actual_lrp_key();
    *crashed.mutable_actual_lrp_instance_key() = claim.actual_lrp_instance_key();
    crashed.set_error_message("exit status 1");
    auto r = Call<models::ActualLRPLifecycleResponse>(client, "/v1/actual_lrps/crash", crashed);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // Makes probe events until `events` prints them: its streams are then open. Replaces a sleep.
  void SyncLrps(Background& events, const std::vector<std::string>& types) {
    events.Mark();
    for (int i = 0; i < 50; ++i) {
      Ok({"create-desired-lrp", R"({"process_guid":"probe-)" + std::to_string(probes_++) +
                                    R"(","domain":"probe","rootfs":"r:x","instances":1,)"
                                    R"("metric_tags":{"s":{"static":"x"}},)"
                                    R"("action":{"run":{"path":"/x","user":"u"}}})"});
      if (events.SawProbe(types, 200ms)) return;
    }
    FAIL() << "the event stream never opened";
  }
  void SyncTasks(Background& events) {
    events.Mark();
    for (int i = 0; i < 50; ++i) {
      Ok({"create-task", R"({"task_guid":"probe-)" + std::to_string(probes_++) +
                             R"(","domain":"probe","rootfs":"r:x",)"
                             R"("action":{"run":{"path":"/x","user":"u"}}})"});
      if (events.SawProbe({"task_created"}, 200ms)) return;
    }
    FAIL() << "the event stream never opened";
  }

  int probes_ = 0;
  testing::TempDir dir_;
  std::unique_ptr<testing::BbsProcess> bbs_;
  std::string url_;
  std::string locket_;
};

TEST_F(CliE2eTest, SetDomainThenDomainsPrintsEachDomainAsAJsonString) {
  Ok({"set-domain", "cf-apps"});
  Ok({"set-domain", "cf-tasks", "--ttl", "120"});
  CliRun r = Cli({"domains"});
  ASSERT_EQ(r.code, 0) << r.err;
  ExpectGolden("domains", r.out);
}

TEST_F(CliE2eTest, SetDomainRejectsANegativeTtlWithExitCode3) {
  CliRun r = Cli({"set-domain", "cf-apps", "-t", "-5"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')), "Error: ttl is negative");
}

TEST_F(CliE2eTest, DesiredLrpVerbsPrintCfdotsJsonShape) {
  DesireLrp();
  CliRun list = Cli({"desired-lrps", "-d", "cf-apps"});
  ASSERT_EQ(list.code, 0) << list.err;
  ExpectGolden("desired_lrps", list.out);
  CliRun one = Cli({"desired-lrp", "pg-1"});
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(one.out, list.out);
  CliRun infos = Cli({"desired-lrp-scheduling-infos"});
  ASSERT_EQ(infos.code, 0) << infos.err;
  ExpectGolden("desired_lrp_scheduling_infos", infos.out);
  EXPECT_EQ(Cli({"desired-lrps", "-d", "other"}).out, "");
}

TEST_F(CliE2eTest, AnUnknownDesiredLrpIsABbsErrorWithExitCode4) {
  CliRun r = Cli({"desired-lrp", "missing"});
  EXPECT_EQ(r.code, 4);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "Error: BBS error\nType 13: ResourceNotFound\nMessage: the requested resource could "
            "not be found\n");
}

TEST_F(CliE2eTest, CreatingAnExistingDesiredLrpReportsResourceExists) {
  DesireLrp();
  CliRun r = Cli({"create-desired-lrp", kLrpSpec});
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("Type 12: ResourceExists"), std::string::npos) << r.err;
}

TEST_F(CliE2eTest, CreateDesiredLrpReadsItsSpecFromAFile) {
  std::string path = dir_.path() + "/lrp.json";
  std::ofstream(path) << kLrpSpec;
  Ok({"create-desired-lrp", "@" + path});
  EXPECT_NE(Cli({"desired-lrp", "pg-1"}).out.find("\"process_guid\":\"pg-1\""), std::string::npos);
  CliRun missing = Cli({"create-desired-lrp", "@" + dir_.path() + "/nope.json"});
  EXPECT_EQ(missing.code, 3);
}

TEST_F(CliE2eTest, UpdateDesiredLrpScalesAndDeleteRemovesIt) {
  DesireLrp();
  Ok({"update-desired-lrp", "pg-1", R"({"instances":3,"annotation":"scaled"})"});
  CliRun lrp = Cli({"desired-lrp", "pg-1"});
  EXPECT_NE(lrp.out.find("\"instances\":3"), std::string::npos) << lrp.out;
  EXPECT_NE(lrp.out.find("\"annotation\":\"scaled\""), std::string::npos) << lrp.out;
  CliRun actual = Cli({"actual-lrps", "-p", "pg-1"});
  EXPECT_EQ(std::count(actual.out.begin(), actual.out.end(), '\n'), 3) << actual.out;
  Ok({"delete-desired-lrp", "pg-1"});
  EXPECT_EQ(Cli({"desired-lrp", "pg-1"}).code, 4);
}

TEST_F(CliE2eTest, ActualLrpVerbsFilterAndPrintCfdotsJsonShape) {
  DesireLrp();
  CliRun all = Cli({"actual-lrps"});
  ASSERT_EQ(all.code, 0) << all.err;
  ExpectGolden("actual_lrps", all.out);
  CliRun one = Cli({"actual-lrps", "--process-guid=pg-1", "-i", "1", "-d", "cf-apps"});
  ASSERT_EQ(one.code, 0) << one.err;
  ExpectGolden("actual_lrps_index_1", one.out);
  EXPECT_EQ(Cli({"actual-lrps", "-c", "no-such-cell"}).out, "");
  CliRun groups = Cli({"actual-lrp-groups"});
  ASSERT_EQ(groups.code, 0) << groups.err;
  ExpectGolden("actual_lrp_groups", groups.out);
  CliRun for_guid = Cli({"actual-lrp-groups-for-guid", "pg-1"});
  EXPECT_EQ(for_guid.out, groups.out);
  CliRun index = Cli({"actual-lrp-groups-for-guid", "pg-1", "-i", "0"});
  ASSERT_EQ(index.code, 0) << index.err;
  ExpectGolden("actual_lrp_groups_for_guid_index_0", index.out);
  CliRun bad = Cli({"actual-lrp-groups-for-guid", "pg-1", "-i", "x"});
  EXPECT_EQ(bad.code, 3);
  EXPECT_NE(bad.err.find("Index must be a non-negative integer"), std::string::npos);
}

TEST_F(CliE2eTest, RetireActualLrpRemovesTheInstance) {
  DesireLrp();
  Ok({"retire-actual-lrp", "pg-1", "1"});
  CliRun left = Cli({"actual-lrps", "-p", "pg-1"});
  EXPECT_EQ(std::count(left.out.begin(), left.out.end(), '\n'), 1) << left.out;
  EXPECT_NE(left.out.find("\"index\":0"), std::string::npos);
  CliRun bad = Cli({"retire-actual-lrp", "pg-1"});
  EXPECT_EQ(bad.code, 3);
  EXPECT_EQ(bad.err.substr(0, bad.err.find('\n')), "Error: Missing arguments");
}

TEST_F(CliE2eTest, TaskVerbsCreateListShowCancelAndDelete) {
  Ok({"create-task", kTaskSpec});
  CliRun list = Cli({"tasks", "-d", "cf-tasks"});
  ASSERT_EQ(list.code, 0) << list.err;
  ExpectGolden("tasks", list.out);
  CliRun one = Cli({"task", "t-1"});
  EXPECT_EQ(one.out, list.out);
  Ok({"cancel-task", "t-1"});
  CliRun cancelled = Cli({"task", "t-1"});
  ExpectGolden("task_cancelled", cancelled.out);
  Ok({"delete-task", "t-1"});
  EXPECT_EQ(Cli({"tasks"}).out, "");
  CliRun gone = Cli({"cancel-task", "t-1"});
  EXPECT_EQ(gone.code, 4);
  EXPECT_NE(gone.err.find("ResourceNotFound"), std::string::npos) << gone.err;
}

TEST_F(CliE2eTest, CellsAndCellShowRegisteredPresences) {
  RegisterCell("cell-2");
  RegisterCell("cell-1");
  CliRun cells = Cli({"cells"});
  ASSERT_EQ(cells.code, 0) << cells.err;
  ExpectGolden("cells", cells.out);
  CliRun one = Cli({"cell", "cell-1"});
  ASSERT_EQ(one.code, 0) << one.err;
  ExpectGolden("cell", one.out);
  EXPECT_EQ(Cli({"cell", "cell-9"}).code, 4);
}

TEST_F(CliE2eTest, LocketVerbsClaimListAndReleaseLocksAndPresences) {
  Env env = LocketEnv();
  ASSERT_EQ(RunCli({"claim-lock", "-k", "lock-a", "-o", "me", "-v", "v1", "-t", "30"}, env).code,
            0);
  RegisterCell("cell-1");
  CliRun locks = RunCli({"locks"}, env);
  ASSERT_EQ(locks.code, 0) << locks.err;
  ExpectGolden("locks", locks.out);
  CliRun presences = RunCli({"presences"}, env);
  ExpectGolden("presences", presences.out);
  CliRun taken = RunCli({"claim-lock", "-k", "lock-a", "-o", "other", "-t", "30"}, env);
  EXPECT_EQ(taken.code, 4);
  EXPECT_EQ(taken.err, "Error: rpc error: code = AlreadyExists desc = lock-collision\n");
  CliRun no_ttl = RunCli({"claim-lock", "-k", "lock-b", "-o", "me"}, env);
  EXPECT_EQ(no_ttl.code, 3);
  EXPECT_NE(no_ttl.err.find("ttl should be an integer greater than zero"), std::string::npos);
  ASSERT_EQ(RunCli({"release-lock", "-k", "lock-a", "-o", "me"}, env).code, 0);
  EXPECT_EQ(RunCli({"locks"}, env).out, "");
  CliRun no_locket = RunCli({"locks"}, {});
  EXPECT_EQ(no_locket.code, 3);
  EXPECT_NE(no_locket.err.find("Locket API Location not set"), std::string::npos);
  CliRun no_tls = RunCli({"locks", "--locketAPILocation", locket_}, {});
  EXPECT_EQ(no_tls.code, 3);
  EXPECT_NE(no_tls.err.find("--locketCACertFile must be specified"), std::string::npos);
}

TEST_F(CliE2eTest, LrpEventsPrintsTypedEventsAsTheyHappen) {
  Background events({"lrp-events", "--exclude-actual-lrp-groups"}, BbsEnv());
  SyncLrps(events, {"desired_lrp_created"});
  DesireLrp();
  auto lines = events.WaitLines(3, 10s);
  ASSERT_GE(lines.size(), 3u);
  std::multiset<std::string> types;
  for (const auto& l : lines) types.insert(l.substr(0, l.find(",\"data\"")));
  EXPECT_EQ(types.count(R"({"type":"desired_lrp_created")"), 1u);
  EXPECT_EQ(types.count(R"({"type":"actual_lrp_instance_created")"), 2u);
  for (const auto& l : lines) {
    if (l.find("desired_lrp_created") != std::string::npos)
      ExpectGolden("lrp_events_desired", l + "\n");
  }
}

TEST_F(CliE2eTest, LrpEventsWithGroupsAlsoPrintsDeprecatedGroupEventsAndWarns) {
  CliRun warn = RunCli({"lrp-events", "--timeout", "1"}, {{"BBS_URL", "http://127.0.0.1:1"}});
  EXPECT_NE(warn.err.find("are deprecated. Use \"--exclude-actual-lrp-groups\""),
            std::string::npos);
  EXPECT_EQ(warn.code, 5);
  Background events({"lrp-events"}, BbsEnv());
  SyncLrps(events, {"actual_lrp_created", "actual_lrp_instance_created"});
  DesireLrp();
  auto lines = events.WaitLines(5, 10s);
  int groups = 0;
  for (const auto& l : lines) groups += l.rfind(R"({"type":"actual_lrp_created")", 0) == 0;
  EXPECT_EQ(groups, 2);
}

TEST_F(CliE2eTest, LrpEventsWithACellIdShowsOnlyThatCellsInstanceEvents) {
  DesireLrp();
  Background events({"lrp-events", "-x", "-c", "cell-2"}, BbsEnv());
  SyncLrps(events, {"desired_lrp_created"});
  Place(0, "cell-1", false);
  Place(1, "cell-2", false);
  Ok({"update-desired-lrp", "pg-1", R"({"annotation":"a"})"});
  // cell-2's claim and start, then the desired LRP change (never filtered).
  auto lines = events.WaitLines(3, 10s);
  ASSERT_EQ(lines.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(lines[i].rfind(R"({"type":"actual_lrp_instance_changed")", 0), 0u) << lines[i];
    EXPECT_NE(lines[i].find(R"("cell_id":"cell-2")"), std::string::npos) << lines[i];
  }
  EXPECT_EQ(lines[2].rfind(R"({"type":"desired_lrp_changed")", 0), 0u) << lines[2];
}

TEST_F(CliE2eTest, TaskEventsFollowsTheStreamAcrossABbsRestart) {
  Background events({"task-events"}, BbsEnv());
  SyncTasks(events);
  Ok({"create-task", kTaskSpec});
  auto lines = events.WaitLines(1, 10s);
  ASSERT_EQ(lines.size(), 1u);
  ExpectGolden("task_events_created", lines[0] + "\n");
  // Kill bbs and start it again on the same port: the stream breaks, bbsctl reconnects (with
  // Last-Event-ID) and keeps printing.
  int port = bbs_->port();
  bbs_->Kill();
  bbs_ = std::make_unique<testing::BbsProcess>(
      BBS_BINARY, dir_.path(),
      std::vector<std::string>{"-address=127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(bbs_->Start()) << bbs_->error();
  EXPECT_TRUE(events.Running());
  SyncTasks(events);  // bbsctl reconnects within a second
  Ok({"cancel-task", "t-1"});
  lines = events.WaitLines(2, 10s);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].rfind(R"({"type":"task_changed")", 0), 0u) << lines[1];
}

TEST_F(CliE2eTest, SummaryPrintsTheSystemOnceAsJson) {
  RegisterCell("cell-1");
  DesireLrp();
  Place(0, "cell-1", false);
  Place(1, "cell-1", true);
  Ok({"create-task", kTaskSpec});
  CliRun r = Cli({"summary"});
  ASSERT_EQ(r.code, 0) << r.err;
  ExpectGolden("summary", r.out);
  CliRun metrics = Cli({"summary", "--metricsURL", url_ + "/metrics"});
  EXPECT_NE(metrics.out.find(R"("metrics":{"available":false,"error":")"), std::string::npos)
      << metrics.out;
}

// ---- configuration and errors, as cfdot reports them ----

TEST_F(CliE2eTest, ATimeoutIsABbsTimeoutErrorWithExitCode4) {
  // A listener that never answers: the connection is made, the response never comes.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string silent = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  CliRun r = RunCli({"domains", "--timeout", "1"}, {{"BBS_URL", silent}});
  EXPECT_EQ(r.code, 4);
  EXPECT_EQ(r.err, "Error: BBS error\nType 31: Timeout\nMessage: Post \"" + silent +
                       "/v1/domains/list\": context deadline exceeded (Client.Timeout exceeded "
                       "while awaiting headers)\n");
  CliRun env = RunCli({"domains"}, {{"BBS_URL", silent}, {"CFDOT_TIMEOUT", "1"}});
  EXPECT_EQ(env.code, 4);
  close(fd);
}

TEST_F(CliE2eTest, AMissingBbsUrlIsAValidationError) {
  CliRun r = RunCli({"domains"}, {});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')),
            "Error: BBS URL not set. Please specify one with the '--bbsURL' flag or the "
            "'BBS_URL' environment variable.");
}

TEST_F(CliE2eTest, TheBbsUrlFlagWinsOverTheEnvironment) {
  Ok({"set-domain", "d"});
  CliRun r = RunCli({"domains", "--bbsURL", url_}, {{"BBS_URL", "http://127.0.0.1:1"}});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "\"d\"\n");
}

TEST_F(CliE2eTest, AUrlWithoutHttpSchemeIsAValidationError) {
  CliRun r = RunCli({"domains", "--bbsURL", "ftp://x"}, {});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("does not have an 'http' or 'https' scheme"), std::string::npos);
}

TEST_F(CliE2eTest, HttpsNeedsACaAndAClientCertificateUnlessTold) {
  CliRun no_ca = RunCli({"domains", "--bbsURL", "https://127.0.0.1:1"}, {});
  EXPECT_EQ(no_ca.code, 3);
  EXPECT_NE(no_ca.err.find("--caCertFile must be specified if using HTTPS and --skipCertVerify "
                           "is not set"),
            std::string::npos);
  CliRun no_cert = RunCli({"domains", "--bbsURL", "https://127.0.0.1:1", "--skipCertVerify"}, {});
  EXPECT_EQ(no_cert.code, 3);
  EXPECT_NE(no_cert.err.find("--clientCertFile and --clientKeyFile must both be specified"),
            std::string::npos);
  CliRun bad_env = RunCli({"domains"}, {{"BBS_URL", url_}, {"SKIP_CERT_VERIFY", "maybe"}});
  EXPECT_EQ(bad_env.code, 3);
  EXPECT_NE(bad_env.err.find("is not a valid value for SKIP_CERT_VERIFY"), std::string::npos);
  CliRun missing_ca =
      RunCli({"domains", "--bbsURL", "https://127.0.0.1:1", "--caCertFile", "/nonexistent"}, {});
  EXPECT_EQ(missing_ca.code, 3);
  EXPECT_NE(missing_ca.err.find("CA cert file '/nonexistent' doesn't exist or is not readable: "
                                "open /nonexistent: no such file or directory"),
            std::string::npos)
      << missing_ca.err;
}

TEST_F(CliE2eTest, AnUnreachableBbsExitsWith5AndGosWording) {
  CliRun r = RunCli({"domains"}, {{"BBS_URL", "http://127.0.0.1:1"}});
  EXPECT_EQ(r.code, 5);
  EXPECT_EQ(r.err,
            "Error: Post \"http://127.0.0.1:1/v1/domains/list\": dial tcp 127.0.0.1:1: connect: "
            "connection refused\n");
}

TEST_F(CliE2eTest, FlagErrorsExitLikeCfdot) {
  CliRun unknown = Cli({"domains", "--nope"});
  EXPECT_EQ(unknown.code, 255);
  EXPECT_EQ(unknown.err.substr(0, unknown.err.find('\n')), "Error: unknown flag: --nope");
  CliRun invalid = Cli({"actual-lrps", "-i", "abc"});
  EXPECT_EQ(invalid.code, 3);
  EXPECT_EQ(invalid.err.substr(0, invalid.err.find('\n')),
            "Error: invalid argument \"abc\" for \"-i, --index\" flag: strconv.ParseInt: parsing "
            "\"abc\": invalid syntax");
  CliRun extra = Cli({"domains", "extra"});
  EXPECT_EQ(extra.code, 3);
  EXPECT_EQ(extra.err.substr(0, extra.err.find('\n')), "Error: Too many arguments specified");
  EXPECT_EQ(Cli({"no-such-verb"}).code, 255);
}

TEST_F(CliE2eTest, HelpPrintsAManualPageForEachVerb) {
  CliRun r = RunCli({"help", "actual-lrps"}, {});
  ASSERT_EQ(r.code, 0);
  for (const char* section : {"NAME\n    bbsctl actual-lrps - List actual LRPs", "SYNOPSIS",
                              "DESCRIPTION", "OPTIONS", "-i, --index int", "--bbsURL string",
                              "[environment variable: BBS_URL]", "EXIT STATUS", "EXAMPLES"}) {
    EXPECT_NE(r.out.find(section), std::string::npos) << section;
  }
  EXPECT_EQ(RunCli({"actual-lrps", "--help"}, {}).out, r.out);
  CliRun list = RunCli({"help"}, {});
  EXPECT_NE(list.out.find("retire-actual-lrp"), std::string::npos);
}

TEST_F(CliE2eTest, TheCommittedBashCompletionIsWhatTheBinaryGenerates) {
  CliRun r = RunCli({"completion", "bash"}, {});
  ASSERT_EQ(r.code, 0);
  std::ifstream in(std::string(BBS_SOURCE_DIR) + "/scripts/bbsctl-completion.bash");
  std::stringstream committed;
  committed << in.rdbuf();
  EXPECT_EQ(r.out, committed.str()) << "regenerate with: bbsctl completion bash > "
                                       "scripts/bbsctl-completion.bash";
  // And bash accepts it and completes a verb's flags.
  std::string script = dir_.path() + "/complete.sh";
  std::ofstream(script) << r.out
                        << "COMP_WORDS=(bbsctl actual-lrps --proc); COMP_CWORD=2; _bbsctl; echo "
                           "\"${COMPREPLY[@]}\"\n";
  std::string cmd = "bash " + script + " > " + dir_.path() + "/complete.out 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream out(dir_.path() + "/complete.out");
  std::string line;
  std::getline(out, line);
  EXPECT_EQ(line, "--process-guid");
}

// ---- top, in a pseudo-terminal ----

// bbsctl running on the slave side of a pty; the test reads the screen and types keys.
class PtyCli {
 public:
  PtyCli(const std::vector<std::string>& args, const Env& env, int rows = 40, int cols = 140) {
    winsize ws{};
    ws.ws_row = static_cast<unsigned short>(rows);
    ws.ws_col = static_cast<unsigned short>(cols);
    pid_ = forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) ExecCli(args, env);
  }
  ~PtyCli() {
    if (pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(master_);
  }
  void Type(const std::string& keys) {
    ASSERT_EQ(write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }
  // The last frame drawn (text after the last cursor-home), escape sequences removed.
  std::string Screen() const {
    size_t home = raw_.rfind("\033[H");
    std::string frame = home == std::string::npos ? raw_ : raw_.substr(home);
    static const std::regex kEscape("\033\\[[0-9;?]*[A-Za-z]");
    frame = std::regex_replace(frame, kEscape, "");
    frame.erase(std::remove(frame.begin(), frame.end(), '\r'), frame.end());
    return frame;
  }
  // Reads until the screen contains all of `needles` or `timeout` passes.
  bool WaitFor(const std::vector<std::string>& needles, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::string screen = Screen();
      bool all = std::all_of(needles.begin(), needles.end(), [&](const std::string& n) {
        return screen.find(n) != std::string::npos;
      });
      if (all) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      Pump(100);
    }
  }
  int WaitExit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      Pump(50);
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        // What the child wrote just before it exited may still sit in the pty: read it all.
        while (Pump(50)) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
    }
    return -1;
  }
  const std::string& raw() const { return raw_; }

 private:
  // Reads what the pty has within `ms`; false when nothing came (or the pty is closed).
  bool Pump(int ms) { return ReadWithin(master_, ms, &raw_) > 0; }
  pid_t pid_ = -1;
  int master_ = -1;
  std::string raw_;
};

TEST_F(CliE2eTest, TopShowsTheSystemAndFollowsItsEvents) {
  RegisterCell("cell-1");
  RegisterCell("cell-2");
  DesireLrp();
  Place(0, "cell-1", false);
  PtyCli top({"top"}, BbsEnv());
  ASSERT_TRUE(
      top.WaitFor({"CELLS (2)", "cell-2", "desired 1 (2 instances)", "RUNNING 1  UNCLAIMED 1",
                   "Pending 0", "CRASHING LRPS (0", "CONVERGENCE  unavailable (no --metricsURL)"},
                  15s))
      << top.Screen();
  // cell-1 holds one 256 MB instance.
  EXPECT_NE(top.Screen().find("3840/4096"), std::string::npos) << top.Screen();
  Place(1, "cell-2", true);
  ASSERT_TRUE(top.WaitFor({"CRASHING LRPS (1, crash events 1)", "exit status 1"}, 10s))
      << top.Screen();
  // Changes arrive through the event streams.
  Ok({"create-task", kTaskSpec});
  Ok({"update-desired-lrp", "pg-1", R"({"instances":5})"});
  ASSERT_TRUE(top.WaitFor({"desired 1 (5 instances)", "RUNNING 1  UNCLAIMED 4", "Pending 1"}, 10s))
      << top.Screen();
  // Keys: filter to cell-2, then quit.
  top.Type("/cell-2\r");
  ASSERT_TRUE(top.WaitFor({"CELLS (1)", "[/]filter:\"cell-2\""}, 5s)) << top.Screen();
  EXPECT_EQ(top.Screen().find("cell-1 "), std::string::npos) << top.Screen();
  top.Type("s");
  ASSERT_TRUE(top.WaitFor({"[s]ort:instances"}, 5s)) << top.Screen();
  top.Type("q");
  EXPECT_EQ(top.WaitExit(10s), 0);
}

TEST_F(CliE2eTest, TopWithoutATerminalTellsToUseSummary) {
  CliRun r = Cli({"top"});
  EXPECT_EQ(r.code, 5);
  EXPECT_NE(r.err.find("top needs a terminal"), std::string::npos) << r.err;
}

TEST_F(CliE2eTest, LongListsShowProgressOnATerminalStderr) {
  Ok({"create-desired-lrp",
      R"({"process_guid":"big","domain":"d","rootfs":"r:x","instances":1200,)"
      R"("metric_tags":{"source_id":{"static":"big"}},"action":{"run":{"path":"/x","user":"u"}}})"});
  // stdout to a file, stderr to the pty.
  std::string out = dir_.path() + "/out.jsonl";
  PtyCli list({"actual-lrps", "-p", "big"}, BbsEnv());
  (void)out;
  EXPECT_EQ(list.WaitExit(20s), 0);
  EXPECT_NE(list.raw().find("actual LRPs: 1001/1200"), std::string::npos);
  EXPECT_NE(list.raw().find("actual LRPs: 1200/1200"), std::string::npos);
}

TEST_F(CliE2eTest, SummaryAndTopShowConvergenceAndRequestRowsFromTheMetricsEndpoint) {
  StaticHttpServer metrics(
      "# TYPE ConvergenceLRPRuns counter\nConvergenceLRPRuns 7\nConvergenceLRPDuration 1500000\n"
      "RequestCount{route=\"Ping\"} 40\nRequestCount{route=\"Cells\"} 2\n"
      "RequestLatency 250000\n");
  std::string url = "http://127.0.0.1:" + std::to_string(metrics.port()) + "/metrics";
  CliRun r = Cli({"summary", "--metricsURL", url});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(R"("metrics":{"available":true,"convergence_lrp_duration_ns":1500000,)"
                       R"("convergence_lrp_runs":7,"request_count":42,)"
                       R"("request_latency_max_ns":250000})"),
            std::string::npos)
      << r.out;
  PtyCli top({"top"}, {{"BBS_URL", url_}, {"BBS_METRICS_URL", url}});
  ASSERT_TRUE(top.WaitFor(
      {"CONVERGENCE  lrp runs 7  last lrp pass 1500000 ns", "REQUESTS     total 42"}, 15s))
      << top.Screen();
  top.Type("q");
  EXPECT_EQ(top.WaitExit(10s), 0);
}

// ---- TLS: bbs behind a mutual-TLS terminating proxy ----

TEST_F(CliE2eTest, VerbsAndTopWorkOverMutualTls) {
  TlsTestPki pki(dir_.path());
  ASSERT_TRUE(pki.ok()) << pki.error();
  TlsTestProxy proxy(pki, bbs_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.error();
  Env env = {{"BBS_URL", "https://127.0.0.1:" + std::to_string(proxy.port())},
             {"CA_CERT_FILE", pki.ca_file()},
             {"CLIENT_CERT_FILE", pki.client_cert_file()},
             {"CLIENT_KEY_FILE", pki.client_key_file()}};
  Ok({"set-domain", "secure"});
  CliRun r = RunCli({"domains"}, env);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "\"secure\"\n");
  // A server whose certificate the CA did not sign is refused.
  Env wrong_ca = env;
  wrong_ca["CA_CERT_FILE"] = pki.other_ca_file();
  CliRun refused = RunCli({"domains"}, wrong_ca);
  EXPECT_EQ(refused.code, 5);
  EXPECT_NE(refused.err.find("x509"), std::string::npos) << refused.err;
  Env skip = env;
  skip.erase("CA_CERT_FILE");
  skip["SKIP_CERT_VERIFY"] = "true";
  EXPECT_EQ(RunCli({"domains"}, skip).out, "\"secure\"\n");

  PtyCli top({"top"}, env);
  ASSERT_TRUE(top.WaitFor({"bbsctl top - https://127.0.0.1:", "desired 0"}, 15s)) << top.Screen();
  Ok({"create-desired-lrp", kLrpSpec});
  ASSERT_TRUE(top.WaitFor({"desired 1 (2 instances)", "UNCLAIMED 2"}, 10s)) << top.Screen();
  top.Type("q");
  EXPECT_EQ(top.WaitExit(10s), 0) << top.raw().substr(
      top.raw().size() > 3000 ? top.raw().size() - 3000 : 0);
}

}  // namespace
}  // namespace bbs::cli
