#include "bbs/storage/etcd/etcd_testing.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

extern char** environ;

namespace bbs::storage::etcd::testing {
namespace {

using Clock = std::chrono::steady_clock;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) {
    close(fd);
  }
  return port;
}

void SkipNoEtcd() {
  GTEST_SKIP() << "BBS_TEST_ETCD_ENDPOINTS is unset; start one with "
                  "eval \"$(scripts/servers/etcd.sh start /tmp/etcd)\"";
}

std::unique_ptr<EtcdClient> ClientFor(const std::string& endpoint,
                                      const std::optional<TlsFiles>& tls) {
  EtcdClientOptions options;
  options.endpoints = {endpoint};
  if (tls) {
    options.ca_file = tls->ca_cert;
    options.cert_file = tls->client_cert;
    options.key_file = tls->client_key;
  }
  options.attempt_timeout = std::chrono::milliseconds(500);
  options.retry_budget = std::chrono::milliseconds(0);
  auto client = EtcdClient::Create(options, Logger(LogSink::Null(), "test"));
  return client.ok() ? std::move(client).value() : nullptr;
}

}  // namespace

std::vector<std::string> TestEndpoints() {
  const char* env = std::getenv("BBS_TEST_ETCD_ENDPOINTS");
  return env == nullptr ? std::vector<std::string>{} : SplitEndpoints(env);
}

std::string UniqueRoot(std::string_view name) {
  static std::atomic<int> counter{0};
  return fmt::format("/bbs-test/{}-{}/{}/{}", getpid(), Clock::now().time_since_epoch().count(),
                     counter++, name);
}

std::shared_ptr<const encryption::Encoder> TestEncoder(const std::string& label) {
  auto encoder = encryption::Encoder::Create({{label, "etcd test passphrase of " + label}}, label);
  if (!encoder.ok()) {
    std::abort();
  }
  return encoder.value();
}

void SharedEtcdTest::SetUp() {
  endpoints_ = TestEndpoints();
  if (endpoints_.empty()) {
    GTEST_SKIP() << "BBS_TEST_ETCD_ENDPOINTS is unset (scripts/servers/etcd.sh start DIR)";
  }
  root_ = UniqueRoot(root_name_);
  SetUpOnEtcd();
}

EtcdStore::Options TestOptions(std::vector<std::string> endpoints, std::string root) {
  EtcdStore::Options options;
  options.client.endpoints = std::move(endpoints);
  options.client.attempt_timeout = std::chrono::milliseconds(1000);
  options.client.retry_budget = std::chrono::milliseconds(8000);
  options.connect_timeout = std::chrono::milliseconds(2000);
  options.root = std::move(root);
  options.encoder = TestEncoder();
  return options;
}

Result<std::unique_ptr<Store>> OpenConformanceStore(const std::string& dir) {
  std::vector<std::string> endpoints = TestEndpoints();
  if (endpoints.empty()) {
    SkipNoEtcd();
    return UnknownError("BBS_TEST_ETCD_ENDPOINTS is unset");
  }
  auto store = EtcdStore::Open(TestOptions(endpoints, "/bbs-conformance" + dir),
                               Logger(LogSink::Null(), "test"));
  if (!store.ok()) {
    return store.status();
  }
  return std::unique_ptr<Store>(std::move(store).value());
}

std::string ConformanceUnavailable() {
  return TestEndpoints().empty()
             ? std::string("BBS_TEST_ETCD_ENDPOINTS is not set (scripts/servers/etcd.sh)")
             : std::string();
}

// --- LocalCluster ----------------------------------------------------------------------------

Result<TlsFiles> MakeTestCertificates(const std::filesystem::path& dir) {
  TlsFiles files{(dir / "ca.crt").string(), (dir / "server.crt").string(),
                 (dir / "server.key").string(), (dir / "client.crt").string(),
                 (dir / "client.key").string()};
  std::string d = dir.string();
  std::string script = fmt::format(
      "set -e; cd '{0}'; K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'; "
      "openssl req -x509 $K -keyout ca.key -out ca.crt -subj /CN=bbs-test-ca -days 2; "
      "for who in server client; do "
      "openssl req $K -keyout $who.key -out $who.csr -subj /CN=bbs-test-$who; "
      "printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > $who.ext; "
      "openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $who.crt "
      "-days 2 -extfile $who.ext; done",
      d);
  {
    std::ofstream out(dir / "gen-certs.sh");
    out << script << "\n";
  }
  std::string command = "sh '" + d + "/gen-certs.sh' > '" + d + "/openssl.log' 2>&1";
  if (system(command.c_str()) != 0) {
    return UnknownError("openssl failed; see " + d + "/openssl.log");
  }
  return files;
}

Result<std::unique_ptr<LocalCluster>> LocalCluster::Start(int size,
                                                          const std::filesystem::path& dir,
                                                          const TlsFiles* tls) {
  std::unique_ptr<LocalCluster> cluster(new LocalCluster(dir));
  if (tls != nullptr) {
    cluster->tls_ = *tls;
  }
  for (int i = 0; i < size; ++i) {
    Member m;
    m.name = fmt::format("m{}", i);
    m.client_port = FreePort();
    m.peer_port = FreePort();
    cluster->initial_cluster_ +=
        fmt::format("{}{}=http://127.0.0.1:{}", i == 0 ? "" : ",", m.name, m.peer_port);
    cluster->members_.push_back(m);
  }
  for (int i = 0; i < size; ++i) {
    if (Status s = cluster->Spawn(i, true); !s.ok()) {
      return s;
    }
  }
  if (Status s = cluster->WaitHealthy(); !s.ok()) {
    return s;
  }
  return cluster;
}

LocalCluster::~LocalCluster() {
  for (size_t i = 0; i < members_.size(); ++i) {
    Kill(static_cast<int>(i));
  }
}

std::vector<std::string> LocalCluster::endpoints() const {
  std::vector<std::string> out;
  for (const Member& m : members_) {
    out.push_back(fmt::format("{}://127.0.0.1:{}", tls_ ? "https" : "http", m.client_port));
  }
  return out;
}

Status LocalCluster::Spawn(int i, bool initial) {
  Member& m = members_[i];
  std::string client = fmt::format("{}://127.0.0.1:{}", tls_ ? "https" : "http", m.client_port);
  std::string peer = fmt::format("http://127.0.0.1:{}", m.peer_port);
  std::string data = (dir_ / (m.name + ".data")).string();
  std::string log = (dir_ / (m.name + ".log")).string();
  std::vector<std::string> args = {"etcd",
                                   "--name",
                                   m.name,
                                   "--data-dir",
                                   data,
                                   "--listen-client-urls",
                                   client,
                                   "--advertise-client-urls",
                                   client,
                                   "--listen-peer-urls",
                                   peer,
                                   "--initial-advertise-peer-urls",
                                   peer,
                                   "--initial-cluster",
                                   initial_cluster_,
                                   "--initial-cluster-state",
                                   initial ? "new" : "existing",
                                   "--heartbeat-interval",
                                   "50",
                                   "--election-timeout",
                                   "500",
                                   "--logger",
                                   "zap"};
  if (tls_) {
    for (std::string flag :
         {"--cert-file=" + tls_->server_cert, "--key-file=" + tls_->server_key,
          "--trusted-ca-file=" + tls_->ca_cert, std::string("--client-cert-auth")}) {
      args.push_back(flag);
    }
  }
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "etcd", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return UnknownError(fmt::format("cannot start etcd (is it on PATH?): {}", strerror(rc)));
  }
  m.pid = pid;
  return Status::Ok();
}

void LocalCluster::Kill(int i) {
  Member& m = members_[i];
  if (m.pid > 0) {
    kill(m.pid, SIGKILL);
    waitpid(m.pid, nullptr, 0);
    m.pid = -1;
  }
}

Status LocalCluster::Restart(int i) {
  if (members_[i].pid > 0) {
    return Status::Ok();
  }
  if (Status s = Spawn(i, false); !s.ok()) {
    return s;
  }
  return WaitHealthy();
}

Status LocalCluster::WaitHealthy() {
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  std::vector<std::string> urls = endpoints();
  std::string last;
  while (Clock::now() < deadline) {
    bool all = true;
    for (size_t i = 0; i < members_.size() && all; ++i) {
      if (members_[i].pid <= 0) {
        continue;
      }
      int status = 0;
      if (waitpid(members_[i].pid, &status, WNOHANG) == members_[i].pid) {
        members_[i].pid = -1;
        return UnknownError(fmt::format("etcd member {} exited; see {}", members_[i].name,
                                        (dir_ / (members_[i].name + ".log")).string()));
      }
      auto client = ClientFor(urls[i], tls_);
      etcdserverpb::StatusResponse response;
      Status s = client ? client->MemberStatusAt(0, &response) : UnknownError("client");
      if (!s.ok() || response.leader() == 0) {
        all = false;
        last = s.ok() ? "no leader yet" : s.message();
      }
    }
    if (all) {
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return UnknownError("etcd cluster did not become healthy in 15 s: " + last);
}

Result<int> LocalCluster::Leader() {
  if (Status s = WaitHealthy(); !s.ok()) {
    return s;
  }
  std::vector<std::string> urls = endpoints();
  std::map<uint64_t, int> index_of_id;
  uint64_t leader = 0;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].pid <= 0) {
      continue;
    }
    auto client = ClientFor(urls[i], tls_);
    etcdserverpb::StatusResponse response;
    if (client && client->MemberStatusAt(0, &response).ok()) {
      index_of_id[response.header().member_id()] = static_cast<int>(i);
      leader = response.leader();
    }
  }
  auto it = index_of_id.find(leader);
  if (it == index_of_id.end()) {
    return UnknownError("no member is the leader");
  }
  return it->second;
}

}  // namespace bbs::storage::etcd::testing
