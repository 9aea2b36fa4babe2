#pragma once

#include <cstdint>
#include <string_view>

namespace bbs::domain {

// The crash restart policy (behavior.md §2). Constants are upstream's, not configurable.
inline constexpr int32_t kImmediateRestarts = 3;
inline constexpr int64_t kMinRestartBackoffNanos = 30LL * 1'000'000'000;
inline constexpr int64_t kMaxRestartBackoffNanos = 16LL * 60 * 1'000'000'000;
inline constexpr int32_t kMaxBackoffExponent = 5;
inline constexpr int32_t kMaxRestartAttempts = 200;
inline constexpr int64_t kCrashResetTimeoutNanos = 5LL * 60 * 1'000'000'000;
inline constexpr int64_t kStaleUnclaimedNanos = 30LL * 1'000'000'000;

// The back-off after the crash that left `crash_count` (0 for the immediate restarts).
int64_t RestartBackoffNanos(int32_t crash_count);

// Whether an instance that crashed at `crashed_at` with `crash_count` may be restarted at `now`:
// counts below 3 restart at once, counts below 200 after 30 s x 2^min(count-3, 5) (at most
// 16 min), never from 200 on.
bool ShouldRestart(int64_t now, int64_t crashed_at, int32_t crash_count);

// The crash count after a crash at `now` of an instance in `state` since `since`: 1 when a RUNNING
// instance had run for more than 5 minutes, else previous + 1.
int32_t NextCrashCount(const std::string_view state, int64_t since, int32_t previous, int64_t now);

}  // namespace bbs::domain
