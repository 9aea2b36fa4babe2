#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbs/clients/test_pki.h"
#include "bbs/http/test_client.h"

namespace bbs::testing {

// True when the environment asks for the API over mutual TLS (BBS_E2E_TLS=1): every BbsProcess
// then serves its API with certificates from a PKI made once per test process, and NewClient()
// connects with a valid client certificate. Lets the whole e2e suite run in both modes.
bool TlsRequestedByEnvironment();

// The PKI those processes use, made on first use and kept for the test process's life (null,
// with the reason in *error, when it could not be made): tests also give it to fake peers.
const clients::TestPki* SharedTestPki(std::string* error = nullptr);

// Runs the real `bbs` binary as a child process (end-to-end tests, the bbs-bench load tool):
// API and health listeners on 127.0.0.1 port 0, data in a directory the caller chooses. The
// ports are read back from the daemon's "bbs.started" log line. Not thread-safe.
class BbsProcess {
 public:
  // `binary` is the path of bbs; `data_dir` must exist; the SQLite file is data_dir/bbs.db.
  // `tls`: serve the API over mutual TLS; defaults to TlsRequestedByEnvironment().
  BbsProcess(std::string binary, std::string data_dir, std::vector<std::string> extra_args = {},
             std::optional<bool> tls = std::nullopt);
  ~BbsProcess();  // kills the process if it still runs

  // Adds a key to the JSON config the process starts with (written to data_dir; the TLS keys
  // join it in TLS mode). Call before Start().
  void SetConfigKey(const std::string& key, nlohmann::json value) {
    config_[key] = std::move(value);
  }

  // Starts the binary and waits (bounded) until it logged "bbs.ready". False on failure, with
  // the reason in error().
  bool Start();
  // Start() in two steps, for a process that may wait as a passive first (docs/ha.md): Launch
  // only starts the binary; WaitUntilServing waits (bounded) for "bbs.started" and "bbs.ready".
  bool Launch();
  bool WaitUntilServing(int timeout_ms);
  // Waits up to `timeout_ms` for a stdout line containing `needle`; the line goes to `line`.
  bool WaitForLine(const std::string& needle, int timeout_ms, std::string* line);
  // Waits up to `timeout_ms` for the process to exit by itself and reaps it. Returns its exit
  // status, 128 + signal when a signal ended it, or -1 on timeout.
  int WaitForExit(int timeout_ms);
  // SIGTERM, then waits for exit; returns the exit status (or -1).
  int Stop();
  // SIGKILL, then reaps the process.
  void Kill();

  int port() const { return port_; }
  int health_port() const { return health_port_; }
  pid_t pid() const { return pid_; }
  const std::string& error() const { return error_; }
  // The TLS a client needs (CA, a valid client certificate and key); nullopt for plain HTTP.
  const std::optional<http::TestClientTls>& client_tls() const { return client_tls_; }
  // A client of this process's API, over TLS when the API serves TLS.
  std::unique_ptr<http::TestClient> NewClient(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Every stdout line so far.
  std::vector<std::string> Lines();

 private:
  void ReadLoop(int fd);

  std::string binary_;
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  bool tls_ = false;
  nlohmann::json config_ = nlohmann::json::object();
  std::optional<http::TestClientTls> client_tls_;
  pid_t pid_ = -1;
  int port_ = 0;
  int health_port_ = 0;
  std::string error_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
};

// A fresh temporary directory, removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace bbs::testing
