#pragma once

// Helpers shared by the flag parser and the JSON config reader: value checks and message
// pieces. Internal to bbs_daemon_config.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bbs/base/status.h"

namespace bbs::daemon {

// The error LoadConfig returns: InvalidRequest with a one-line message.
Status ConfigError(std::string message);

// `text` as a JSON string literal, so that odd bytes in a value cannot break a one-line message.
std::string Quote(std::string_view text);

// A value check returns "" when the value is fine, otherwise what is wrong with it, to be
// prefixed with the flag or key.
using Check = std::string (*)(std::string_view);

std::string HostPortProblem(std::string_view value);
std::string OptionalHostPortProblem(std::string_view value);  // "" is fine too
std::string LogLevelProblem(std::string_view value);
std::string DriverProblem(std::string_view value);
std::string UrlProblem(std::string_view value);  // an http(s) URL or ""
std::string TimeFormatProblem(std::string_view value);

// lager's time format names: "unix-epoch" or "rfc3339", also written "0" and "1".
std::optional<std::string> CanonicalTimeFormat(std::string_view value);

// Go's strconv.ParseBool.
std::optional<bool> ParseGoBool(std::string_view text);

// " (did you mean <prefix><candidate>?)" for the closest of `known` to `wrong`, or "".
std::string Suggestion(std::string_view wrong, const std::vector<std::string>& known,
                       std::string_view prefix);

}  // namespace bbs::daemon
