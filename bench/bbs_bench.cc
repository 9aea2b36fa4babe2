// bbs-bench: a load tool that drives a running bbs over its real HTTP API the way a Diego
// deployment does. It populates N desired LRPs with one RUNNING instance each on M simulated
// cells, then runs trials in which the cells' bulk loops (list + start heartbeats + re-claims),
// the route-emitter and Cloud Controller syncs, event subscribers and one convergence pass run
// concurrently. It reports per-operation latency and throughput, the server's peak RSS and
// correctness checks; the exit code is non-zero only when a correctness check failed.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <google/protobuf/arena.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bbs/http/test_client.h"
#include "bbs/models/models.h"
#include "bbs/testing/bbs_process.h"

namespace bbs::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

constexpr std::string_view kDomain = "benchmark-bbs";

struct Options {
  std::string address = "127.0.0.1:8889";
  int desired = 10000;
  int cells = 100;
  int workers = 16;
  int trials = 3;
  double cycle_seconds = 30;
  double claim_percent = 5;
  std::string json_path;
  int pid = 0;
  std::string spawn_bbs;
  int lists = 0;  // > 0: only time this many rounds of the two full lists, then exit
  uint64_t seed = 1;
  // "" = the Diego workload; "heartbeat" = populate, then only identical start heartbeats from
  // every worker for saturate_seconds.
  std::string saturate;
  double saturate_seconds = 10;
  // With saturate = "heartbeat": a plain HTTP server (http://127.0.0.1:PORT/path) answering an
  // empty 200, saturated the same way first (the machine's HTTP ceiling).
  std::string ceiling_url;
  uint16_t ceiling_port = 0;
  std::string ceiling_path = "/";
  // With saturate = "heartbeat": also run wrk (2 threads, `workers` connections) for this many
  // seconds, POSTing one instance's heartbeat, against bbs and, with --ceiling-url, the ceiling.
  double wrk_seconds = 0;
  bool spawn_tls = false;  // with --spawn-bbs: serve the API over mutual TLS (a test PKI)
  std::string ca_file, cert_file, key_file;  // client TLS for --address
};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// --- latency recording -------------------------------------------------------------------

struct OpSamples {
  std::vector<double> latency_ms;
  int64_t errors = 0;
  int64_t refused = 0;  // expected refusals (a re-claim answered ActualLRPCannotBeClaimed)
  double phase_seconds = 0;
  std::string last_error;
};

// Samples per operation name. A Recorder belongs to one thread; Merge() folds it into a shared
// one under the caller's lock.
class Recorder {
 public:
  OpSamples& Op(const std::string& name) { return ops_[name]; }
  void Merge(const Recorder& other) {
    for (const auto& [name, s] : other.ops_) {
      OpSamples& d = ops_[name];
      d.latency_ms.insert(d.latency_ms.end(), s.latency_ms.begin(), s.latency_ms.end());
      d.errors += s.errors;
      d.refused += s.refused;
      if (!s.last_error.empty()) d.last_error = s.last_error;
    }
  }
  std::map<std::string, OpSamples>& ops() { return ops_; }

 private:
  std::map<std::string, OpSamples> ops_;
};

class SharedRecorder {
 public:
  void Merge(const Recorder& r) {
    std::lock_guard lock(mu_);
    all_.Merge(r);
  }
  Recorder& all() { return all_; }

 private:
  std::mutex mu_;
  Recorder all_;
};

enum class Outcome { kOk, kRefused, kError };

// Sends one protobuf request and parses the response into `response` (every unary response
// carries `Error error = 1`). A BBS error of type `refusal` counts as an expected refusal. The
// latency recorded is end to end: request, server, transfer and the full decode of the
// response (for the big lists, pass a `response` allocated on a protobuf Arena).
template <typename Response>
Outcome Call(http::TestClient& client, Recorder& rec, const std::string& op, std::string_view path,
             const google::protobuf::MessageLite& request, Response* response,
             models::Error::Type refusal = models::Error::UnknownError) {
  OpSamples& s = rec.Op(op);
  std::string body = request.SerializeAsString();
  auto start = Clock::now();
  auto r = client.Send("POST", path, body, {{"Content-Type", "application/x-protobuf"}});
  if (!r.ok()) {
    s.latency_ms.push_back(SecondsSince(start) * 1000.0);
    ++s.errors;
    s.last_error = r.status().ToString();
    return Outcome::kError;
  }
  const bool parsed = r->status == 200 && response->ParseFromString(r->body);
  s.latency_ms.push_back(SecondsSince(start) * 1000.0);
  if (!parsed) {
    ++s.errors;
    s.last_error = "HTTP " + std::to_string(r->status);
    return Outcome::kError;
  }
  if (response->has_error()) {
    if (refusal != models::Error::UnknownError && response->error().type() == refusal) {
      ++s.refused;
      return Outcome::kRefused;
    }
    ++s.errors;
    s.last_error =
        models::Error::Type_Name(response->error().type()) + ": " + response->error().message();
    return Outcome::kError;
  }
  return Outcome::kOk;
}

// The Arena of a full-list decode: blocks of up to 8 MiB (a 250k list decodes to a few hundred
// MiB), so the arena asks malloc for big blocks rarely.
google::protobuf::ArenaOptions ListArenaOptions() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 << 10;
  options.max_block_size = 8 << 20;
  return options;
}

// The client of the big list bodies over plain HTTP: a blocking keep-alive HTTP/1.1 connection
// that POSTs an empty request and reads the body, whose length the head gives, straight into
// one string with large recv() calls (the generic TestClient goes through Beast's parser in
// 64 KiB steps, ~3x slower than curl on a 31 MB body). Only what a list response needs: a 200
// with Content-Length.
class ListClient {
 public:
  explicit ListClient(uint16_t port) : port_(port) {}
  ~ListClient() { Close(); }
  ListClient(const ListClient&) = delete;
  ListClient& operator=(const ListClient&) = delete;

  // POSTs an empty protobuf request to `path`; the response body into *body. False (with the
  // reason in *error) on any failure.
  bool Post(std::string_view path, std::string* body, std::string* error) {
    if (fd_ < 0 && !Connect(error)) return false;
    std::string request = "POST " + std::string(path) +
                          " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                          "\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
    for (size_t sent = 0; sent < request.size();) {
      ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return Fail("send", error);
      sent += static_cast<size_t>(n);
    }
    size_t head_end;
    while ((head_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!RecvSome(error)) return false;
    }
    std::string head = pending_.substr(0, head_end + 2);
    pending_.erase(0, head_end + 4);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (head.compare(0, 13, "http/1.1 200 ") != 0) {
      *error = "not 200: " + head.substr(0, head.find('\r'));
      Close();
      return false;
    }
    size_t at = head.find("\r\ncontent-length:");
    if (at == std::string::npos) {
      *error = "no Content-Length";
      Close();
      return false;
    }
    const size_t length = std::strtoull(head.c_str() + at + 17, nullptr, 10);
    body->resize(length);
    size_t got = std::min(length, pending_.size());
    std::memcpy(body->data(), pending_.data(), got);
    pending_.erase(0, got);
    while (got < length) {
      ssize_t n = ::recv(fd_, body->data() + got, length - got, 0);
      if (n <= 0) return Fail("recv body", error);
      got += static_cast<size_t>(n);
    }
    if (head.find("\r\nconnection: close") != std::string::npos) Close();
    return true;
  }

 private:
  bool Connect(std::string* error) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return Fail("socket", error);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval timeout{120, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return Fail("connect", error);
    }
    pending_.clear();
    return true;
  }
  bool RecvSome(std::string* error) {
    char buf[16 << 10];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return Fail("recv head", error);
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }
  bool Fail(const char* what, std::string* error) {
    *error = std::string(what) + ": " + (errno != 0 ? std::strerror(errno) : "closed");
    Close();
    return false;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    pending_.clear();
  }

  const uint16_t port_;
  int fd_ = -1;
  std::string pending_;  // bytes read past the end of the last head
};

// Call() for a full list over a ListClient: the latency is end to end, decode included.
template <typename Response>
Outcome CallList(ListClient& client, Recorder& rec, const std::string& op, std::string_view path,
                 Response* response) {
  OpSamples& s = rec.Op(op);
  auto start = Clock::now();
  std::string body, error;
  const bool ok = client.Post(path, &body, &error) && response->ParseFromString(body);
  s.latency_ms.push_back(SecondsSince(start) * 1000.0);
  if (!ok) {
    ++s.errors;
    s.last_error = error.empty() ? "undecodable body" : error;
    return Outcome::kError;
  }
  if (response->has_error()) {
    ++s.errors;
    s.last_error = response->error().message();
    return Outcome::kError;
  }
  return Outcome::kOk;
}

// --- the simulated workload ----------------------------------------------------------------

std::string Hex(uint64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%0*llx", width, static_cast<unsigned long long>(v));
  return buf;
}

std::string UuidLike(uint64_t a, uint64_t b) {
  return Hex(a & 0xffffffff, 8) + "-" + Hex((b >> 48) & 0xffff, 4) + "-4" +
         Hex((b >> 36) & 0xfff, 3) + "-8" + Hex((b >> 24) & 0xfff, 3) + "-" +
         Hex(b & 0xffffffffffff, 12);
}

std::string ProcessGuid(int i) {
  return UuidLike(0xa0000000u + i, 0x1234567890abull * (i + 1)) + "-" +
         UuidLike(0xb0000000u + i, 0xfedcba98ull * (i + 7));
}

std::string CellId(int k) { return "cell-" + std::to_string(k); }

std::string CellAddress(int k) {
  return "10.0." + std::to_string(k / 250) + "." + std::to_string(k % 250 + 1);
}

models::DesiredLRP MakeDesiredLrp(int i) {
  models::DesiredLRP d;
  std::string guid = ProcessGuid(i);
  std::string app_guid = guid.substr(0, 36);
  d.set_process_guid(guid);
  d.set_domain(std::string(kDomain));
  d.set_root_fs("preloaded:cflinuxfs4");
  d.set_instances(1);
  d.set_memory_mb(1024);
  d.set_disk_mb(512);
  d.set_max_pids(1024);
  d.set_cpu_weight(10);
  d.set_log_guid(app_guid);
  d.set_log_source("CELL");
  d.set_annotation("bench-" + std::to_string(i));
  d.add_ports(8080);
  d.add_ports(2222);
  d.set_start_timeout_ms(60000);
  auto* env = d.add_environment_variables();
  env->set_name("LANG");
  env->set_value("en_US.UTF-8");

  auto* dl = d.mutable_setup()->mutable_download_action();
  dl->set_artifact("droplet");
  dl->set_from("http://cloud-controller-ng.service.cf.internal:9022/internal/v4/droplets/" +
               app_guid + "/download");
  dl->set_to(".");
  dl->set_cache_key("droplets-" + guid);
  dl->set_user("vcap");
  dl->set_checksum_algorithm("sha256");
  dl->set_checksum_value(Hex(0x5eedull * (i + 1), 16) + Hex(0xc0ffeeull * (i + 3), 16) +
                         Hex(0xbeefull * (i + 5), 16) + Hex(0xfaceull * (i + 9), 16));

  auto* run = d.mutable_action()->mutable_run_action();
  run->set_path("/tmp/lifecycle/launcher");
  run->add_args("app");
  run->add_args("bundle exec rackup config.ru -p $PORT -o 0.0.0.0");
  run->add_args(R"({"start_command":"bundle exec rackup config.ru -p $PORT"})");
  run->set_dir("/home/vcap/app");
  run->set_user("vcap");
  run->set_log_source("APP/PROC/WEB");
  run->mutable_resource_limits()->set_nofile(16384);
  const std::pair<const char*, std::string> kEnv[] = {
      {"VCAP_APPLICATION", R"({"application_id":")" + app_guid +
                               R"(","application_name":"bench-app-)" + std::to_string(i) +
                               R"(","space_name":"bench","organization_name":"bench-org"})"},
      {"VCAP_SERVICES", "{}"},
      {"MEMORY_LIMIT", "1024m"},
      {"PORT", "8080"},
      {"CF_INSTANCE_PORT", "8080"},
  };
  for (const auto& [name, value] : kEnv) {
    auto* e = run->add_env();
    e->set_name(name);
    e->set_value(value);
  }

  auto* mon = d.mutable_monitor()->mutable_run_action();
  mon->set_path("/tmp/lifecycle/healthcheck");
  mon->add_args("-port=8080");
  mon->set_user("vcap");
  mon->set_log_source("HEALTH/" + std::to_string(i));
  mon->set_suppress_log_output(true);

  auto& routes = *d.mutable_routes()->mutable_routes();
  routes["cf-router"] = R"([{"hostnames":["bench-app-)" + std::to_string(i) +
                        R"(.apps.example.com"],"port":8080,"route_service_url":null,)"
                        R"("isolation_segment":null}])";
  routes["tcp-router"] = R"([{"router_group_guid":"bench-tcp","external_port":)" +
                         std::to_string(40000 + i % 20000) + R"(,"container_port":8080}])";

  auto* rule = d.add_egress_rules();
  rule->set_protocol("tcp");
  rule->add_destinations("0.0.0.0/0");
  rule->add_ports(80);
  rule->add_ports(443);

  (*d.mutable_metric_tags())["source_id"].set_static_(app_guid);
  return d;
}

models::StartActualLRPRequest MakeStart(int i, int cell) {
  models::StartActualLRPRequest s;
  s.mutable_actual_lrp_key()->set_process_guid(ProcessGuid(i));
  s.mutable_actual_lrp_key()->set_index(0);
  s.mutable_actual_lrp_key()->set_domain(std::string(kDomain));
  s.mutable_actual_lrp_instance_key()->set_instance_guid(UuidLike(0xc0000000u + i, i + 11));
  s.mutable_actual_lrp_instance_key()->set_cell_id(CellId(cell));
  auto* net = s.mutable_actual_lrp_net_info();
  net->set_address(CellAddress(cell));
  net->set_instance_address("10.255." + std::to_string(i / 250 % 250) + "." +
                            std::to_string(i % 250 + 1));
  auto* port = net->add_ports();
  port->set_container_port(8080);
  port->set_host_port(61000 + i % 4000);
  port = net->add_ports();
  port->set_container_port(2222);
  port->set_host_port(65000 - i % 4000);
  (*s.mutable_metric_tags())["source_id"] = ProcessGuid(i).substr(0, 36);
  s.set_availability_zone("z" + std::to_string(cell % 3 + 1));
  return s;
}

// The start heartbeat a rep sends for an instance it runs: the listed data, unchanged.
models::StartActualLRPRequest HeartbeatFor(const models::ActualLRP& a) {
  models::StartActualLRPRequest s;
  *s.mutable_actual_lrp_key() = a.actual_lrp_key();
  *s.mutable_actual_lrp_instance_key() = a.actual_lrp_instance_key();
  *s.mutable_actual_lrp_net_info() = a.actual_lrp_net_info();
  *s.mutable_actual_lrp_internal_routes() = a.actual_lrp_internal_routes();
  *s.mutable_metric_tags() = a.metric_tags();
  if (a.has_routable()) s.set_routable(a.routable());
  s.set_availability_zone(a.availability_zone());
  return s;
}

// --- event subscribers ---------------------------------------------------------------------

// Counts the events of one stream ("event: " lines) on its own thread until Stop().
class Subscriber {
 public:
  Subscriber(uint16_t port, std::optional<http::TestClientTls> tls, std::string cell_id)
      : port_(port), tls_(std::move(tls)), cell_id_(std::move(cell_id)) {}
  ~Subscriber() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool ready() const { return ready_; }
  bool failed() const { return failed_; }
  int64_t count() const { return count_; }
  const std::string& cell_id() const { return cell_id_; }

 private:
  void Run() {
    http::TestClient client(port_, tls_, std::chrono::seconds(10));
    std::string body;
    if (!cell_id_.empty()) {
      models::EventsByCellId filter;
      filter.set_cell_id(cell_id_);
      body = filter.SerializeAsString();
    }
    if (!client.StartRequest("POST", "/v1/events/lrp_instances.r1", body).ok()) {
      failed_ = true;
      return;
    }
    auto head = client.ReadUntil("\r\n\r\n");
    if (!head.ok() || head->find(" 200 ") == std::string::npos) {
      failed_ = true;
      return;
    }
    ready_ = true;
    constexpr std::string_view kNeedle = "event: ";
    std::string carry;
    while (!stop_) {
      auto some = client.ReadSome(std::chrono::milliseconds(100));
      if (!some.ok()) {
        if (some.status().code() == ErrorCode::kTimeout) continue;
        failed_ = !stop_;
        return;
      }
      if (some->empty()) {  // the server ended the stream
        failed_ = !stop_;
        return;
      }
      std::string text = carry + *some;
      for (size_t pos = text.find(kNeedle); pos != std::string::npos;
           pos = text.find(kNeedle, pos + kNeedle.size())) {
        ++count_;
      }
      // Keep a tail too short to hold a whole needle, so a split needle is found next time.
      size_t keep = std::min(text.size(), kNeedle.size() - 1);
      carry = text.substr(text.size() - keep);
    }
  }

  uint16_t port_;
  std::optional<http::TestClientTls> tls_;
  std::string cell_id_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
  std::atomic<bool> failed_{false};
  std::atomic<int64_t> count_{0};
};

// The pid of the process listening on 127.0.0.1:`port` (found through the socket's inode in
// /proc/net/tcp{,6} and the owners' /proc/<pid>/fd links), or 0 when it cannot be seen.
int FindListenerPid(uint16_t port) {
  std::string inode;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (inode.empty() && std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, node;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> node;
      size_t colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos) continue;
      if (std::strtoul(local.c_str() + colon + 1, nullptr, 16) == port) inode = node;
    }
  }
  if (inode.empty()) return 0;
  const std::string target = "socket:[" + inode + "]";
  std::error_code ec;
  for (const auto& proc : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = proc.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::error_code fd_ec;
    for (const auto& fd : std::filesystem::directory_iterator(proc.path() / "fd", fd_ec)) {
      std::error_code link_ec;
      if (std::filesystem::read_symlink(fd.path(), link_ec).string() == target) {
        return std::atoi(name.c_str());
      }
    }
  }
  return 0;
}

// VmHWM (peak resident set) of `pid` in KiB, or -1.
int64_t PeakRssKib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

// Runs wrk (2 threads, `connections` connections, `seconds`) POSTing `body` to `url`; returns
// {"requests_per_second", "p99_ms"} parsed from its output, or an "error".
Json RunWrk(const std::string& url, const std::string& body, int connections, double seconds) {
  bbs::testing::TempDir dir;
  std::string body_path = dir.path() + "/body";
  std::string script_path = dir.path() + "/post.lua";
  std::ofstream(body_path, std::ios::binary) << body;
  std::ofstream(script_path) << "local f = io.open(\"" << body_path
                             << "\", \"rb\")\nwrk.method = \"POST\"\nwrk.body = f:read(\"*a\")\n"
                             << "f:close()\nwrk.headers[\"Content-Type\"] = "
                                "\"application/x-protobuf\"\n";
  std::string cmd = "wrk -t2 -c" + std::to_string(connections) + " -d" +
                    std::to_string(static_cast<int>(seconds)) + "s --latency -s " + script_path +
                    " " + url + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return {{"error", "cannot run wrk"}};
  std::string output;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  int rc = pclose(pipe);
  Json out;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string first, value;
    words >> first >> value;
    if (first == "Requests/sec:") out["requests_per_second"] = std::atof(value.c_str());
    if (first == "99%") {
      double v = std::atof(value.c_str());
      if (value.find("us") != std::string::npos)
        v /= 1000;
      else if (value.find("ms") == std::string::npos && value.find('s') != std::string::npos)
        v *= 1000;
      out["p99_ms"] = v;
    }
    if (first == "Non-2xx") out["non_2xx"] = line;
  }
  if (rc != 0 || !out.contains("requests_per_second")) out["error"] = output;
  return out;
}

// CPU time (user + system) `pid` used so far, in seconds, or -1.
double CpuSeconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::atof(field.c_str());  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// --- the benchmark -------------------------------------------------------------------------

struct Check {
  std::string name;
  bool ok;
  std::string detail;
};

class Bench {
 public:
  Bench(const Options& opt, uint16_t port, int pid, std::optional<http::TestClientTls> tls)
      : opt_(opt), port_(port), tls_(std::move(tls)), pid_(pid) {}

  int Run() {
    cell_of_.resize(opt_.desired);
    std::mt19937_64 rng(opt_.seed);
    cell_count_.assign(opt_.cells, 0);
    for (int i = 0; i < opt_.desired; ++i) {
      cell_of_[i] = static_cast<int>(rng() % opt_.cells);
      ++cell_count_[cell_of_[i]];
    }
    Populate();
    CheckLists("after populate");
    if (opt_.saturate == "heartbeat") return SaturateHeartbeats();

    subscribers_.push_back(std::make_unique<Subscriber>(port_, tls_, ""));
    for (int k = 0; k < opt_.cells; ++k) {
      subscribers_.push_back(std::make_unique<Subscriber>(port_, tls_, CellId(k)));
    }
    for (auto& s : subscribers_) s->Start();
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      if (std::all_of(subscribers_.begin(), subscribers_.end(),
                      [](const auto& s) { return s->ready() || s->failed(); })) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    int subscribed = static_cast<int>(std::count_if(subscribers_.begin(), subscribers_.end(),
                                                    [](const auto& s) { return s->ready(); }));
    AddCheck("event subscribers connected", subscribed == static_cast<int>(subscribers_.size()),
             std::to_string(subscribed) + "/" + std::to_string(subscribers_.size()));

    for (int t = 0; t < opt_.trials; ++t) RunTrial(t, rng());

    for (auto& s : subscribers_) s->Stop();
    rss_kib_ = PeakRssKib(pid_);
    Report();
    bool ok = std::all_of(checks_.begin(), checks_.end(), [](const Check& c) { return c.ok; });
    return ok ? 0 : 1;
  }

 private:
  void AddCheck(std::string name, bool ok, std::string detail) {
    checks_.push_back({std::move(name), ok, std::move(detail)});
  }

  // Runs `fn(worker_index)` on `n` threads and waits for them.
  template <typename Fn>
  void Parallel(int n, Fn fn) {
    std::vector<std::thread> threads;
    for (int w = 0; w < n; ++w) threads.emplace_back([&fn, w] { fn(w); });
    for (auto& t : threads) t.join();
  }

  void Populate() {
    {
      http::TestClient client(port_, tls_);
      Recorder rec;
      models::UpsertDomainRequest req;
      req.set_domain(std::string(kDomain));
      req.set_ttl(0);
      models::UpsertDomainResponse resp;
      Call(client, rec, "populate.upsert_domain", "/v1/domains/upsert", req, &resp);
      populate_.Merge(rec);
    }
    std::atomic<int> next{0};
    auto start = Clock::now();
    const double cpu_before = CpuSeconds(pid_);
    Parallel(opt_.workers, [&](int) {
      http::TestClient client(port_, tls_);
      Recorder rec;
      for (int i = next++; i < opt_.desired; i = next++) {
        models::DesireLRPRequest desire;
        *desire.mutable_desired_lrp() = MakeDesiredLrp(i);
        models::DesiredLRPLifecycleResponse dresp;
        if (Call(client, rec, "populate.desire", "/v1/desired_lrp/desire.r2", desire, &dresp) !=
            Outcome::kOk) {
          continue;
        }
        models::StartActualLRPRequest start_req = MakeStart(i, cell_of_[i]);
        models::ClaimActualLRPRequest claim;
        claim.set_process_guid(start_req.actual_lrp_key().process_guid());
        claim.set_index(0);
        *claim.mutable_actual_lrp_instance_key() = start_req.actual_lrp_instance_key();
        models::ActualLRPLifecycleResponse lresp;
        if (Call(client, rec, "populate.claim", "/v1/actual_lrps/claim", claim, &lresp) !=
            Outcome::kOk) {
          continue;
        }
        Call(client, rec, "populate.start", "/v1/actual_lrps/start.r1", start_req, &lresp);
      }
      populate_.Merge(rec);
    });
    populate_seconds_ = SecondsSince(start);
    const double cpu_after = CpuSeconds(pid_);
    if (cpu_before >= 0 && cpu_after >= 0) populate_cpu_seconds_ = cpu_after - cpu_before;
    for (auto& [name, s] : populate_.all().ops()) {
      s.phase_seconds = populate_seconds_;
      if (s.errors > 0) {
        AddCheck(name + " errors", false,
                 std::to_string(s.errors) + " errors, last: " + s.last_error);
      }
    }
  }

  // The figures of one saturation run.
  struct SaturationResult {
    double seconds = 0;
    size_t requests = 0;
    double p50_ms = 0, p99_ms = 0;
    int64_t errors = 0;
    std::string last_error;
    double rate() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
  };

  // Every worker POSTs `bodies` round robin to `port`/`path` over one kept-alive connection, as
  // fast as the server answers, for saturate_seconds. `ok(response)` says whether it succeeded.
  template <typename Ok>
  SaturationResult Saturate(uint16_t port, const std::optional<http::TestClientTls>& tls,
                            const std::string& path, const std::vector<std::string>& bodies,
                            Ok ok) {
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<double> latencies;
    SaturationResult result;
    const auto start = Clock::now();
    std::thread timer([&] {
      std::this_thread::sleep_for(std::chrono::duration<double>(opt_.saturate_seconds));
      stop = true;
    });
    const int n = static_cast<int>(bodies.size());
    Parallel(opt_.workers, [&](int w) {
      http::TestClient client(port, tls, std::chrono::seconds(30));
      std::vector<double> mine;
      int64_t my_errors = 0;
      std::string my_last;
      for (int i = w % n; !stop.load(std::memory_order_relaxed); i = (i + opt_.workers) % n) {
        auto t0 = Clock::now();
        auto r = client.Send("POST", path, bodies[static_cast<size_t>(i)],
                             {{"Content-Type", "application/x-protobuf"}});
        mine.push_back(SecondsSince(t0) * 1000.0);
        if (!r.ok()) {
          ++my_errors;
          my_last = r.status().ToString();
        } else if (!ok(*r)) {
          ++my_errors;
          my_last = "HTTP " + std::to_string(r->status);
        }
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
      result.errors += my_errors;
      if (!my_last.empty()) result.last_error = my_last;
    });
    result.seconds = SecondsSince(start);
    timer.join();
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
      if (latencies.empty()) return 0.0;
      size_t at = static_cast<size_t>(p * static_cast<double>(latencies.size() - 1));
      return latencies[at];
    };
    result.requests = latencies.size();
    result.p50_ms = pct(0.50);
    result.p99_ms = pct(0.99);
    return result;
  }

  // Every worker sends the identical start heartbeat of its instances, round robin, over one
  // kept-alive connection, as fast as the server answers. With --ceiling-url, first the same
  // load against that plain HTTP server (an empty 200, e.g. nginx: bench/heartbeat_ceiling.sh),
  // so the heartbeat rate can be read as a share of the machine's HTTP ceiling in the same run.
  // Prints one JSON line.
  int SaturateHeartbeats() {
    std::vector<std::string> bodies(static_cast<size_t>(opt_.desired));
    for (int i = 0; i < opt_.desired; ++i) {
      bodies[static_cast<size_t>(i)] = MakeStart(i, cell_of_[i]).SerializeAsString();
    }
    Json out = {{"mode", "saturate-heartbeat"},
                {"tls", tls_.has_value()},
                {"workers", opt_.workers},
                {"instances", opt_.desired}};
    std::optional<SaturationResult> ceiling;
    if (!opt_.ceiling_url.empty()) {
      ceiling = Saturate(opt_.ceiling_port, std::nullopt, opt_.ceiling_path, bodies,
                         [](const http::TestResponse& r) { return r.status == 200; });
      out["ceiling"] = {{"url", opt_.ceiling_url},       {"seconds", ceiling->seconds},
                        {"requests", ceiling->requests}, {"requests_per_second", ceiling->rate()},
                        {"p50_ms", ceiling->p50_ms},     {"p99_ms", ceiling->p99_ms},
                        {"errors", ceiling->errors},     {"last_error", ceiling->last_error}};
    }
    const double cpu_before = CpuSeconds(pid_);
    SaturationResult hb =
        Saturate(port_, tls_, "/v1/actual_lrps/start.r1", bodies, [](const http::TestResponse& r) {
          models::ActualLRPLifecycleResponse resp;
          return r.status == 200 && resp.ParseFromString(r.body) && !resp.has_error();
        });
    const double cpu_after = CpuSeconds(pid_);
    if (cpu_before >= 0 && cpu_after >= 0 && hb.requests > 0) {
      // Independent of how busy the machine is: the server's CPU per heartbeat.
      out["server_cpu_us_per_request"] =
          (cpu_after - cpu_before) * 1e6 / static_cast<double>(hb.requests);
    }
    out["seconds"] = hb.seconds;
    out["requests"] = hb.requests;
    out["requests_per_second"] = hb.rate();
    out["p50_ms"] = hb.p50_ms;
    out["p99_ms"] = hb.p99_ms;
    out["errors"] = hb.errors;
    out["last_error"] = hb.last_error;
    if (ceiling && ceiling->rate() > 0) out["share_of_ceiling"] = hb.rate() / ceiling->rate();
    if (opt_.wrk_seconds > 0 && !tls_) {
      Json wrk;
      if (!opt_.ceiling_url.empty()) {
        wrk["ceiling"] = RunWrk(opt_.ceiling_url, bodies[0], opt_.workers, opt_.wrk_seconds);
      }
      wrk["heartbeat"] =
          RunWrk("http://127.0.0.1:" + std::to_string(port_) + "/v1/actual_lrps/start.r1",
                 bodies[0], opt_.workers, opt_.wrk_seconds);
      if (wrk.contains("ceiling") && wrk["ceiling"].contains("requests_per_second") &&
          wrk["heartbeat"].contains("requests_per_second")) {
        wrk["share_of_ceiling"] = wrk["heartbeat"]["requests_per_second"].get<double>() /
                                  wrk["ceiling"]["requests_per_second"].get<double>();
      }
      out["wrk"] = wrk;
    }
    std::printf("%s\n", out.dump().c_str());
    if (!opt_.json_path.empty()) std::ofstream(opt_.json_path) << out.dump(2) << "\n";
    return hb.errors == 0 && (!ceiling || ceiling->errors == 0) ? 0 : 1;
  }

  // The lists every sync relies on must see the whole population, all RUNNING.
  void CheckLists(const std::string& when) {
    http::TestClient client(port_, tls_, std::chrono::seconds(60));
    Recorder rec;
    models::ActualLRPsRequest all;
    models::ActualLRPsResponse actuals;
    Call(client, rec, "check.list", "/v1/actual_lrps/list", all, &actuals);
    int running = 0;
    for (const auto& a : actuals.actual_lrps()) running += a.state() == "RUNNING";
    AddCheck("actual LRPs " + when, actuals.actual_lrps_size() == opt_.desired,
             std::to_string(actuals.actual_lrps_size()) + " listed, want " +
                 std::to_string(opt_.desired));
    AddCheck("all RUNNING " + when, running == opt_.desired,
             std::to_string(running) + " RUNNING, want " + std::to_string(opt_.desired));
    models::DesiredLRPSchedulingInfosResponse infos;
    models::DesiredLRPsRequest infos_req;
    Call(client, rec, "check.scheduling_infos", "/v1/desired_lrp_scheduling_infos/list", infos_req,
         &infos);
    AddCheck("scheduling infos " + when, infos.desired_lrp_scheduling_infos_size() == opt_.desired,
             std::to_string(infos.desired_lrp_scheduling_infos_size()) + " listed, want " +
                 std::to_string(opt_.desired));
    for (const auto& [name, s] : rec.ops()) {
      if (s.errors > 0) AddCheck(name + " " + when, false, s.last_error);
    }
  }

  struct TrialState {
    std::atomic<int64_t> events_caused{0};
    std::vector<std::atomic<int64_t>> cell_events;
    std::atomic<int64_t> list_mismatches{0};
    std::atomic<int64_t> claims_ok{0};
    std::atomic<int64_t> claims_refused{0};
    explicit TrialState(int cells) : cell_events(cells) {}
  };

  // One rep bulk loop: list the cell's instances, heartbeat each, re-claim P% of them.
  void CellLoop(int k, http::TestClient& client, Recorder& rec, TrialState& st,
                std::mt19937_64& rng) {
    models::ActualLRPsRequest req;
    req.set_cell_id(CellId(k));
    models::ActualLRPsResponse list;
    if (Call(client, rec, "cell.list", "/v1/actual_lrps/list", req, &list) != Outcome::kOk) return;
    if (list.actual_lrps_size() != cell_count_[k]) ++st.list_mismatches;
    std::uniform_real_distribution<double> pct(0, 100);
    models::ActualLRPLifecycleResponse resp;
    for (const auto& a : list.actual_lrps()) {
      models::StartActualLRPRequest beat = HeartbeatFor(a);
      if (a.state() != "RUNNING") {  // not a heartbeat then: it changes the instance
        ++st.events_caused;
        ++st.cell_events[k];
      }
      Call(client, rec, "cell.heartbeat", "/v1/actual_lrps/start.r1", beat, &resp);
      if (pct(rng) >= opt_.claim_percent) continue;
      models::ClaimActualLRPRequest claim;
      claim.set_process_guid(a.actual_lrp_key().process_guid());
      claim.set_index(a.actual_lrp_key().index());
      *claim.mutable_actual_lrp_instance_key() = a.actual_lrp_instance_key();
      Outcome o = Call(client, rec, "cell.claim", "/v1/actual_lrps/claim", claim, &resp,
                       models::Error::ActualLRPCannotBeClaimed);
      if (o == Outcome::kRefused) ++st.claims_refused;
      if (o != Outcome::kOk) continue;
      // The claim took the instance back to CLAIMED (one change); the rep starts it again.
      ++st.claims_ok;
      st.events_caused += 2;
      st.cell_events[k] += 2;
      Call(client, rec, "cell.restart", "/v1/actual_lrps/start.r1", beat, &resp);
    }
  }

  void RunTrial(int trial, uint64_t seed) {
    TrialState st(opt_.cells);
    std::vector<int64_t> before;
    for (auto& s : subscribers_) before.push_back(s->count());
    const auto cycle = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(opt_.cycle_seconds));
    SharedRecorder trial_rec;
    auto start = Clock::now();

    // Each actor fires once at a random offset within the cycle, like the real periodic loops
    // whose phases are independent.
    std::mt19937_64 rng(seed);
    std::vector<std::pair<Clock::duration, int>> cell_plan;
    for (int k = 0; k < opt_.cells; ++k) {
      cell_plan.push_back({Clock::duration(rng() % (cycle.count() + 1)), k});
    }
    std::sort(cell_plan.begin(), cell_plan.end());
    std::atomic<size_t> next_cell{0};
    std::vector<std::thread> actors;
    for (int w = 0; w < opt_.workers; ++w) {
      actors.emplace_back([&, w] {
        http::TestClient client(port_, tls_, std::chrono::seconds(60));
        Recorder rec;
        std::mt19937_64 local(seed ^ (0x9e3779b97f4a7c15ull * (w + 1)));
        for (size_t j = next_cell++; j < cell_plan.size(); j = next_cell++) {
          std::this_thread::sleep_until(start + cell_plan[j].first);
          CellLoop(cell_plan[j].second, client, rec, st, local);
        }
        trial_rec.Merge(rec);
      });
    }
    auto sync = [&](const std::string& who, bool with_actuals, Clock::duration offset) {
      return std::thread([&, who, with_actuals, offset] {
        http::TestClient client(port_, tls_, std::chrono::seconds(60));
        Recorder rec;
        std::this_thread::sleep_until(start + offset);
        // A sync decodes the whole list, every message, as a real client would; on an Arena
        // (as Go's decoder does not free per message either), so the decode is a pass of
        // bump allocations rather than ~10 mallocs per record.
        // Over plain HTTP the list bodies are read by a ListClient (see there); over TLS by
        // the TestClient.
        ListClient lists(port_);
        auto list = [&](const std::string& op, std::string_view path, auto* resp) {
          if (tls_) return Call(client, rec, op, path, models::DesiredLRPsRequest(), resp);
          return CallList(lists, rec, op, path, resp);
        };
        if (with_actuals) {
          google::protobuf::Arena arena(ListArenaOptions());
          auto* resp = google::protobuf::Arena::CreateMessage<models::ActualLRPsResponse>(&arena);
          if (list(who + ".actual_lrps", "/v1/actual_lrps/list", resp) == Outcome::kOk &&
              resp->actual_lrps_size() != opt_.desired) {
            ++st.list_mismatches;
          }
        }
        google::protobuf::Arena arena(ListArenaOptions());
        auto* resp =
            google::protobuf::Arena::CreateMessage<models::DesiredLRPSchedulingInfosResponse>(
                &arena);
        if (list(who + ".scheduling_infos", "/v1/desired_lrp_scheduling_infos/list", resp) ==
                Outcome::kOk &&
            resp->desired_lrp_scheduling_infos_size() != opt_.desired) {
          ++st.list_mismatches;
        }
        trial_rec.Merge(rec);
      });
    };
    actors.push_back(sync("route_emitter", true, Clock::duration(rng() % (cycle.count() + 1))));
    actors.push_back(sync("cc_sync", false, Clock::duration(rng() % (cycle.count() + 1))));
    double converge_seconds = -1;
    actors.emplace_back([&] {
      http::TestClient client(port_, tls_, std::chrono::seconds(120));
      Recorder rec;
      std::this_thread::sleep_until(start + cycle / 2);
      models::ActualLRPsRequest empty;
      models::ActualLRPLifecycleResponse resp;
      auto t0 = Clock::now();
      if (Call(client, rec, "converge", "/v1/lrps/converge", empty, &resp) == Outcome::kOk) {
        converge_seconds = SecondsSince(t0);
      }
      trial_rec.Merge(rec);
    });
    for (auto& t : actors) t.join();
    std::this_thread::sleep_until(start + cycle);
    double seconds = SecondsSince(start);
    // Phase time accumulates across trials so that throughput stays count / time.
    cycle_.Merge(trial_rec.all());
    for (const auto& [name, s] : trial_rec.all().ops())
      cycle_.all().Op(name).phase_seconds += seconds;

    // Let the streams catch up with the changes, then compare.
    auto delivered = [&](size_t i) { return subscribers_[i]->count() - before[i]; };
    auto all_delivered = [&] {
      if (delivered(0) < st.events_caused) return false;
      for (int k = 0; k < opt_.cells; ++k) {
        if (delivered(k + 1) < st.cell_events[k]) return false;
      }
      return true;
    };
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!all_delivered() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // late extras, if any
    int64_t cell_received = 0, cell_caused = 0;
    int bad_cells = 0;
    for (int k = 0; k < opt_.cells; ++k) {
      cell_received += delivered(k + 1);
      cell_caused += st.cell_events[k];
      bad_cells += delivered(k + 1) != st.cell_events[k];
    }
    std::string tag = "trial " + std::to_string(trial + 1) + ": ";
    AddCheck(tag + "cell and sync lists complete", st.list_mismatches == 0,
             std::to_string(st.list_mismatches.load()) + " lists with a wrong count");
    AddCheck(tag + "global stream events", delivered(0) == st.events_caused,
             std::to_string(delivered(0)) + " received, " + std::to_string(st.events_caused) +
                 " caused");
    AddCheck(tag + "per-cell stream events", bad_cells == 0,
             std::to_string(cell_received) + " received, " + std::to_string(cell_caused) +
                 " caused, " + std::to_string(bad_cells) + " cells differ");
    AddCheck(tag + "convergence pass", converge_seconds >= 0,
             converge_seconds >= 0 ? std::to_string(converge_seconds * 1000) + " ms" : "failed");
    for (const auto& [name, s] : trial_rec.all().ops()) {
      if (s.errors > 0) {
        AddCheck(tag + name + " errors", false,
                 std::to_string(s.errors) + " errors, last: " + s.last_error);
      }
    }
    trials_.push_back({{"trial", trial + 1},
                       {"seconds", seconds},
                       {"converge_ms", converge_seconds * 1000},
                       {"claims_ok", st.claims_ok.load()},
                       {"claims_refused", st.claims_refused.load()},
                       {"events_caused", st.events_caused.load()},
                       {"global_events_received", delivered(0)},
                       {"cell_events_received", cell_received}});
    CheckLists("after trial " + std::to_string(trial + 1));
  }

  static double Percentile(std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    size_t i = static_cast<size_t>(p / 100.0 * (sorted.size() - 1) + 0.5);
    return sorted[std::min(i, sorted.size() - 1)];
  }

  void Report() {
    Json out;
    out["config"] = {{"desired", opt_.desired},
                     {"cells", opt_.cells},
                     {"workers", opt_.workers},
                     {"trials", opt_.trials},
                     {"cycle_seconds", opt_.cycle_seconds},
                     {"claim_percent", opt_.claim_percent}};
    out["populate_seconds"] = populate_seconds_;
    out["populate_server_cpu_seconds"] = populate_cpu_seconds_;
    out["server_peak_rss_kib"] = rss_kib_;
    out["trials"] = trials_;
    std::printf(
        "populate: %d desired LRPs on %d cells in %.2f s (%.0f durable writes/s; server "
        "CPU %.1f us per write)\n\n",
        opt_.desired, opt_.cells, populate_seconds_, 3.0 * opt_.desired / populate_seconds_,
        populate_cpu_seconds_ * 1e6 / (3.0 * opt_.desired));
    std::printf("%-30s %8s %6s %7s %10s %9s %9s %9s %9s\n", "operation", "count", "errors",
                "refused", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms");
    Json ops = Json::array();
    for (Recorder* rec : {&populate_.all(), &cycle_.all()}) {
      for (auto& [name, s] : rec->ops()) {
        std::sort(s.latency_ms.begin(), s.latency_ms.end());
        double tput = s.phase_seconds > 0 ? s.latency_ms.size() / s.phase_seconds : 0;
        double p50 = Percentile(s.latency_ms, 50), p90 = Percentile(s.latency_ms, 90);
        double p99 = Percentile(s.latency_ms, 99);
        double mx = s.latency_ms.empty() ? 0 : s.latency_ms.back();
        std::printf("%-30s %8zu %6lld %7lld %10.1f %9.2f %9.2f %9.2f %9.2f\n", name.c_str(),
                    s.latency_ms.size(), static_cast<long long>(s.errors),
                    static_cast<long long>(s.refused), tput, p50, p90, p99, mx);
        ops.push_back({{"operation", name},
                       {"count", s.latency_ms.size()},
                       {"errors", s.errors},
                       {"refused", s.refused},
                       {"ops_per_second", tput},
                       {"p50_ms", p50},
                       {"p90_ms", p90},
                       {"p99_ms", p99},
                       {"max_ms", mx}});
      }
    }
    out["operations"] = ops;
    std::printf("\n%-8s %10s %12s %10s %10s %10s %10s\n", "trial", "seconds", "converge ms",
                "claims ok", "caused", "global rx", "cells rx");
    for (const auto& t : trials_) {
      std::printf("%-8d %10.2f %12.2f %10lld %10lld %10lld %10lld\n", t["trial"].get<int>(),
                  t["seconds"].get<double>(), t["converge_ms"].get<double>(),
                  t["claims_ok"].get<long long>(), t["events_caused"].get<long long>(),
                  t["global_events_received"].get<long long>(),
                  t["cell_events_received"].get<long long>());
    }
    if (rss_kib_ >= 0) {
      std::printf("\nserver peak RSS (VmHWM): %.1f MiB\n", rss_kib_ / 1024.0);
    } else {
      std::printf("\nserver peak RSS: unknown (pass --pid or --spawn-bbs)\n");
    }
    std::printf("\ncorrectness:\n");
    Json checks = Json::array();
    for (const auto& c : checks_) {
      std::printf("  [%s] %s: %s\n", c.ok ? " ok " : "FAIL", c.name.c_str(), c.detail.c_str());
      checks.push_back({{"check", c.name}, {"ok", c.ok}, {"detail", c.detail}});
    }
    out["checks"] = checks;
    if (!opt_.json_path.empty()) {
      std::ofstream f(opt_.json_path);
      f << out.dump(2) << "\n";
    }
  }

  Options opt_;
  uint16_t port_;
  std::optional<http::TestClientTls> tls_;
  int pid_;
  std::vector<int> cell_of_;
  std::vector<int> cell_count_;
  SharedRecorder populate_;
  SharedRecorder cycle_;
  double populate_seconds_ = 0;
  double populate_cpu_seconds_ = 0;
  int64_t rss_kib_ = -1;
  std::vector<std::unique_ptr<Subscriber>> subscribers_;
  std::vector<Check> checks_;
  Json trials_ = Json::array();
};

}  // namespace
}  // namespace bbs::bench

namespace bbs::bench {

// --lists N: N rounds of the two full lists of an already populated bbs, each timed in two
// parts, receiving the whole response and decoding it (on an Arena, every message), so the
// end-to-end figure of a sync can be taken apart without a populate.
int TimeLists(int rounds, uint16_t port, const std::optional<http::TestClientTls>& tls) {
  http::TestClient client(port, tls, std::chrono::seconds(120));
  ListClient lists(port);
  auto time = [&](const char* name, const char* path, auto make) {
    std::vector<double> receive, decode;
    size_t bytes = 0;
    for (int i = 0; i < rounds; ++i) {
      auto t0 = Clock::now();
      std::string body, error;
      if (tls) {
        auto r = client.Send("POST", path, "", {{"Content-Type", "application/x-protobuf"}});
        if (!r.ok() || r->status != 200) {
          error = r.ok() ? "not 200" : r.status().ToString();
        } else {
          body = std::move(r->body);
        }
      } else {
        lists.Post(path, &body, &error);
      }
      receive.push_back(SecondsSince(t0) * 1000.0);
      if (!error.empty()) {
        std::fprintf(stderr, "%s: %s\n", name, error.c_str());
        return false;
      }
      bytes = body.size();
      auto t1 = Clock::now();
      {
        google::protobuf::Arena arena(ListArenaOptions());
        auto* message = make(&arena);
        if (!message->ParseFromString(body)) return false;
      }
      decode.push_back(SecondsSince(t1) * 1000.0);
    }
    std::sort(receive.begin(), receive.end());
    std::sort(decode.begin(), decode.end());
    std::printf(
        "%-16s %10zu bytes  receive min/p50 %7.1f / %7.1f ms  decode min/p50 %7.1f / %7.1f ms\n",
        name, bytes, receive.front(), receive[receive.size() / 2], decode.front(),
        decode[decode.size() / 2]);
    return true;
  };
  bool ok = time("actual_lrps", "/v1/actual_lrps/list", [](google::protobuf::Arena* arena) {
    return google::protobuf::Arena::CreateMessage<models::ActualLRPsResponse>(arena);
  });
  ok = ok && time("scheduling_infos", "/v1/desired_lrp_scheduling_infos/list",
                  [](google::protobuf::Arena* arena) {
                    return google::protobuf::Arena::CreateMessage<
                        models::DesiredLRPSchedulingInfosResponse>(arena);
                  });
  return ok ? 0 : 1;
}

}  // namespace bbs::bench

int main(int argc, char** argv) {
  bbs::bench::Options opt;
  CLI::App app{"bbs-bench: drives a running bbs with a simulated Diego deployment"};
  app.add_option("--address", opt.address, "bbs API address (127.0.0.1:port)");
  app.add_option("--desired", opt.desired, "desired LRPs (one instance each)")
      ->check(CLI::PositiveNumber);
  app.add_option("--cells", opt.cells, "simulated cells")->check(CLI::PositiveNumber);
  app.add_option("--workers", opt.workers, "client threads")->check(CLI::PositiveNumber);
  app.add_option("--trials", opt.trials, "trials (one cycle each)")->check(CLI::NonNegativeNumber);
  app.add_option("--cycle-seconds", opt.cycle_seconds, "length of a cycle")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--claim-percent", opt.claim_percent, "share of instances re-claimed per loop")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--json", opt.json_path, "write the results as JSON to this file");
  app.add_option("--pid", opt.pid,
                 "pid of the bbs process, for its peak RSS (default: the listener of --address)");
  app.add_option("--spawn-bbs", opt.spawn_bbs,
                 "start this bbs binary on a temp dir and port 0 instead of using --address");
  app.add_option("--seed", opt.seed, "random seed");
  app.add_option("--lists", opt.lists,
                 "only time this many rounds of the two full lists (receive, then decode) of "
                 "the already populated bbs at --address, then exit")
      ->check(CLI::PositiveNumber);
  app.add_option("--saturate", opt.saturate,
                 "heartbeat: after populating, send only identical start heartbeats")
      ->check(CLI::IsMember({"heartbeat"}));
  app.add_option("--saturate-seconds", opt.saturate_seconds, "length of the saturation run")
      ->check(CLI::PositiveNumber);
  app.add_option("--ceiling-url", opt.ceiling_url,
                 "with --saturate heartbeat: first saturate this plain HTTP server "
                 "(http://127.0.0.1:PORT/path, answering an empty 200) the same way");
  app.add_option("--wrk-seconds", opt.wrk_seconds,
                 "with --saturate heartbeat: also measure with wrk (2 threads) for this long, "
                 "against bbs and the --ceiling-url server");
  app.add_flag("--spawn-tls", opt.spawn_tls,
               "with --spawn-bbs: serve the API over mutual TLS with a throwaway PKI");
  app.add_option("--ca-file", opt.ca_file, "CA of the bbs server certificate (mutual TLS)");
  app.add_option("--cert-file", opt.cert_file, "client certificate (mutual TLS)");
  app.add_option("--key-file", opt.key_file, "client key (mutual TLS)");
  CLI11_PARSE(app, argc, argv);
  if (!opt.ceiling_url.empty()) {
    constexpr std::string_view kPrefix = "http://127.0.0.1:";
    if (opt.ceiling_url.rfind(kPrefix, 0) != 0) {
      std::fprintf(stderr, "bbs-bench: --ceiling-url must be http://127.0.0.1:PORT/...\n");
      return 2;
    }
    std::string rest = opt.ceiling_url.substr(kPrefix.size());
    size_t slash = rest.find('/');
    opt.ceiling_port = static_cast<uint16_t>(std::atoi(rest.substr(0, slash).c_str()));
    opt.ceiling_path = slash == std::string::npos ? "/" : rest.substr(slash);
  }

  // With --spawn-bbs: a fresh bbs on a temp dir, API on port 0.
  bbs::testing::TempDir spawn_dir;
  std::unique_ptr<bbs::testing::BbsProcess> spawned;
  uint16_t port = 0;
  int pid = opt.pid;
  std::optional<bbs::http::TestClientTls> tls;
  if (!opt.spawn_bbs.empty()) {
    spawned = std::make_unique<bbs::testing::BbsProcess>(opt.spawn_bbs, spawn_dir.path(),
                                                         std::vector<std::string>{}, opt.spawn_tls);
    if (!spawned->Start()) {
      std::fprintf(stderr, "bbs-bench: cannot start bbs: %s\n", spawned->error().c_str());
      return 2;
    }
    port = static_cast<uint16_t>(spawned->port());
    pid = spawned->pid();
    tls = spawned->client_tls();
  } else {
    size_t colon = opt.address.rfind(':');
    std::string host = opt.address.substr(0, colon == std::string::npos ? 0 : colon);
    if (colon == std::string::npos || (host != "127.0.0.1" && host != "localhost")) {
      std::fprintf(stderr, "bbs-bench: --address must be 127.0.0.1:<port>\n");
      return 2;
    }
    port = static_cast<uint16_t>(std::atoi(opt.address.c_str() + colon + 1));
    if (pid == 0) pid = bbs::bench::FindListenerPid(port);
  }
  if (!opt.ca_file.empty() || !opt.cert_file.empty()) {
    tls = bbs::http::TestClientTls{opt.ca_file, opt.cert_file, opt.key_file};
  }
  if (opt.lists > 0) return bbs::bench::TimeLists(opt.lists, port, tls);
  bbs::bench::Bench bench(opt, port, pid, tls);
  return bench.Run();
}
