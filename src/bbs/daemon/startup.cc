#include "bbs/daemon/startup.h"

#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "bbs/cells/presence_registry.h"
#include "bbs/lock/file_lock.h"
#include "bbs/lock/locket_lock.h"
#include "bbs/storage/etcd/etcd_lock.h"
#include "bbs/storage/sql/locket_registry.h"

namespace bbs::daemon {

// --- SignalWatcher ------------------------------------------------------------------------

SignalWatcher::SignalWatcher(const sigset_t& signals) : signals_(signals) {
  thread_ = std::thread([this] { Loop(); });
}

SignalWatcher::~SignalWatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  // The watcher sits in sigwait: hand it one of its own signals to wake it up.
  int signo = 0;
  for (int s = 1; s < NSIG && signo == 0; ++s) {
    if (sigismember(&signals_, s) == 1) signo = s;
  }
  if (signo != 0) pthread_kill(thread_.native_handle(), signo);
  thread_.join();
}

void SignalWatcher::Loop() {
  int signo = 0;
  sigwait(&signals_, &signo);
  std::vector<std::function<void(int)>> fns;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    signo_ = signo;
    fns = fns_;
  }
  cv_.notify_all();
  for (auto& fn : fns) fn(signo);
}

void SignalWatcher::OnSignal(std::function<void(int)> fn) {
  int signo;
  {
    std::lock_guard lock(mu_);
    signo = signo_;
    if (signo == 0) {
      fns_.push_back(std::move(fn));
      return;
    }
  }
  fn(signo);
}

int SignalWatcher::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return signo_ != 0; });
  return signo_;
}

bool SignalWatcher::Signalled() {
  std::lock_guard lock(mu_);
  return signo_ != 0;
}

// --- MakeLeaderLock -----------------------------------------------------------------------

Result<std::unique_ptr<lock::LeaderLock>> MakeLeaderLock(
    const Config& config, cells::LocketClient* locket, const Logger& logger,
    std::shared_ptr<const storage::sql::LeaseFence>* fence) {
  if (config.locket_address.empty() &&
      (!config.locket_ca_cert_file.empty() || !config.locket_client_cert_file.empty() ||
       !config.locket_client_key_file.empty())) {
    // A configuration made for a Locket (upstream's always is) that lost its address: fail as
    // upstream does rather than silently electing the leader through the store.
    return InvalidRequest(
        "invalid-locket-config: locket_address is required when the Locket client certificates "
        "are set");
  }
  if (!config.locket_address.empty()) {
    if (config.uuid.empty()) {
      return InvalidRequest("invalid-uuid: uuid is required as the owner of the Locket lock");
    }
    if (locket == nullptr) return InvalidRequest("no Locket client for locket_address");
    lock::LocketLockOptions options;
    options.owner = config.uuid;
    options.ttl_seconds = std::chrono::duration_cast<std::chrono::seconds>(config.lock_ttl).count();
    options.retry_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.lock_retry_interval);
    return std::unique_ptr<lock::LeaderLock>(
        std::make_unique<lock::LocketLock>(locket, options, logger.Session("locket-lock")));
  }
  const std::string& database = config.database_connection_string;
  if (config.database_driver == "sqlite" && database != ":memory:" &&
      !database.starts_with("file:")) {
    // The lock comes before the store, so create the store's directory here (as OpenStore would
    // on a first start).
    std::filesystem::path parent = std::filesystem::path(database).parent_path();
    if (!parent.empty()) {
      std::error_code error;
      std::filesystem::create_directories(parent, error);
      if (error) {
        return UnknownError("cannot create directory '" + parent.string() +
                            "' for the sqlite database: " + error.message());
      }
    }
    lock::FileLockOptions options;
    options.path = database + ".lock";
    options.owner = config.uuid;
    options.check_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.lock_retry_interval);
    return std::unique_ptr<lock::LeaderLock>(
        std::make_unique<lock::FileLock>(options, logger.Session("file-lock")));
  }
  if (config.database_driver == "postgres" || config.database_driver == "mysql") {
    storage::sql::SqlConnectionOptions connection;
    connection.connection_string = database;
    connection.ca_cert_file = config.sql_ca_cert_file;
    connection.verify_identity = config.sql_enable_identity_verification;
    // A renewal must end (answer or fail) within one interval.
    connection.timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.lock_retry_interval);
    storage::sql::SqlLeaseLockOptions options;
    options.ttl = std::chrono::duration_cast<std::chrono::milliseconds>(config.lock_ttl);
    options.retry_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.lock_retry_interval);
    auto lease = std::make_unique<storage::sql::SqlLeaseLock>(
        config.database_driver == "postgres" ? storage::sql::MakePostgresLeaseBackend(connection)
                                             : storage::sql::MakeMysqlLeaseBackend(connection),
        config.uuid, options, logger.Session("sql-lock"));
    if (fence != nullptr) *fence = lease->fence();
    return std::unique_ptr<lock::LeaderLock>(std::move(lease));
  }
  if (config.database_driver == "etcd") {
    storage::etcd::EtcdLockOptions options;
    options.client.endpoints =
        storage::etcd::SplitEndpoints(config.etcd_cluster.empty() ? database : config.etcd_cluster);
    options.client.cert_file = config.etcd_cert_file;
    options.client.key_file = config.etcd_key_file;
    options.client.ca_file = config.etcd_ca_file;
    options.root = config.etcd_root;
    options.owner = config.uuid;
    options.ttl = std::chrono::duration_cast<std::chrono::milliseconds>(config.lock_ttl);
    options.retry_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.lock_retry_interval);
    auto lease = storage::etcd::EtcdLeaseLock::Create(options, logger.Session("etcd-lock"));
    if (!lease.ok()) return lease.status();
    if (fence != nullptr) *fence = (*lease)->fence();
    return std::unique_ptr<lock::LeaderLock>(std::move(lease).value());
  }
  if (config.database_driver != "memory" && config.database_driver != "sqlite") {
    logger.Info("no-leader-lock", {{"database_driver", config.database_driver},
                                   {"detail",
                                    "no store lock for this driver yet; run one bbs or "
                                    "set locket_address"}});
  }
  return std::unique_ptr<lock::LeaderLock>(std::make_unique<lock::ProcessLocalLock>());
}

// --- MakeLocketRegistry -------------------------------------------------------------------

Result<std::unique_ptr<cells::LocketRegistry>> MakeLocketRegistry(const Config& config,
                                                                  const Clock* clock,
                                                                  const Logger& logger) {
  const std::string& database = config.database_connection_string;
  bool shared = config.database_driver == "postgres" || config.database_driver == "mysql" ||
                (config.database_driver == "sqlite" && database != ":memory:" &&
                 !database.starts_with("file:"));
  if (!shared) {
    return std::unique_ptr<cells::LocketRegistry>(
        std::make_unique<cells::PresenceRegistry>(clock, logger));
  }
  storage::sql::SqlLocketOptions options;
  options.driver = config.database_driver;
  options.connection_string = database;
  options.ca_cert_file = config.sql_ca_cert_file;
  options.verify_identity = config.sql_enable_identity_verification;
  auto registry = storage::sql::SqlLocketRegistry::Create(std::move(options), logger);
  if (!registry.ok()) return registry.status();
  return std::unique_ptr<cells::LocketRegistry>(std::move(*registry));
}

// --- LockHeldReporter ---------------------------------------------------------------------

LockHeldReporter::LockHeldReporter(const lock::LeaderLock* lock, std::chrono::nanoseconds interval,
                                   std::function<void(bool)> report) {
  if (!report) return;
  thread_.Start([this, lock, interval, report = std::move(report)] {
    do {
      report(lock->Held());
    } while (!thread_.WaitFor(interval));
  });
}

// --- DB health check ----------------------------------------------------------------------

std::function<Status()> MakeDbHealthCheck(const Config& config) {
  if (!config.enable_db_health_check ||
      (config.database_driver != "postgres" && config.database_driver != "mysql")) {
    return nullptr;
  }
  storage::sql::SqlConnectionOptions connection;
  connection.connection_string = config.database_connection_string;
  connection.ca_cert_file = config.sql_ca_cert_file;
  connection.verify_identity = config.sql_enable_identity_verification;
  connection.timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(config.health_check_timeout);
  std::shared_ptr<storage::sql::LeaseBackend> backend =
      config.database_driver == "postgres" ? storage::sql::MakePostgresLeaseBackend(connection)
                                           : storage::sql::MakeMysqlLeaseBackend(connection);
  return [backend] {
    auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    return backend->HealthCheck(now.count());
  };
}

DbHealthMonitor::DbHealthMonitor(std::function<Status()> check, std::chrono::nanoseconds interval,
                                 int threshold, std::function<void(const Status&)> on_failure,
                                 Logger logger) {
  thread_.Start([this, check = std::move(check), interval, threshold,
                 on_failure = std::move(on_failure), logger = std::move(logger)] {
    pthread_setname_np(pthread_self(), "db-health");
    int failures = 0;
    while (!thread_.WaitFor(interval)) {
      Status s = check();
      if (s.ok()) {
        failures = 0;
        continue;
      }
      ++failures;
      logger.Error("db-health-check-failed", s.message(),
                   {{"consecutive_failures", failures}, {"threshold", threshold}});
      if (failures >= threshold) {
        on_failure(s);
        return;
      }
    }
  });
}

// --- AwaitLeadership ----------------------------------------------------------------------

Result<Leadership> AwaitLeadership(lock::LeaderLock* lock, SignalWatcher* signals,
                                   const LockMetrics& metrics, const Logger& logger) {
  // A signal cancels the wait; it must not reach the lock once Acquire returned (the lock may
  // be gone by the time a late signal arrives).
  struct Target {
    std::mutex mu;
    lock::LeaderLock* lock;
  };
  auto target = std::make_shared<Target>();
  target->lock = lock;
  signals->OnSignal([target](int) {
    std::lock_guard guard(target->mu);
    if (target->lock != nullptr) target->lock->Cancel();
  });
  auto outcome = lock->Acquire([logger](const Status& why) {
    // Fencing: from here on another process may be active. Stop at once, as upstream's lock
    // runner does; the supervisor restarts us and we come back passive.
    logger.Fatal("lost-lock-exiting", why.message());
    std::fflush(stdout);
    _exit(kExitLostLock);
  });
  {
    std::lock_guard guard(target->mu);
    target->lock = nullptr;
  }
  if (!outcome.ok()) return outcome.status();
  if (*outcome == lock::AcquireOutcome::kCancelled) return Leadership::kShutdown;
  if (metrics.master_elected) metrics.master_elected();
  return Leadership::kActive;
}

// --- StartupTimer, LoadTimingStore --------------------------------------------------------

StartupTimer::StartupTimer() : start_(std::chrono::steady_clock::now()), last_(start_) {}

void StartupTimer::Mark(std::string_view phase) {
  auto now = std::chrono::steady_clock::now();
  Add(phase, now - last_);
  last_ = now;
}

void StartupTimer::Add(std::string_view phase, std::chrono::steady_clock::duration duration) {
  phases_.emplace_back(std::string(phase),
                       std::chrono::duration<double, std::milli>(duration).count());
}

nlohmann::json StartupTimer::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [phase, ms] : phases_) out[phase + "_ms"] = ms;
  out["total_ms"] = std::chrono::duration<double, std::milli>(last_ - start_).count();
  return out;
}

Status LoadTimingStore::Load(storage::Snapshot* out) {
  auto start = std::chrono::steady_clock::now();
  Status s = inner_->Load(out);
  load_duration_ = std::chrono::steady_clock::now() - start;
  return s;
}

}  // namespace bbs::daemon
