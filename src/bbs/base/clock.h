#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace bbs {

// Clock is the only source of "now" for the BBS. Times are Unix nanoseconds, as on the wire.
// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowNanos() const = 0;
};

// Reads the system's real-time clock. Only the daemon wires this in.
class SystemClock final : public Clock {
 public:
  int64_t NowNanos() const override;
};

// A clock that moves only when told to; for tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_nanos = 1'700'000'000'000'000'000) : now_(start_nanos) {}
  int64_t NowNanos() const override { return now_.load(); }
  void Set(int64_t nanos) { now_.store(nanos); }
  void Advance(std::chrono::nanoseconds d) { now_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> now_;
};

constexpr int64_t kNanosPerSecond = 1'000'000'000;

}  // namespace bbs
