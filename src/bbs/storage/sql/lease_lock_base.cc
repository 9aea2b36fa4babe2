#include "bbs/storage/sql/lease_lock_base.h"

#include <unistd.h>

#include <optional>
#include <random>
#include <utility>

#include <fmt/format.h>

namespace bbs::storage::sql {
namespace {

std::string UniqueOwner() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::random_device random;
  return fmt::format("{}-{}-{:08x}", host, getpid(), random());
}

}  // namespace

FencedLeaseLock::FencedLeaseLock(std::string owner, std::chrono::milliseconds retry_interval,
                                 Logger logger)
    : retry_interval_(retry_interval),
      logger_(std::move(logger)),
      fence_(std::make_shared<LeaseFence>()) {
  fence_->owner = owner.empty() ? UniqueOwner() : std::move(owner);
}

FencedLeaseLock::~FencedLeaseLock() {
  keeper().End();
  fence_->epoch = 0;
}

Result<lock::AcquireOutcome> FencedLeaseLock::Acquire(LostCallback on_lost) {
  std::optional<LeaseAttempt> taken = keeper().PollUntilAcquired<LeaseAttempt>(
      retry_interval_, [this] { return TryAcquire(); },
      [this](const Status& s) {
        logger_.Error("failed-to-acquire-lock", s.message(), AcquiringLogFields());
      },
      [this](const LeaseAttempt& attempt) {
        nlohmann::json data = AcquiringLogFields();
        data["lock-owner"] = attempt.holder;
        if (attempt.epoch != 0) data["epoch"] = attempt.epoch;
        logger_.Info("waiting-for-lock", data);
      });
  if (!taken) return lock::AcquireOutcome::kCancelled;
  fence_->epoch = taken->epoch;
  keeper().Start(
      retry_interval_, [this] { return Renew(fence_->epoch.load()); },
      [this](const Status& why) {
        nlohmann::json data = TenureLogFields();
        data["epoch"] = fence_->epoch.exchange(0);
        logger_.Error("lost-lock", why.message(), data);
      },
      std::move(on_lost));
  nlohmann::json data = TenureLogFields();
  data["owner"] = fence_->owner;
  data["epoch"] = taken->epoch;
  logger_.Info("acquired-lock", data);
  return lock::AcquireOutcome::kAcquired;
}

void FencedLeaseLock::Release() {
  bool held = keeper().End();
  int64_t epoch = fence_->epoch.exchange(0);
  if (!held || epoch == 0) return;
  if (Status s = GiveBack(epoch); !s.ok()) {
    logger_.Error("failed-to-release-lock", s.message(), {{"epoch", epoch}});
    return;
  }
  logger_.Info("released-lock", {{"epoch", epoch}});
}

}  // namespace bbs::storage::sql
