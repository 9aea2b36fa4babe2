#include "bbs/base/go_duration.h"

#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace bbs {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// `text` as a JSON string literal, so that odd bytes cannot break a one-line message.
std::string Quote(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Nanoseconds per unit, or 0 for an unknown unit.
std::uint64_t UnitNanos(std::string_view unit) {
  if (unit == "ns") return 1;
  // "us", U+00B5 micro sign, U+03BC Greek small letter mu
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return 1'000;
  if (unit == "ms") return 1'000'000;
  if (unit == "s") return 1'000'000'000;
  if (unit == "m") return 60'000'000'000;
  if (unit == "h") return 3'600'000'000'000;
  return 0;
}

}  // namespace

Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return InvalidRequest("invalid duration " + Quote(text) + ": " + std::string(why));
  };
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;  // |INT64_MIN|
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    return std::chrono::nanoseconds::zero();
  }
  if (s.empty()) {
    return invalid("empty");
  }
  std::uint64_t total = 0;
  while (!s.empty()) {
    if (s[0] != '.' && !IsDigit(s[0])) {
      return invalid("expected a number");
    }
    std::uint64_t whole = 0;
    size_t n = 0;
    for (; n < s.size() && IsDigit(s[n]); ++n) {
      if (whole > kLimit / 10) {
        return invalid("out of range");
      }
      whole = whole * 10 + static_cast<std::uint64_t>(s[n] - '0');
      if (whole > kLimit) {
        return invalid("out of range");
      }
    }
    bool has_whole = n > 0;
    s.remove_prefix(n);
    // Fraction digits beyond what fits are dropped, not an error (as Go).
    std::uint64_t fraction = 0;
    double scale = 1;
    bool has_fraction = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t m = 0;
      bool full = false;
      for (; m < s.size() && IsDigit(s[m]); ++m) {
        if (full) {
          continue;
        }
        std::uint64_t next = fraction * 10 + static_cast<std::uint64_t>(s[m] - '0');
        if (fraction > kLimit / 10 || next > kLimit) {
          full = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      has_fraction = m > 0;
      s.remove_prefix(m);
    }
    if (!has_whole && !has_fraction) {
      return invalid("expected a number");
    }
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !IsDigit(s[u])) {
      ++u;
    }
    if (u == 0) {
      return invalid("missing unit");
    }
    std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    std::uint64_t unit = UnitNanos(unit_name);
    if (unit == 0) {
      return invalid("unknown unit " + Quote(unit_name) + " (use ns, us, ms, s, m or h)");
    }
    if (whole > kLimit / unit) {
      return invalid("out of range");
    }
    whole *= unit;
    if (fraction > 0) {
      whole += static_cast<std::uint64_t>(static_cast<double>(fraction) *
                                          (static_cast<double>(unit) / scale));
      if (whole > kLimit) {
        return invalid("out of range");
      }
    }
    total += whole;
    if (total > kLimit) {
      return invalid("out of range");
    }
  }
  if (negative) {
    if (total == kLimit) {
      return std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::min());
    }
    return std::chrono::nanoseconds(-static_cast<std::int64_t>(total));
  }
  if (total == kLimit) {
    return invalid("out of range");
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(total));
}

}  // namespace bbs
