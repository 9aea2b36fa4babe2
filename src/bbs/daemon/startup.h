#pragma once

// The leader-election part of the daemon's start-up (behavior.md §9.2, docs/ha.md): choosing the
// lock, waiting for it as a passive process, exiting when it is lost, and the metrics and timing
// hooks around it. main.cc calls these between building the listeners that serve every process
// (health, the built-in Locket) and opening the store, which only the active process does.

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bbs/base/clock.h"
#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/base/stoppable_thread.h"
#include "bbs/cells/locket_client.h"
#include "bbs/cells/locket_registry.h"
#include "bbs/daemon/config.h"
#include "bbs/lock/leader_lock.h"
#include "bbs/storage/sql/lease_lock.h"
#include "bbs/storage/store.h"

namespace bbs::daemon {

// Exit status of a process that lost the leader lock (upstream exits 1 on any member failure).
constexpr int kExitLostLock = 1;

// Waits for the shutdown signals on a thread of its own, so that a passive process can be
// stopped while it waits for the lock. REQUIRES: `signals` are blocked in every thread (main
// blocks them before any thread starts). Thread-safe.
class SignalWatcher {
 public:
  explicit SignalWatcher(const sigset_t& signals);
  ~SignalWatcher();  // Ends the watcher thread.
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // Runs `fn(signo)` on the watcher thread when the first signal arrives, or at once (on the
  // caller's thread) when one already did.
  void OnSignal(std::function<void(int)> fn);
  // Blocks until a signal arrived; returns its number.
  int Wait();
  // Whether a signal arrived.
  bool Signalled();

 private:
  void Loop();

  sigset_t signals_;
  std::mutex mu_;
  std::condition_variable cv_;
  int signo_ = 0;                              // guarded by mu_
  bool stopping_ = false;                      // guarded by mu_
  std::vector<std::function<void(int)>> fns_;  // guarded by mu_
  std::thread thread_;
};

// Where the lock metrics of behavior.md §12.1 go. An empty function emits nothing. (The metrics
// library plugs in here: LockHeld is a gauge 0/1, BBSMasterElected a gauge set to 1 once.)
struct LockMetrics {
  std::function<void(bool held)> lock_held;  // every report_interval, active and passive
  std::function<void()> master_elected;      // once, when this process becomes active
};

// The leader lock for `config` (docs/ha.md §"Which lock"). Locket client certificates without
// locket_address fail with InvalidRequest "invalid-locket-config" (upstream requires the
// address); otherwise:
//   locket_address set          -> LocketLock on key "bbs" owned by `uuid` over `locket`
//                                  (fails with InvalidRequest "invalid-uuid" when uuid is empty);
//   sqlite on a file            -> FileLock on "<database file>.lock" (its directory is created);
//   memory, sqlite ":memory:"   -> ProcessLocalLock (nothing is shared);
//   postgres, mysql             -> SqlLeaseLock on the bbs_leader_lease row owned by `uuid`
//                                  (a unique owner when empty), TTL lock_ttl, renewed every
//                                  lock_retry_interval; `*fence` (when not null) receives the
//                                  fence the store must check in every commit;
//   etcd                        -> EtcdLeaseLock on <etcd_root>/v1/locks/bbs_lock owned by
//                                  `uuid` (a unique owner when empty), lease TTL lock_ttl,
//                                  kept alive every lock_retry_interval; `*fence` as above;
//   any other driver            -> ProcessLocalLock with a warning.
// `locket` must outlive the lock; it may be null when locket_address is empty.
Result<std::unique_ptr<lock::LeaderLock>> MakeLeaderLock(
    const Config& config, cells::LocketClient* locket, const Logger& logger,
    std::shared_ptr<const storage::sql::LeaseFence>* fence = nullptr);

// The records of the built-in Locket service (docs/ha.md §"The built-in Locket service"):
//   postgres, mysql, sqlite on a file -> SqlLocketRegistry on the `locks` table of the store's
//                                        database, shared by every process (active and passive);
//   memory, etcd, sqlite in memory    -> PresenceRegistry in this process's memory on `clock`.
// `clock` must outlive the registry.
Result<std::unique_ptr<cells::LocketRegistry>> MakeLocketRegistry(const Config& config,
                                                                  const Clock* clock,
                                                                  const Logger& logger);

// Calls `report(lock->Held())` at once and then every `interval` from its own thread, until
// destroyed. Thread-safe.
class LockHeldReporter {
 public:
  LockHeldReporter(const lock::LeaderLock* lock, std::chrono::nanoseconds interval,
                   std::function<void(bool)> report);

 private:
  StoppableThread thread_;  // its destructor stops the reports
};

enum class Leadership { kActive, kShutdown };

// Blocks while this process is passive, until it holds `lock` (kActive) or a shutdown signal
// arrived first (kShutdown). Once active, losing the lock logs bbs.lost-lock-exiting and ends
// the process at once with kExitLostLock, without any clean-up: nothing it could still do is
// safe once another process may be active, and every acknowledged write is already durable.
// Fails only when the lock cannot be used at all.
Result<Leadership> AwaitLeadership(lock::LeaderLock* lock, SignalWatcher* signals,
                                   const LockMetrics& metrics, const Logger& logger);

// The DB health check of behavior.md §10.5 for `config`, or an empty function when it is off
// (enable_db_health_check false) or the driver has none (only postgres and mysql have one). Each
// call upserts row id 1 of bbs_health_check with the current time on a connection of its own and
// reads it back, failing when the database does not answer within health_check_timeout.
std::function<Status()> MakeDbHealthCheck(const Config& config);

// Runs `check` every `interval` on a thread of its own; after `threshold` consecutive failures
// (each logged as db-health-check-failed) it calls `on_failure` once and stops checking. The
// daemon exits there: a database that stopped answering must not keep a zombie leader that
// holds the lock. Thread-safe; the destructor stops the thread.
class DbHealthMonitor {
 public:
  DbHealthMonitor(std::function<Status()> check, std::chrono::nanoseconds interval, int threshold,
                  std::function<void(const Status&)> on_failure, Logger logger);

 private:
  StoppableThread thread_;  // its destructor stops the checks
};

// Wall-clock durations of the start-up phases after the lock, for the log line
// "bbs.start-up-durations" (docs/ha.md §"Takeover time"). Not thread-safe.
class StartupTimer {
 public:
  StartupTimer();
  // Records the time since the previous mark (or construction) as `phase`.
  void Mark(std::string_view phase);
  // Adds `duration` as `phase` without moving the mark (a part of a later phase).
  void Add(std::string_view phase, std::chrono::steady_clock::duration duration);
  // {"<phase>_ms": ..., ..., "total_ms": ...}
  nlohmann::json ToJson() const;

 private:
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
  std::vector<std::pair<std::string, double>> phases_;
};

// A Store that forwards to another and measures Load, so that the start-up line can split the
// load into reading the store and building the in-memory model. Thread-compatible, as Store.
//
// A commit that fails with Unrecoverable (the lease fence refused it: another process is active;
// or an etcd commit was only partly applied) calls `on_unrecoverable`, which the daemon makes end
// the process as a lost lock does.
class LoadTimingStore final : public storage::Store {
 public:
  explicit LoadTimingStore(storage::Store* inner,
                           std::function<void(const Status&)> on_unrecoverable = nullptr)
      : inner_(inner), on_unrecoverable_(std::move(on_unrecoverable)) {}
  Status Load(storage::Snapshot* out) override;
  Status Commit(std::span<const storage::Mutation> mutations) override {
    Status s = inner_->Commit(mutations);
    if (s.code() == ErrorCode::kUnrecoverable && on_unrecoverable_) on_unrecoverable_(s);
    return s;
  }
  Status CommitChanges(std::span<const storage::Mutation> mutations,
                       std::span<const size_t> change_ends) override {
    Status s = inner_->CommitChanges(mutations, change_ends);
    if (s.code() == ErrorCode::kUnrecoverable && on_unrecoverable_) on_unrecoverable_(s);
    return s;
  }
  Result<std::vector<storage::StoredRunInfo>> ReadRunInfos(
      std::span<const std::string> process_guids) override {
    return inner_->ReadRunInfos(process_guids);
  }
  Result<std::vector<storage::StoredRunInfo>> ReadAllRunInfos() override {
    return inner_->ReadAllRunInfos();
  }
  std::chrono::steady_clock::duration load_duration() const { return load_duration_; }

 private:
  storage::Store* inner_;
  std::function<void(const Status&)> on_unrecoverable_;
  std::chrono::steady_clock::duration load_duration_{};
};

}  // namespace bbs::daemon
