#include "bbs/lock/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace bbs::lock {
namespace {

std::string Errno(int err) { return std::strerror(err); }

// Whether `path` currently names the file open as `fd` (it may have been removed or replaced).
bool SameFile(int fd, const std::string& path) {
  struct stat open_file {};
  struct stat named_file {};
  if (fstat(fd, &open_file) != 0 || stat(path.c_str(), &named_file) != 0) return false;
  return open_file.st_dev == named_file.st_dev && open_file.st_ino == named_file.st_ino;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

}  // namespace

// A flock(LOCK_EX) blocked in its own thread. The thread owns `fd` once `cancelled` is set:
// it closes it when flock returns, which drops a lock obtained after the wait was abandoned.
struct FileLock::Waiter {
  std::mutex mu;
  std::condition_variable cv;
  int fd = -1;
  bool done = false;       // flock returned
  int error = 0;           // errno of a failed flock
  bool cancelled = false;  // nobody waits for the result any more
  bool closed = false;     // the thread closed fd
};

FileLock::FileLock(FileLockOptions options, Logger logger)
    : options_(std::move(options)), logger_(std::move(logger)) {}

FileLock::~FileLock() {
  Cancel();
  Release();
}

std::string FileLock::Description() const { return "flock of " + options_.path; }

std::string FileLock::ReadHolder(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

void FileLock::Cancel() {
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    waiter = waiter_;
  }
  if (waiter) {
    std::lock_guard lock(waiter->mu);
    waiter->cancelled = true;
    waiter->cv.notify_all();
  }
}

Result<bool> FileLock::LockBlocking(int fd) {
  auto waiter = std::make_shared<Waiter>();
  waiter->fd = fd;
  {
    std::lock_guard lock(mu_);
    if (cancelled_) {
      close(fd);
      return false;
    }
    waiter_ = waiter;
  }
  // flock cannot be interrupted without a signal handler, so the blocking call runs in a
  // detached thread that Cancel can walk away from.
  std::thread([waiter] {
    int rc;
    do {
      rc = flock(waiter->fd, LOCK_EX);
    } while (rc != 0 && errno == EINTR);
    int error = rc == 0 ? 0 : errno;
    std::lock_guard lock(waiter->mu);
    waiter->done = true;
    waiter->error = error;
    if (waiter->cancelled) {
      close(waiter->fd);
      waiter->closed = true;
    }
    waiter->cv.notify_all();
  }).detach();

  std::unique_lock lock(waiter->mu);
  waiter->cv.wait(lock, [&] { return waiter->done || waiter->cancelled; });
  {
    std::lock_guard self(mu_);
    waiter_.reset();
  }
  if (!waiter->done || waiter->closed) return false;  // the thread closes (or closed) the fd
  if (waiter->error != 0) {
    close(fd);
    return UnknownError(fmt::format("cannot lock {}: {}", options_.path, Errno(waiter->error)));
  }
  if (waiter->cancelled) {
    close(fd);  // locked just as we were cancelled: give it back
    return false;
  }
  return true;
}

Result<AcquireOutcome> FileLock::Acquire(LostCallback on_lost) {
  bool logged_wait = false;
  for (;;) {
    int fd = open(options_.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return UnknownError(fmt::format("cannot open lock file {}: {}", options_.path, Errno(errno)));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int error = errno;
      if (error != EWOULDBLOCK) {
        close(fd);
        return UnknownError(fmt::format("cannot lock {}: {}", options_.path, Errno(error)));
      }
      if (!logged_wait) {
        logger_.Info("waiting-for-lock",
                     {{"lock", options_.path}, {"lock-owner", ReadHolder(options_.path)}});
        logged_wait = true;
      }
      auto locked = LockBlocking(fd);
      if (!locked.ok()) return locked.status();
      if (!*locked) return AcquireOutcome::kCancelled;
    }
    // The previous holder may have removed or replaced the file while we waited on it: then our
    // flock guards nothing, and we lock whatever the path names now.
    if (!SameFile(fd, options_.path)) {
      close(fd);
      continue;
    }
    std::string holder = nlohmann::json{{"owner", options_.owner},
                                        {"pid", static_cast<int64_t>(getpid())},
                                        {"host", HostName()}}
                             .dump() +
                         "\n";
    if (ftruncate(fd, 0) != 0 || pwrite(fd, holder.data(), holder.size(), 0) < 0) {
      logger_.Error("failed-to-record-holder", Errno(errno), {{"lock", options_.path}});
    }
    {
      std::lock_guard lock(mu_);
      if (cancelled_) {
        close(fd);
        return AcquireOutcome::kCancelled;
      }
      fd_ = fd;
      keeper().Start(
          options_.check_interval, [this] { return Check(); },
          [this](const Status& why) {
            logger_.Error("lost-lock", why.message(), {{"lock", options_.path}});
          },
          std::move(on_lost));
    }
    logger_.Info("acquired-lock", {{"lock", options_.path}, {"owner", options_.owner}});
    return AcquireOutcome::kAcquired;
  }
}

Status FileLock::Check() {
  std::lock_guard lock(mu_);
  if (SameFile(fd_, options_.path)) return Status::Ok();
  return Status(ErrorCode::kUnrecoverable,
                fmt::format("lost lock: the lock file {} was removed or replaced", options_.path));
}

void FileLock::Release() {
  bool was_held = keeper().End();
  std::lock_guard lock(mu_);
  if (fd_ < 0) return;
  // Clear the holder note; failing that is harmless, the flock is what counts.
  [[maybe_unused]] int rc = ftruncate(fd_, 0);
  flock(fd_, LOCK_UN);
  close(fd_);
  fd_ = -1;
  if (was_held) logger_.Info("released-lock", {{"lock", options_.path}});
}

}  // namespace bbs::lock
