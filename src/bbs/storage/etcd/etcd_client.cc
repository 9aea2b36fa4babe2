#include "bbs/storage/etcd/etcd_client.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include <fmt/format.h>

namespace bbs::storage::etcd {
namespace {

using Clock = std::chrono::steady_clock;

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  *out = contents.str();
  return true;
}

// Retryable on another member or a moment later. etcd reports "no leader", "leader changed",
// "request timed out" and a stopping server as UNAVAILABLE.
bool Retryable(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:  // "too many requests"
      return true;
    default:
      return false;
  }
}

std::string TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '/')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

}  // namespace

std::vector<std::string> SplitEndpoints(std::string_view cluster) {
  std::vector<std::string> out;
  for (size_t begin = 0; begin <= cluster.size();) {
    size_t end = std::min(cluster.find(',', begin), cluster.size());
    if (std::string endpoint = TrimSpaces(cluster.substr(begin, end - begin)); !endpoint.empty()) {
      out.push_back(std::move(endpoint));
    }
    begin = end + 1;
  }
  return out;
}

Result<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdClientOptions options, Logger logger) {
  if (options.endpoints.empty()) {
    return InvalidRequest("no etcd endpoints given (-etcdCluster)");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return InvalidRequest("the etcd client certificate and key must be given together");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.ca_file.empty() && !ReadFile(options.ca_file, &ssl.pem_root_certs)) {
    return InvalidRequest(fmt::format("cannot read the etcd CA file '{}'", options.ca_file));
  }
  if (!options.cert_file.empty()) {
    if (!ReadFile(options.cert_file, &ssl.pem_cert_chain)) {
      return InvalidRequest(
          fmt::format("cannot read the etcd certificate file '{}'", options.cert_file));
    }
    if (!ReadFile(options.key_file, &ssl.pem_private_key)) {
      return InvalidRequest(fmt::format("cannot read the etcd key file '{}'", options.key_file));
    }
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // Reconnect to a member that came back within a second, not gRPC's default of up to 2 min.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);

  std::vector<Member> members;
  for (const std::string& url : options.endpoints) {
    std::string target = url;
    bool tls = !options.cert_file.empty() || !options.ca_file.empty();
    if (target.starts_with("https://")) {
      target.erase(0, 8);
      tls = true;
    } else if (target.starts_with("http://")) {
      target.erase(0, 7);
      tls = false;
    } else if (target.find("://") != std::string::npos) {
      return InvalidRequest(fmt::format("etcd endpoint '{}': want http:// or https://", url));
    }
    if (size_t slash = target.find('/'); slash != std::string::npos) {
      target.erase(slash);
    }
    if (target.empty()) {
      return InvalidRequest(fmt::format("etcd endpoint '{}' names no host", url));
    }
    if (target.find(':') == std::string::npos || target.back() == ']') {
      target += ":2379";
    }
    auto credentials = tls ? grpc::SslCredentials(ssl) : grpc::InsecureChannelCredentials();
    Member member;
    member.url = url;
    member.channel = grpc::CreateCustomChannel(target, credentials, args);
    member.kv = etcdserverpb::KV::NewStub(member.channel);
    member.lease = etcdserverpb::Lease::NewStub(member.channel);
    member.maintenance = etcdserverpb::Maintenance::NewStub(member.channel);
    members.push_back(std::move(member));
  }
  return std::unique_ptr<EtcdClient>(
      new EtcdClient(std::move(options), std::move(logger), std::move(members)));
}

EtcdClient::EtcdClient(EtcdClientOptions options, Logger logger, std::vector<Member> members)
    : options_(std::move(options)), logger_(std::move(logger)), members_(std::move(members)) {}

Status EtcdClient::Call(std::string_view what, const Attempt& attempt) {
  const Clock::time_point give_up = Clock::now() + options_.retry_budget;
  std::chrono::milliseconds backoff(20);
  size_t index;
  {
    std::lock_guard lock(mu_);
    index = current_;
  }
  grpc::Status last;
  std::string last_url;
  for (size_t attempts = 1;; ++attempts) {
    Member& member = members_[index];
    grpc::ClientContext context;
    Clock::time_point now = Clock::now();
    Clock::time_point deadline =
        std::max(std::min(now + options_.attempt_timeout, give_up), now + backoff);
    context.set_deadline(std::chrono::system_clock::now() + (deadline - now));
    grpc::Status status = attempt(member, &context);
    if (status.ok()) {
      std::lock_guard lock(mu_);
      current_ = index;
      return Status::Ok();
    }
    last = std::move(status);
    last_url = member.url;
    if (!Retryable(last)) {
      return UnknownError(fmt::format("etcd {} at {}: {}", what, member.url, last.error_message()));
    }
    if (Clock::now() >= give_up) {
      break;
    }
    logger_.Debug("etcd-retry", {{"request", std::string(what)},
                                 {"endpoint", member.url},
                                 {"error", last.error_message()}});
    index = (index + 1) % members_.size();
    if (attempts % members_.size() == 0) {
      // Every member failed once: wait a little (an election, a restart) before the next round.
      std::this_thread::sleep_for(std::min<Clock::duration>(
          backoff, std::max<Clock::duration>(give_up - Clock::now(), Clock::duration::zero())));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
    }
  }
  {
    std::lock_guard lock(mu_);
    current_ = index;
  }
  return UnknownError(
      fmt::format("etcd {} failed on every endpoint ({}) for {} ms; last error "
                  "from {}: {}",
                  what, fmt::join(options_.endpoints, ","), options_.retry_budget.count(), last_url,
                  last.error_message()));
}

template <auto kStub, auto kMethod, typename Request, typename Response>
Status EtcdClient::Unary(std::string_view what, const Request& request, Response* response) {
  return Call(what, [&](Member& m, grpc::ClientContext* context) {
    return ((*(m.*kStub)).*kMethod)(context, request, response);
  });
}

Status EtcdClient::Range(const etcdserverpb::RangeRequest& request,
                         etcdserverpb::RangeResponse* response) {
  return Unary<&Member::kv, &etcdserverpb::KV::Stub::Range>("range", request, response);
}

Status EtcdClient::Txn(const etcdserverpb::TxnRequest& request,
                       etcdserverpb::TxnResponse* response) {
  return Unary<&Member::kv, &etcdserverpb::KV::Stub::Txn>("txn", request, response);
}

Status EtcdClient::LeaseGrant(const etcdserverpb::LeaseGrantRequest& request,
                              etcdserverpb::LeaseGrantResponse* response) {
  return Unary<&Member::lease, &etcdserverpb::Lease::Stub::LeaseGrant>("lease grant", request,
                                                                       response);
}

Status EtcdClient::LeaseRevoke(const etcdserverpb::LeaseRevokeRequest& request,
                               etcdserverpb::LeaseRevokeResponse* response) {
  return Unary<&Member::lease, &etcdserverpb::Lease::Stub::LeaseRevoke>("lease revoke", request,
                                                                        response);
}

Result<int64_t> EtcdClient::LeaseKeepAliveOnce(int64_t id) {
  etcdserverpb::LeaseKeepAliveResponse response;
  Status s = Call("lease keepalive", [&](Member& m, grpc::ClientContext* context) {
    auto stream = m.lease->LeaseKeepAlive(context);
    etcdserverpb::LeaseKeepAliveRequest request;
    request.set_id(id);
    if (!stream->Write(request) || !stream->Read(&response)) {
      stream->WritesDone();
      grpc::Status status = stream->Finish();
      return status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keepalive stream closed")
                         : status;
    }
    // Answered: end the stream without waiting for the server to close it.
    context->TryCancel();
    stream->Finish();
    return grpc::Status::OK;
  });
  if (!s.ok()) {
    return s;
  }
  return response.ttl();
}

Status EtcdClient::MemberStatus(etcdserverpb::StatusResponse* response) {
  etcdserverpb::StatusRequest request;
  return Unary<&Member::maintenance, &etcdserverpb::Maintenance::Stub::Status>("status", request,
                                                                               response);
}

Status EtcdClient::MemberStatusAt(size_t index, etcdserverpb::StatusResponse* response) {
  if (index >= members_.size()) {
    return InvalidRequest("no such etcd endpoint");
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.attempt_timeout);
  etcdserverpb::StatusRequest request;
  grpc::Status status = members_[index].maintenance->Status(&context, request, response);
  if (!status.ok()) {
    return UnknownError(
        fmt::format("etcd status at {}: {}", members_[index].url, status.error_message()));
  }
  return Status::Ok();
}

}  // namespace bbs::storage::etcd
