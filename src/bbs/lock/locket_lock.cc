#include "bbs/lock/locket_lock.h"

#include <utility>

#include <fmt/format.h>

namespace bbs::lock {

LocketLock::LocketLock(cells::LocketClient* client, LocketLockOptions options, Logger logger)
    : client_(client), options_(std::move(options)), logger_(std::move(logger)) {
  resource_.key = options_.key;
  resource_.owner = options_.owner;
  resource_.type = cells::ResourceType::kLock;
}

LocketLock::~LocketLock() {
  Cancel();
  Release();
}

std::string LocketLock::Description() const {
  return fmt::format("locket key {} as owner {}", options_.key, options_.owner);
}

Status LocketLock::Attempt(bool first, std::string* request_uuid) {
  cells::LocketCallOptions call;
  call.deadline = options_.retry_interval;
  call.wait_for_ready = !first;
  call.request_uuid = guids_.NewGuid();
  *request_uuid = call.request_uuid;
  return client_->Lock(resource_, options_.ttl_seconds, call);
}

bool LocketLock::WaitInterval(const bool& flag) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, options_.retry_interval, [&] { return flag; });
  return !flag;
}

Result<AcquireOutcome> LocketLock::Acquire(LostCallback on_lost) {
  // Upstream's lock runner starts with this line; its integration suite waits for
  // "bbs.locket-lock.started" to know a passive bbs is up.
  logger_.Info("started", {{"lock", options_.key}, {"ttl_in_seconds", options_.ttl_seconds}});
  std::string request_uuid;
  Status s = Attempt(/*first=*/true, &request_uuid);
  if (!s.ok()) {
    // Only to tell the operator who holds it (upstream does the same).
    cells::LocketCallOptions call;
    call.deadline = options_.retry_interval;
    call.request_uuid = request_uuid;
    auto holder = client_->Fetch(options_.key, call);
    nlohmann::json data = {{"request-uuid", request_uuid}};
    if (holder.ok()) data["lock-owner"] = holder->owner;
    logger_.Error("failed-to-acquire-lock", s.message(), data);
    for (;;) {
      if (!WaitInterval(cancelled_)) return AcquireOutcome::kCancelled;
      s = Attempt(/*first=*/false, &request_uuid);
      if (s.ok()) break;
      if (s.code() != ErrorCode::kLockCollision) {
        logger_.Error("failed-to-acquire-lock", s.message(), {{"request-uuid", request_uuid}});
      }
    }
  }
  std::unique_lock lock(mu_);
  if (cancelled_) {
    // Acquired just as we were told to stop: give it back rather than hold it until its TTL.
    lock.unlock();
    cells::LocketCallOptions call;
    call.deadline = options_.retry_interval;
    [[maybe_unused]] Status released = client_->Release(options_.key, options_.owner, call);
    return AcquireOutcome::kCancelled;
  }
  on_lost_ = std::move(on_lost);
  held_.store(true);
  heartbeat_ = std::thread([this] { Heartbeat(); });
  lock.unlock();
  logger_.Info("acquired-lock",
               {{"key", options_.key}, {"owner", options_.owner}, {"request-uuid", request_uuid}});
  return AcquireOutcome::kAcquired;
}

void LocketLock::Heartbeat() {
  for (;;) {
    if (!WaitInterval(stopping_)) return;
    std::string request_uuid;
    Status s = Attempt(/*first=*/false, &request_uuid);
    if (s.ok()) continue;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;  // Release raced with a failing call: not a loss
    }
    held_.store(false);
    Status why(ErrorCode::kUnrecoverable,
               fmt::format("lost lock ({}), request-uuid {}: {}",
                           s.code() == ErrorCode::kTimeout ? "request timed out" : "request failed",
                           request_uuid, s.message()));
    logger_.Error("lost-lock", why.message(), {{"key", options_.key}, {"owner", options_.owner}});
    LostCallback on_lost;
    {
      std::lock_guard lock(mu_);
      on_lost = std::move(on_lost_);
    }
    if (on_lost) on_lost(why);
    return;
  }
}

void LocketLock::Cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

void LocketLock::Release() {
  StopBackgroundThread(mu_, cv_, stopping_, heartbeat_);
  if (!held_.exchange(false)) return;
  // Upstream sends Release without a deadline; a bound keeps shutdown from hanging on Locket.
  cells::LocketCallOptions call;
  call.deadline = options_.retry_interval;
  if (Status s = client_->Release(options_.key, options_.owner, call); !s.ok()) {
    logger_.Error("failed-to-release-lock", s.message(), {{"key", options_.key}});
    return;
  }
  logger_.Info("released-lock", {{"key", options_.key}, {"owner", options_.owner}});
}

}  // namespace bbs::lock
