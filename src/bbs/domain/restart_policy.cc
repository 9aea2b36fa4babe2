#include "bbs/domain/restart_policy.h"

#include <algorithm>

#include "bbs/domain/actual_lrp_factory.h"

namespace bbs::domain {

int64_t RestartBackoffNanos(int32_t crash_count) {
  if (crash_count < kImmediateRestarts) return 0;
  int32_t exponent = std::min(crash_count - kImmediateRestarts, kMaxBackoffExponent);
  return std::min(kMinRestartBackoffNanos << exponent, kMaxRestartBackoffNanos);
}

bool ShouldRestart(int64_t now, int64_t crashed_at, int32_t crash_count) {
  if (crash_count < kImmediateRestarts) return true;
  if (crash_count >= kMaxRestartAttempts) return false;
  return crashed_at + RestartBackoffNanos(crash_count) <= now;
}

int32_t NextCrashCount(std::string_view state, int64_t since, int32_t previous, int64_t now) {
  if (state == kRunning && now - since > kCrashResetTimeoutNanos) return 1;
  return previous + 1;
}

}  // namespace bbs::domain
