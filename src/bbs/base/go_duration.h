#pragma once

#include <chrono>
#include <string_view>

#include "bbs/base/status.h"

namespace bbs {

// Parses a duration written as Go's time.ParseDuration accepts it ("300ms", "-1.5h", "2h45m",
// "1µs"): an optional sign, then one or more decimal numbers each followed by a unit (ns, us,
// µs, ms, s, m, h); a lone "0" needs no unit. Fraction digits beyond int64 precision are
// dropped. Fails with InvalidRequest `invalid duration "<text>": <why>` on anything else or
// when the total does not fit in int64 nanoseconds.
Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text);

}  // namespace bbs
