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
      if (!keeper().WaitUnlessCancelled(options_.retry_interval)) return AcquireOutcome::kCancelled;
      s = Attempt(/*first=*/false, &request_uuid);
      if (s.ok()) break;
      if (s.code() != ErrorCode::kLockCollision) {
        logger_.Error("failed-to-acquire-lock", s.message(), {{"request-uuid", request_uuid}});
      }
    }
  }
  bool started = keeper().StartUnlessCancelled(
      options_.retry_interval, [this] { return Heartbeat(); },
      [this](const Status& why) {
        logger_.Error("lost-lock", why.message(),
                      {{"key", options_.key}, {"owner", options_.owner}});
      },
      std::move(on_lost));
  if (!started) {
    // Acquired just as we were told to stop: give it back rather than hold it until its TTL.
    cells::LocketCallOptions call;
    call.deadline = options_.retry_interval;
    [[maybe_unused]] Status released = client_->Release(options_.key, options_.owner, call);
    return AcquireOutcome::kCancelled;
  }
  logger_.Info("acquired-lock",
               {{"key", options_.key}, {"owner", options_.owner}, {"request-uuid", request_uuid}});
  return AcquireOutcome::kAcquired;
}

Status LocketLock::Heartbeat() {
  std::string request_uuid;
  Status s = Attempt(/*first=*/false, &request_uuid);
  if (s.ok()) return s;
  return Status(
      ErrorCode::kUnrecoverable,
      fmt::format("lost lock ({}), request-uuid {}: {}",
                  s.code() == ErrorCode::kTimeout ? "request timed out" : "request failed",
                  request_uuid, s.message()));
}

void LocketLock::Release() {
  if (!keeper().End()) return;
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
