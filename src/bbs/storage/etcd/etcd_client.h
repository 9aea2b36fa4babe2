#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "etcd/rpc.grpc.pb.h"

namespace bbs::storage::etcd {

struct EtcdClientOptions {
  // Client URLs of the cluster's members: "http://host:port", "https://host:port" (TLS) or
  // "host:port" (TLS if cert_file is set). At least one.
  std::vector<std::string> endpoints;
  // TLS for https endpoints (PEM files). ca_file verifies the server; cert_file and key_file
  // (both or neither) authenticate us. Without ca_file the system roots are used.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Deadline of one attempt of one RPC on one endpoint.
  std::chrono::milliseconds attempt_timeout{5000};
  // How long a call keeps retrying (on the next endpoint, with backoff) after retryable errors:
  // an unreachable member, an election in progress, an attempt that timed out.
  std::chrono::milliseconds retry_budget{15000};
};

// Splits the -etcdCluster value ("https://a:2379,https://b:2379") into endpoints.
std::vector<std::string> SplitEndpoints(std::string_view cluster);

// EtcdClient sends etcd v3 requests to one member at a time and fails over to the next member
// when the current one is unreachable, has no leader, or does not answer in time. Every call
// is retried within the retry budget, so callers must only send idempotent requests (puts,
// deletes and transactions of those are: applying one twice leaves the same state).
//
// Thread-safe.
class EtcdClient {
 public:
  static Result<std::unique_ptr<EtcdClient>> Create(EtcdClientOptions options, Logger logger);

  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  Status Range(const etcdserverpb::RangeRequest& request, etcdserverpb::RangeResponse* response);
  Status Txn(const etcdserverpb::TxnRequest& request, etcdserverpb::TxnResponse* response);
  Status LeaseGrant(const etcdserverpb::LeaseGrantRequest& request,
                    etcdserverpb::LeaseGrantResponse* response);
  Status LeaseRevoke(const etcdserverpb::LeaseRevokeRequest& request,
                     etcdserverpb::LeaseRevokeResponse* response);
  // One round of the LeaseKeepAlive stream: refreshes lease `id` and returns its remaining TTL
  // in seconds (<= 0 when the lease no longer exists).
  Result<int64_t> LeaseKeepAliveOnce(int64_t id);
  // The status of whichever member answers first.
  Status MemberStatus(etcdserverpb::StatusResponse* response);
  // The status of the member at endpoints()[index]; one attempt, no failover.
  Status MemberStatusAt(size_t index, etcdserverpb::StatusResponse* response);

  const std::vector<std::string>& endpoints() const { return options_.endpoints; }

 private:
  struct Member {
    std::string url;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  };
  using Attempt = std::function<grpc::Status(Member&, grpc::ClientContext*)>;

  EtcdClient(EtcdClientOptions options, Logger logger, std::vector<Member> members);

  // Runs `attempt` on the current member, failing over and retrying as described above.
  Status Call(std::string_view what, const Attempt& attempt);
  // One unary RPC through Call: the method `kMethod` of the member's stub `kStub`.
  template <auto kStub, auto kMethod, typename Request, typename Response>
  Status Unary(std::string_view what, const Request& request, Response* response);

  EtcdClientOptions options_;
  Logger logger_;
  std::vector<Member> members_;
  std::mutex mu_;
  size_t current_ = 0;  // guarded by mu_
};

}  // namespace bbs::storage::etcd
