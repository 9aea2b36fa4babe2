#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "bbs/base/status.h"
#include "bbs/storage/etcd/etcd_store.h"
#include "bbs/storage/store.h"

// Helpers for tests against real etcd.
namespace bbs::storage::etcd::testing {

// The endpoints of the shared test etcd (BBS_TEST_ETCD_ENDPOINTS, comma-separated, as printed
// by scripts/servers/etcd.sh), or empty when unset.
std::vector<std::string> TestEndpoints();

// A key root no other test (in this or a parallel process) uses: "/bbs-test/<pid>/<n>/<name>".
std::string UniqueRoot(std::string_view name);

// An encoder with one key, `label`, and a fixed passphrase derived from it.
std::shared_ptr<const encryption::Encoder> TestEncoder(const std::string& label = "etcd-test");

// A fixture for tests against the shared test etcd: SetUp skips the test when
// BBS_TEST_ETCD_ENDPOINTS is unset, else sets endpoints_ and a root_ of the test's own
// (UniqueRoot of the name given), then runs the subclass's SetUpOnEtcd.
class SharedEtcdTest : public ::testing::Test {
 protected:
  explicit SharedEtcdTest(std::string root_name) : root_name_(std::move(root_name)) {}
  void SetUp() final;
  virtual void SetUpOnEtcd() {}

  std::vector<std::string> endpoints_;
  std::string root_;

 private:
  const std::string root_name_;
};

// Store options for tests: the given endpoints and root, TestEncoder(), timeouts short enough
// for tests.
EtcdStore::Options TestOptions(std::vector<std::string> endpoints, std::string root);

// For the storage conformance suite: an EtcdStore on the test etcd under a root derived from
// `dir` (unique per test, stable across reopens). Fails when BBS_TEST_ETCD_ENDPOINTS is unset.
Result<std::unique_ptr<Store>> OpenConformanceStore(const std::string& dir);
// Why the conformance suite cannot run on etcd here ("" if it can).
std::string ConformanceUnavailable();

// PEM files for a TLS test: a CA, a server certificate for IP 127.0.0.1 and a client
// certificate, all signed by the CA; made with the openssl command in `dir`.
struct TlsFiles {
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;
  std::string client_key;
};
Result<TlsFiles> MakeTestCertificates(const std::filesystem::path& dir);

// A throwaway etcd cluster of `size` members on free loopback ports in `dir`, run from the
// `etcd` binary on PATH with a short election timeout. Members are killed on destruction.
class LocalCluster {
 public:
  // With `tls`, members serve https to clients and require a client certificate.
  static Result<std::unique_ptr<LocalCluster>> Start(int size, const std::filesystem::path& dir,
                                                     const TlsFiles* tls = nullptr);
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;
  ~LocalCluster();

  // Client URLs, member 0 first.
  std::vector<std::string> endpoints() const;
  // SIGKILLs member `i` and reaps it.
  void Kill(int i);
  // Starts member `i` again on its data and ports; waits until it answers.
  Status Restart(int i);
  // The index of the member the running members agree leads; waits for an election.
  Result<int> Leader();

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    pid_t pid = -1;
  };

  explicit LocalCluster(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Status Spawn(int i, bool initial);
  // Waits until every running member answers Status and knows a leader.
  Status WaitHealthy();

  std::filesystem::path dir_;
  std::vector<Member> members_;
  std::string initial_cluster_;
  std::optional<TlsFiles> tls_;
};

}  // namespace bbs::storage::etcd::testing
