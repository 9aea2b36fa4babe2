#pragma once

// The leader lock of the etcd store without an external Locket: a key in etcd attached to a
// lease, with fencing (docs/ha.md §"Store locks", behavior.md §9).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/lock/leader_lock.h"
#include "bbs/storage/etcd/etcd_client.h"
#include "bbs/storage/sql/lease_lock.h"

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
// Logs under the logger's session as SqlLeaseLock: waiting-for-lock {lock-owner},
// failed-to-acquire-lock, acquired-lock {owner, epoch, lease}, lost-lock, released-lock.
// Thread-safe, as LeaderLock.
class EtcdLeaseLock final : public lock::LeaderLock {
 public:
  static Result<std::unique_ptr<EtcdLeaseLock>> Create(EtcdLockOptions options, Logger logger);
  ~EtcdLeaseLock() override;  // Stops renewing; does not release (as a crash would not).
  EtcdLeaseLock(const EtcdLeaseLock&) = delete;
  EtcdLeaseLock& operator=(const EtcdLeaseLock&) = delete;

  Result<lock::AcquireOutcome> Acquire(LostCallback on_lost) override;
  void Cancel() override;
  bool Held() const override { return held_.load(); }
  void Release() override;
  std::string Description() const override;

  std::shared_ptr<const sql::LeaseFence> fence() const { return fence_; }
  const std::string& key() const { return key_; }

  // For tests: stop renewing without giving up the lease (a paused holder).
  void StopRenewingForTesting();

 private:
  struct Attempt {
    bool acquired = false;
    std::string holder;  // when not acquired
  };

  EtcdLeaseLock(EtcdLockOptions options, std::unique_ptr<EtcdClient> client, Logger logger);
  Result<Attempt> TryAcquire();
  // One renewal round; a non-OK status says why the lock is lost.
  Status Renew();
  void RenewLoop();
  // Waits `d` or until `flag`; returns false when `flag` became true.
  bool WaitFor(std::chrono::milliseconds d, const bool& flag);

  const EtcdLockOptions options_;
  const std::string key_;
  const std::unique_ptr<EtcdClient> client_;
  const Logger logger_;
  const std::shared_ptr<sql::LeaseFence> fence_;
  std::atomic<bool> held_{false};
  int64_t lease_ = 0;  // the lease of the attempts and of the tenure (Acquire, then the renewer)

  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  LostCallback on_lost_;    // guarded by mu_
  std::thread renewer_;
};

}  // namespace bbs::storage::etcd
