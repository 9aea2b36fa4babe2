#pragma once

// The leader lock of the etcd store without an external Locket: a key in etcd attached to a
// lease, with fencing (docs/ha.md §"Store locks", behavior.md §9).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/storage/etcd/etcd_client.h"
#include "bbs/storage/sql/lease_lock_base.h"

namespace bbs::storage::etcd {

struct EtcdLockOptions {
  EtcdClientOptions client{};            // endpoints and TLS; the lock sets its own timeouts
  std::string root{};                    // the store's key root (KeyLayout::LockKey)
  std::string owner{};                   // the configured uuid; a unique owner when empty
  std::chrono::milliseconds ttl{15000};  // lock_ttl (whole seconds in etcd)
  std::chrono::milliseconds retry_interval{5000};  // lock_retry_interval: acquire and renew
};

// A LeaderLock on the key `<root>/v1/locks/bbs_lock` (the seed's Consul lock key, now in etcd),
// value {"id": <owner>}, attached to an etcd lease of TTL lock_ttl:
//  * acquire: one transaction "create revision of the key == 0 → put it with our lease", every
//    retry_interval while another owner holds it. A key left by our own owner (a restart with
//    the same uuid) is deleted and taken at once, as Locket treats the same owner as a refresh.
//  * hold: every retry_interval a LeaseKeepAlive round and a read of the key; a lease that
//    expired, a key that is gone or re-created, or a round that does not succeed on any member
//    within ttl - retry_interval (at least 1 s) loses the lock (on_lost). etcd deletes the key when
//    the lease expires, so a passive takes over within lock_ttl + retry_interval of the holder's
//    death.
//  * fence: `fence()` holds the owner and, while held, the key's create revision as the epoch
//    (0 otherwise). The EtcdStore puts "create revision of the lock key == epoch" in every
//    transaction, so a holder that was paused or partitioned past its lease commits nothing.
//  * release: revokes the lease (which deletes the key) so a passive takes over at once.
//
// Logs under the logger's session as FencedLeaseLock, with the key while acquiring and the lease
// on acquired-lock and lost-lock; also took-over-own-lock {owner, previous_epoch}. Thread-safe,
// as LeaderLock.
class EtcdLeaseLock final : public sql::FencedLeaseLock {
 public:
  static Result<std::unique_ptr<EtcdLeaseLock>> Create(EtcdLockOptions options, Logger logger);
  ~EtcdLeaseLock() override { StopRenewing(); }

  std::string Description() const override;

  const std::string& key() const { return key_; }

 private:
  EtcdLeaseLock(EtcdLockOptions options, std::unique_ptr<EtcdClient> client, Logger logger);
  Result<sql::LeaseAttempt> TryAcquire() override;
  // One renewal round: the lease and the key.
  Status Renew(int64_t epoch) override;
  // Revokes the lease, which deletes the key.
  Status GiveBack(int64_t epoch) override;
  nlohmann::json AcquiringLogFields() const override { return {{"key", key_}}; }
  nlohmann::json TenureLogFields() const override { return {{"lease", lease_}}; }

  const EtcdLockOptions options_;
  const std::string key_;
  const std::unique_ptr<EtcdClient> client_;
  int64_t lease_ = 0;  // the lease of the attempts and of the tenure (Acquire, then the renewer)
};

}  // namespace bbs::storage::etcd
