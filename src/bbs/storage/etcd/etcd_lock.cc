#include "bbs/storage/etcd/etcd_lock.h"

#include <unistd.h>

#include <algorithm>
#include <random>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bbs/storage/etcd/etcd_store.h"

namespace bbs::storage::etcd {
namespace {

std::string UniqueOwner() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::random_device random;
  return fmt::format("{}-{}-{:08x}", host, getpid(), random());
}

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
    : options_(std::move(options)),
      key_(KeyLayout{options_.root}.LockKey()),
      client_(std::move(client)),
      logger_(std::move(logger)),
      fence_(std::make_shared<sql::LeaseFence>()) {
  fence_->owner = options_.owner.empty() ? UniqueOwner() : options_.owner;
}

EtcdLeaseLock::~EtcdLeaseLock() {
  StopRenewingForTesting();
  held_ = false;
  fence_->epoch = 0;
}

bool EtcdLeaseLock::WaitFor(std::chrono::milliseconds d, const bool& flag) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return flag; });
  return !flag;
}

Result<EtcdLeaseLock::Attempt> EtcdLeaseLock::TryAcquire() {
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
    put->set_value(nlohmann::json{{"id", fence_->owner}}.dump());
    put->set_lease(lease_);
    txn.add_failure()->mutable_request_range()->set_key(key_);
    etcdserverpb::TxnResponse response;
    if (Status s = client_->Txn(txn, &response); !s.ok()) {
      return s;
    }
    Attempt attempt;
    if (response.succeeded()) {
      // The put is the transaction's only write: the key's create revision is the new revision.
      fence_->epoch = response.header().revision();
      attempt.acquired = true;
      return attempt;
    }
    if (response.responses_size() != 1 || response.responses(0).response_range().kvs_size() != 1) {
      return attempt;  // gone meanwhile: the next attempt may take it
    }
    const mvccpb::KeyValue& kv = response.responses(0).response_range().kvs(0);
    attempt.holder = OwnerOf(kv.value());
    if (attempt.holder != fence_->owner || round > 0) {
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
    logger_.Info("took-over-own-lock",
                 {{"owner", fence_->owner}, {"previous_epoch", kv.create_revision()}});
  }
}

Result<lock::AcquireOutcome> EtcdLeaseLock::Acquire(LostCallback on_lost) {
  std::string last_holder;
  bool logged_error = false;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return lock::AcquireOutcome::kCancelled;
    }
    Result<Attempt> attempt = TryAcquire();
    if (!attempt.ok()) {
      if (!logged_error) {
        logger_.Error("failed-to-acquire-lock", attempt.status().message(), {{"key", key_}});
        logged_error = true;
      }
    } else if (attempt.value().acquired) {
      {
        std::lock_guard lock(mu_);
        on_lost_ = std::move(on_lost);
        stopping_ = false;
      }
      held_ = true;
      logger_.Info("acquired-lock",
                   {{"owner", fence_->owner}, {"epoch", fence_->epoch.load()}, {"lease", lease_}});
      renewer_ = std::thread([this] { RenewLoop(); });
      return lock::AcquireOutcome::kAcquired;
    } else {
      logged_error = false;
      if (attempt.value().holder != last_holder) {
        last_holder = attempt.value().holder;
        logger_.Info("waiting-for-lock", {{"lock-owner", last_holder}, {"key", key_}});
      }
    }
    if (!WaitFor(options_.retry_interval, cancelled_)) {
      return lock::AcquireOutcome::kCancelled;
    }
  }
}

Status EtcdLeaseLock::Renew() {
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
  if (response.kvs_size() != 1 || response.kvs(0).create_revision() != fence_->epoch.load() ||
      response.kvs(0).lease() != lease_) {
    return Status(ErrorCode::kUnrecoverable,
                  fmt::format("the lock key {} was deleted or taken over", key_));
  }
  return Status::Ok();
}

void EtcdLeaseLock::RenewLoop() {
  while (WaitFor(options_.retry_interval, stopping_)) {
    Status why = Renew();
    if (why.ok()) continue;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;  // Release won the race
    }
    int64_t epoch = fence_->epoch.exchange(0);
    held_ = false;
    logger_.Error("lost-lock", why.message(), {{"epoch", epoch}, {"lease", lease_}});
    LostCallback on_lost;
    {
      std::lock_guard lock(mu_);
      on_lost = std::move(on_lost_);
    }
    if (on_lost) on_lost(why);
    return;
  }
}

void EtcdLeaseLock::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  cv_.notify_all();
}

void EtcdLeaseLock::StopRenewingForTesting() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (renewer_.joinable() && renewer_.get_id() != std::this_thread::get_id()) {
    renewer_.join();
  }
}

void EtcdLeaseLock::Release() {
  StopRenewingForTesting();
  int64_t epoch = fence_->epoch.exchange(0);
  if (!held_.exchange(false) || epoch == 0) return;
  // Revoking the lease deletes the key: a passive takes the lock at its next attempt.
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease_);
  etcdserverpb::LeaseRevokeResponse response;
  if (Status s = client_->LeaseRevoke(request, &response); !s.ok()) {
    logger_.Error("failed-to-release-lock", s.message(), {{"epoch", epoch}});
    return;
  }
  logger_.Info("released-lock", {{"epoch", epoch}});
}

std::string EtcdLeaseLock::Description() const {
  return fmt::format("etcd key {} at {} owned by {}", key_, fmt::join(client_->endpoints(), ","),
                     fence_->owner);
}

}  // namespace bbs::storage::etcd
