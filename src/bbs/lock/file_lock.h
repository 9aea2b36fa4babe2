#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bbs/base/logger.h"
#include "bbs/lock/leader_lock.h"
#include "bbs/lock/lock_keeper.h"

namespace bbs::lock {

struct FileLockOptions {
  // The lock file, e.g. "<database>.lock" beside an SQLite database. Created when missing and
  // never deleted (deleting a lock file lets two processes lock two different files).
  std::string path;
  // Who we are, written into the file while we hold it so that a waiting process can log the
  // holder: the configured uuid, or empty.
  std::string owner;
  // How often the holder checks that `path` still names the file it locked.
  std::chrono::milliseconds check_interval{5000};
};

// A LeaderLock on an exclusive flock(2) of one file: the process that holds the flock is the
// active one. The kernel drops the flock when the holder dies in any way (kill -9 included), so
// a passive process blocked on the same file takes over at once, with no TTL to wait for.
//
// Guarantee: single-host, flock semantics. All contenders must run on the same host (or on a
// file system whose flock is honoured across hosts, which NFS does not promise). A stopped
// (SIGSTOP) or hung holder keeps the flock, so no one takes over until it dies — there is no
// split brain, and no liveness either. The lock is lost only when `path` no longer names the
// locked file (removed or replaced by an operator); the holder detects that within
// `check_interval` and calls on_lost.
//
// Logs under the logger's session: waiting-for-lock (with lock-owner), acquired-lock,
// lost-lock, released-lock. Thread-safe, as LeaderLock.
class FileLock final : public KeptLeaderLock {
 public:
  FileLock(FileLockOptions options, Logger logger);
  ~FileLock() override;  // Cancels a running Acquire and releases the lock.
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Fails with UnknownError when the lock file cannot be opened or locked (permissions, a
  // missing directory, a file system without flock).
  Result<AcquireOutcome> Acquire(LostCallback on_lost) override;
  void Cancel() override;
  void Release() override;
  std::string Description() const override;

  // The holder line written in the lock file at `path` ("" when there is none).
  static std::string ReadHolder(const std::string& path);

 private:
  struct Waiter;  // a thread blocked in flock, shared so that Cancel can abandon it

  // Locks the file `fd` refers to, blocking until it is free. Returns false when cancelled
  // (the fd is then closed, now or when the blocked flock returns).
  Result<bool> LockBlocking(int fd);
  // One check of the held lock: OK while `path` still names the locked file.
  Status Check();

  const FileLockOptions options_;
  const Logger logger_;

  std::mutex mu_;
  bool cancelled_ = false;          // guarded by mu_
  std::shared_ptr<Waiter> waiter_;  // guarded by mu_
  int fd_ = -1;                     // the locked file while held; guarded by mu_
};

// A LeaderLock that is always free: for a store that only this process can reach (the memory
// store), where there is nothing to contend for. Thread-safe.
class ProcessLocalLock final : public LeaderLock {
 public:
  Result<AcquireOutcome> Acquire(LostCallback) override {
    if (cancelled_.load()) return AcquireOutcome::kCancelled;
    held_.store(true);
    return AcquireOutcome::kAcquired;
  }
  void Cancel() override { cancelled_.store(true); }
  bool Held() const override { return held_.load(); }
  void Release() override { held_.store(false); }
  std::string Description() const override {
    return "process-local (no other process shares the store)";
  }

 private:
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> held_{false};
};

}  // namespace bbs::lock
