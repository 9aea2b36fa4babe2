#include "bbs/storage/etcd/etcd_lock.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bbs/storage/etcd/etcd_store.h"

namespace bbs::storage::etcd {
namespace {

// The owner named by a lock value {"id": <owner>} (the raw value when it is not such JSON).
std::string OwnerOf(const std::string& value) {
  auto json = nlohmann::json::parse(value, nullptr, false);
  if (json.is_object() && json.contains("id") && json["id"].is_string()) {
    return json["id"].get<std::string>();
  }
  return value;
}

// A renewal may keep trying (on other members: an election, a dead member) while the lease it
// renews can still be valid — until about ttl - retry_interval after the last renewal — and at
// least 1 s; each attempt gets a third of that, so that a member that hangs (a follower during
// an election) leaves time for the others. Safety does not depend on this: the fence does.
EtcdClientOptions LockClientOptions(const EtcdLockOptions& options) {
  using std::chrono::milliseconds;
  EtcdClientOptions client = options.client;
  client.retry_budget = std::max(options.ttl - options.retry_interval, milliseconds(1000));
  client.attempt_timeout = std::max(client.retry_budget / 3, milliseconds(300));
  return client;
}

}  // namespace

Result<std::unique_ptr<EtcdLeaseLock>> EtcdLeaseLock::Create(EtcdLockOptions options,
                                                             Logger logger) {
  auto client = EtcdClient::Create(LockClientOptions(options), logger.Session("etcd-client"));
  if (!client.ok()) {
    return client.status();
  }
  return std::unique_ptr<EtcdLeaseLock>(
      new EtcdLeaseLock(std::move(options), std::move(client).value(), std::move(logger)));
}

EtcdLeaseLock::EtcdLeaseLock(EtcdLockOptions options, std::unique_ptr<EtcdClient> client,
                             Logger logger)
    : FencedLeaseLock(options.owner, options.retry_interval, std::move(logger)),
      options_(std::move(options)),
      key_(KeyLayout{options_.root}.LockKey()),
      client_(std::move(client)) {}

Result<sql::LeaseAttempt> EtcdLeaseLock::TryAcquire() {
  // The lease of the attempts: kept alive between attempts, granted again once it expired.
  if (lease_ != 0) {
    auto ttl = client_->LeaseKeepAliveOnce(lease_);
    if (!ttl.ok()) {
      return ttl.status();
    }
    if (*ttl <= 0) {
      lease_ = 0;
    }
  }
  if (lease_ == 0) {
    etcdserverpb::LeaseGrantRequest request;
    request.set_ttl(std::max<int64_t>(1, (options_.ttl.count() + 999) / 1000));
    etcdserverpb::LeaseGrantResponse response;
    if (Status s = client_->LeaseGrant(request, &response); !s.ok()) {
      return s;
    }
    if (!response.error().empty()) {
      return UnknownError("etcd lease grant: " + response.error());
    }
    lease_ = response.id();
  }
  for (int round = 0;; ++round) {
    etcdserverpb::TxnRequest txn;
    etcdserverpb::Compare* absent = txn.add_compare();
    absent->set_key(key_);
    absent->set_target(etcdserverpb::Compare::CREATE);
    absent->set_result(etcdserverpb::Compare::EQUAL);
    absent->set_create_revision(0);
    etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
    put->set_key(key_);
    put->set_value(nlohmann::json{{"id", owner()}}.dump());
    put->set_lease(lease_);
    txn.add_failure()->mutable_request_range()->set_key(key_);
    etcdserverpb::TxnResponse response;
    if (Status s = client_->Txn(txn, &response); !s.ok()) {
      return s;
    }
    sql::LeaseAttempt attempt;
    if (response.succeeded()) {
      // The put is the transaction's only write: the key's create revision is the new revision.
      attempt.acquired = true;
      attempt.epoch = response.header().revision();
      return attempt;
    }
    if (response.responses_size() != 1 || response.responses(0).response_range().kvs_size() != 1) {
      return attempt;  // gone meanwhile: the next attempt may take it
    }
    const mvccpb::KeyValue& kv = response.responses(0).response_range().kvs(0);
    attempt.holder = OwnerOf(kv.value());
    if (attempt.holder != owner() || round > 0) {
      return attempt;
    }
    // Left by an earlier process with our owner (a restart): delete that tenure's key (its
    // fence then refuses every commit of that process) and take the lock afresh.
    etcdserverpb::TxnRequest takeover;
    etcdserverpb::Compare* same = takeover.add_compare();
    same->set_key(key_);
    same->set_target(etcdserverpb::Compare::CREATE);
    same->set_result(etcdserverpb::Compare::EQUAL);
    same->set_create_revision(kv.create_revision());
    takeover.add_success()->mutable_request_delete_range()->set_key(key_);
    etcdserverpb::TxnResponse deleted;
    if (Status s = client_->Txn(takeover, &deleted); !s.ok()) {
      return s;
    }
    logger().Info("took-over-own-lock",
                  {{"owner", owner()}, {"previous_epoch", kv.create_revision()}});
  }
}

Status EtcdLeaseLock::Renew(int64_t epoch) {
  auto ttl = client_->LeaseKeepAliveOnce(lease_);
  if (!ttl.ok()) {
    return Status(ErrorCode::kUnrecoverable,
                  "renewing the lease failed: " + ttl.status().message());
  }
  if (*ttl <= 0) {
    return Status(ErrorCode::kUnrecoverable, "the lease expired before it was renewed");
  }
  etcdserverpb::RangeRequest request;
  request.set_key(key_);
  etcdserverpb::RangeResponse response;
  if (Status s = client_->Range(request, &response); !s.ok()) {
    return Status(ErrorCode::kUnrecoverable, "reading the lock key failed: " + s.message());
  }
  if (response.kvs_size() != 1 || response.kvs(0).create_revision() != epoch ||
      response.kvs(0).lease() != lease_) {
    return Status(ErrorCode::kUnrecoverable,
                  fmt::format("the lock key {} was deleted or taken over", key_));
  }
  return Status::Ok();
}

Status EtcdLeaseLock::GiveBack(int64_t /*epoch*/) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease_);
  etcdserverpb::LeaseRevokeResponse response;
  return client_->LeaseRevoke(request, &response);
}

std::string EtcdLeaseLock::Description() const {
  return fmt::format("etcd key {} at {} owned by {}", key_, fmt::join(client_->endpoints(), ","),
                     owner());
}

}  // namespace bbs::storage::etcd
