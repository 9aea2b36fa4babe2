#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/etcd/etcd_client.h"
#include "bbs/storage/sql/lease_lock.h"
#include "bbs/storage/store.h"

namespace bbs::storage::etcd {

// The key layout of the original (etcd-era) BBS, spec/behavior.md §10.6, under `root` (""
// for the seed's layout, e.g. "/v1/task/<guid>"; "/x" gives "/x/v1/task/<guid>").
struct KeyLayout {
  std::string root;

  std::string Version() const { return root + "/version"; }
  std::string EncryptionKey() const { return root + "/encryption-key"; }
  // The leader lock (EtcdLeaseLock): the seed's Consul lock key, kept under the root.
  std::string LockKey() const { return root + "/v1/locks/bbs_lock"; }
  // Every record key starts with this.
  std::string Records() const { return root + "/v1/"; }
  std::string Domain(std::string_view domain) const;
  std::string DesiredSchedule(std::string_view process_guid) const;
  std::string DesiredRun(std::string_view process_guid) const;
  // ".../instance" (ORDINARY), ".../evacuating" (EVACUATING) or ".../suspect" (SUSPECT).
  std::string Actual(std::string_view process_guid, int32_t index,
                     models::ActualLRP::Presence presence) const;
  std::string Task(std::string_view task_guid) const;
};

// EtcdStore keeps the records in etcd v3 in the seed's key layout (KeyLayout). Values:
//   domain            the expiry time as decimal Unix ns (the seed wrote an empty value; one is
//                     read as "never expires"); a domain expiring in the future is attached to
//                     a lease with the remaining TTL, so that etcd removes it as the seed did.
//   desired schedule  model(DesiredLRPSchedulingInfo + the record's metric tags and update
//                     strategy as fields 1001 and 1002, which the seed skips as unknown)
//   desired run       model(run_info)
//   actual, task      model(ActualLRP), model(Task)
// where model() is the encrypted "serialised model" of spec/behavior.md §10.2 (the SQL stores'
// Encoder, with the active key). /encryption-key holds the active key label (§10.3, §10.6).
//
// Commit and CommitChanges write in etcd transactions of at most `max_ops_per_txn` operations
// and `max_request_bytes` bytes (etcd's server limits, 128 and 1.5 MiB by default), keeping the
// last mutation per key within a transaction (etcd refuses a key named twice):
//  * every change that fits in one transaction is written atomically: the group of a group
//    commit is packed into as few transactions as the limits allow, split only between changes;
//  * a change that alone exceeds the limits (a desire, scale-up or removal of a process with
//    more than ~120 instances) is written in the order of its mutations in consecutive
//    transactions, never splitting the two keys of a desired LRP. The engine puts the desired
//    LRP first, so what another reader or a crash can see in between is a desired LRP with only
//    some of its actual LRPs created or removed — the state the seed's etcd BBS also left
//    (it wrote the desired LRP and then each actual LRP on its own) and that LRP convergence
//    repairs (missing instances are created, extra ones retired).
// When a transaction fails after earlier ones of the same call were applied, the call fails with
// Unrecoverable "etcd commit partially applied": the state in memory no longer matches etcd,
// and the daemon exits (as on a lost lock) so that it, or the passive, reloads from etcd.
// With a fence, every transaction also compares the create revision of the lock key with the
// fence's epoch and writes nothing if it changed (the process lost its lock): Unrecoverable.
//
// Load reads the records with paginated range reads at one revision; of the desired LRPs' run
// keys it reads only the names (their values are read on demand: ReadRunInfos reads them in
// transactions of at most `max_ops_per_txn` range reads, ReadAllRunInfos pages through them at
// one revision). The client is thread-safe, so the run-info reads run concurrently with commits.
class EtcdStore final : public Store {
 public:
  struct Options {
    EtcdClientOptions client;
    std::string root;  // see KeyLayout
    int max_ops_per_txn = 128;
    int64_t max_request_bytes = 1572864;
    int64_t page_size = 50000;  // keys per range read in Load
    // How long Open waits for a member to answer before failing.
    std::chrono::milliseconds connect_timeout{5000};
    // Required: encrypts what is written, decrypts with the label each value names.
    std::shared_ptr<const encryption::Encoder> encoder;
    // Unix ns; null: the system clock. Used only for domain lease TTLs.
    std::function<int64_t()> now;
    // The leader lock's fence (EtcdLeaseLock::fence()): when set, every transaction requires
    // the lock key (KeyLayout::LockKey) to have create revision fence->epoch, and a commit while
    // the epoch is 0 (the lock is not held) fails at once.
    std::shared_ptr<const sql::LeaseFence> fence;
  };

  // Connects (waiting up to connect_timeout for one member to answer), writes the /version key
  // if missing, and checks the key label in /encryption-key (§10.3): a label the encoder does not
  // know fails with Unrecoverable "Existing encryption key version (<label>) is not among the
  // known keys"; a missing label or one other than the active label makes Open re-encrypt every
  // record with the active key (values it cannot decode are logged and left alone) and then
  // store the active label. Fails with UnknownError naming the endpoints if no member answers,
  // and with InvalidRequest without an encoder.
  static Result<std::unique_ptr<EtcdStore>> Open(Options options, Logger logger);

  EtcdStore(const EtcdStore&) = delete;
  EtcdStore& operator=(const EtcdStore&) = delete;

  Status Load(Snapshot* out) override;
  Status Commit(std::span<const Mutation> mutations) override;
  Status CommitChanges(std::span<const Mutation> mutations,
                       std::span<const size_t> change_ends) override;
  Result<std::vector<StoredRunInfo>> ReadRunInfos(
      std::span<const std::string> process_guids) override;
  Result<std::vector<StoredRunInfo>> ReadAllRunInfos() override;

  // Later commits write only while `key` exists with create revision `create_revision`;
  // otherwise they fail with Unrecoverable and write nothing. Options::fence, when set, wins.
  void SetFence(std::string key, int64_t create_revision);
  void ClearFence();

  EtcdClient& client() { return *client_; }
  const KeyLayout& layout() const { return layout_; }

  // The version written to /version as {"CurrentVersion": N}.
  static constexpr int64_t kSchemaVersion = 1;

 public:
  struct Op;  // one put or delete of a transaction (etcd_store.cc)

 private:
  EtcdStore(Options options, std::unique_ptr<EtcdClient> client, Logger logger);

  Status EnsureVersion();
  // A run key's value as the run-info reads return it (decrypted; nullopt, logged, if it does
  // not decode).
  StoredRunInfo DecodeRunValue(std::string process_guid, std::string_view value) const;
  Status EnsureEncryptionKey();
  // Rewrites every record value not already under the active label; returns how many.
  Result<size_t> Reencrypt();
  // The fence of the transactions about to be written: false (and *why) when the shared fence
  // says the lock is not held.
  bool CurrentFence(std::string* key, int64_t* revision, Status* why) const;
  // Writes `ops` (independent records) in as many transactions as the limits ask.
  Status WriteOps(std::span<const Op> ops);
  Status Coalesce(std::span<const Mutation> mutations, std::vector<Op>* ops);
  Status GrantLeases(std::vector<Op>* ops);
  Status WriteTxn(std::span<const Op> ops, const std::string& fence_key, int64_t fence_revision);
  int64_t TxnBudget(const std::string& fence_key) const;

  Options options_;
  KeyLayout layout_;
  std::unique_ptr<EtcdClient> client_;
  std::shared_ptr<const encryption::Encoder> encoder_;
  Logger logger_;
  std::string fence_key_;
  int64_t fence_revision_ = 0;
};

}  // namespace bbs::storage::etcd
