#include "bbs/testing/bbs_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bbs/clients/test_pki.h"

namespace bbs::testing {
namespace {

// One PKI per test process (RSA key generation takes a while), removed at exit.
struct SharedPki {
  TempDir dir;
  std::optional<clients::TestPki> pki;
  std::string error;

  SharedPki() {
    auto made = clients::TestPki::Create(dir.path());
    if (made.ok()) {
      pki = *made;
    } else {
      error = made.status().ToString();
    }
  }
};

const SharedPki& Pki() {
  static const SharedPki* shared = new SharedPki();  // the directory outlives every process
  return *shared;
}

}  // namespace

const clients::TestPki* SharedTestPki(std::string* error) {
  const SharedPki& shared = Pki();
  if (!shared.pki && error != nullptr) *error = shared.error;
  return shared.pki ? &*shared.pki : nullptr;
}

bool TlsRequestedByEnvironment() {
  const char* value = std::getenv("BBS_E2E_TLS");
  return value != nullptr && std::string(value) == "1";
}

BbsProcess::BbsProcess(std::string binary, std::string data_dir,
                       std::vector<std::string> extra_args, std::optional<bool> tls)
    : binary_(std::move(binary)),
      data_dir_(std::move(data_dir)),
      extra_args_(std::move(extra_args)),
      tls_(tls.value_or(TlsRequestedByEnvironment())) {}

std::unique_ptr<http::TestClient> BbsProcess::NewClient(std::chrono::milliseconds timeout) const {
  return std::make_unique<http::TestClient>(static_cast<uint16_t>(port_), client_tls_, timeout);
}

BbsProcess::~BbsProcess() { Kill(); }

bool BbsProcess::Start() { return Launch() && WaitUntilServing(30000); }

bool BbsProcess::Launch() {
  {
    std::lock_guard lock(mu_);
    lines_.clear();
    eof_ = false;
  }
  int fds[2];
  if (pipe(fds) != 0) {
    error_ = "pipe failed";
    return false;
  }
  std::vector<std::string> args = {binary_,
                                   "-address=127.0.0.1:0",
                                   "-healthAddress=127.0.0.1:0",
                                   "-databaseDriver=sqlite",
                                   "-databaseConnectionString=" + data_dir_ + "/bbs.db",
                                   "-logLevel=info"};
  nlohmann::json config = config_;
  if (tls_) {
    const SharedPki& shared = Pki();
    if (!shared.pki) {
      error_ = "test pki: " + shared.error;
      return false;
    }
    const clients::TestPki& pki = *shared.pki;
    config["ca_file"] = pki.ca_file;
    config["cert_file"] = pki.server_cert_file;
    config["key_file"] = pki.server_key_file;
    client_tls_ = http::TestClientTls{pki.ca_file, pki.client_cert_file, pki.client_key_file};
  }
  if (!config.empty()) {
    const std::string path = data_dir_ + "/bbs-config.json";
    std::ofstream(path) << config.dump();
    args.push_back("-config=" + path);
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  if (pid_ < 0) {
    close(fds[0]);
    error_ = "fork failed";
    return false;
  }
  reader_ = std::thread([this, fd = fds[0]] { ReadLoop(fd); });
  return true;
}

bool BbsProcess::WaitUntilServing(int timeout_ms) {
  std::string line;
  if (!WaitForLine("\"bbs.started\"", timeout_ms, &line)) {
    error_ = "bbs did not start";
    return false;
  }
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) {
    error_ = "unparseable start line: " + line;
    return false;
  }
  auto port_of = [](const std::string& addr) {
    return std::atoi(addr.substr(addr.rfind(':') + 1).c_str());
  };
  port_ = port_of(j["data"]["address"].get<std::string>());
  health_port_ = port_of(j["data"]["health_address"].get<std::string>());
  if (!WaitForLine("\"bbs.ready\"", timeout_ms, &line)) {
    error_ = "bbs did not become ready";
    return false;
  }
  return true;
}

void BbsProcess::ReadLoop(int fd) {
  std::string buffer;
  char chunk[4096];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t pos;
    while ((pos = buffer.find('\n')) != std::string::npos) {
      std::lock_guard lock(mu_);
      lines_.push_back(buffer.substr(0, pos));
      buffer.erase(0, pos + 1);
      cv_.notify_all();
    }
  }
  close(fd);
  std::lock_guard lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

bool BbsProcess::WaitForLine(const std::string& needle, int timeout_ms, std::string* line) {
  std::unique_lock lock(mu_);
  size_t seen = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    for (; seen < lines_.size(); ++seen) {
      if (lines_[seen].find(needle) != std::string::npos) {
        *line = lines_[seen];
        return true;
      }
    }
    if (eof_) return false;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) return false;
  }
}

int BbsProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int BbsProcess::WaitForExit(int timeout_ms) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    usleep(10000);
  }
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void BbsProcess::Kill() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (reader_.joinable()) reader_.join();
}

std::vector<std::string> BbsProcess::Lines() {
  std::lock_guard lock(mu_);
  return lines_;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "bbs-test-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  path_ = made ? made : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

}  // namespace bbs::testing
