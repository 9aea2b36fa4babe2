#include "bbs/daemon/config_checks.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include <nlohmann/json.hpp>

#include "bbs/base/logger.h"
#include "bbs/base/url.h"

namespace bbs::daemon {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Lower case without '_' and '-', so that "listenAddress" matches "listen_address".
std::string Folded(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != '_' && c != '-') {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

}  // namespace

Status ConfigError(std::string message) {
  return Status(ErrorCode::kInvalidRequest, std::move(message));
}

std::string Quote(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string HostPortProblem(std::string_view value) {
  Result<url::HostPort> split = url::SplitHostPort(value);
  if (split.ok()) {
    return "";
  }
  return "want host:port with a numeric port, got " + Quote(value) + " (" +
         split.status().message() + ")";
}

std::string OptionalHostPortProblem(std::string_view value) {
  return value.empty() ? "" : HostPortProblem(value);
}

std::string LogLevelProblem(std::string_view value) {
  LogLevel level;
  if (ParseLogLevel(value, &level)) {
    return "";
  }
  return "want one of debug, info, error, fatal; got " + Quote(value);
}

std::string DriverProblem(std::string_view value) {
  if (value == "sqlite" || value == "postgres" || value == "mysql" || value == "etcd") {
    return "";
  }
  return "want one of sqlite, postgres, mysql, etcd; got " + Quote(value);
}

std::string UrlProblem(std::string_view value) {
  if (value.empty() || url::ParseUrl(value).ok()) {
    return "";
  }
  return "want an http:// or https:// URL, got " + Quote(value);
}

std::optional<std::string> CanonicalTimeFormat(std::string_view value) {
  if (value == "unix-epoch" || value == "0") {
    return "unix-epoch";
  }
  if (value == "rfc3339" || value == "1") {
    return "rfc3339";
  }
  return std::nullopt;
}

std::string TimeFormatProblem(std::string_view value) {
  if (CanonicalTimeFormat(value)) {
    return "";
  }
  return "want \"unix-epoch\" or \"rfc3339\", got " + Quote(value);
}

std::optional<bool> ParseGoBool(std::string_view text) {
  for (std::string_view yes : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (text == yes) {
      return true;
    }
  }
  for (std::string_view no : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (text == no) {
      return false;
    }
  }
  return std::nullopt;
}

std::string Suggestion(std::string_view wrong, const std::vector<std::string>& known,
                       std::string_view prefix) {
  const std::string* best = nullptr;
  size_t best_distance = 3;
  for (const std::string& candidate : known) {
    size_t distance = Folded(candidate) == Folded(wrong) ? 0 : EditDistance(wrong, candidate);
    if (distance < best_distance) {
      best = &candidate;
      best_distance = distance;
    }
  }
  if (best == nullptr) {
    return "";
  }
  return " (did you mean " + std::string(prefix) + *best + "?)";
}

}  // namespace bbs::daemon
