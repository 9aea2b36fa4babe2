#include "bbs/base/logger.h"

#include <array>
#include <chrono>
#include <ctime>
#include <exception>
#include <regex>
#include <vector>

#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "bbs/base/log_level_name.h"

namespace bbs {
namespace {

class SpdlogSink final : public LogSink {
 public:
  SpdlogSink(LogLevel level, LogFormat format, spdlog::sink_ptr sink)
      : LogSink(level, format), logger_(std::make_shared<spdlog::logger>("bbs", std::move(sink))) {
    logger_->set_pattern("%v");
    logger_->flush_on(spdlog::level::info);
  }
  void Write(const std::string& line) override { logger_->info(line); }

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

constexpr std::string_view kTruncated = "-(truncated)";
constexpr std::string_view kRedacted = "*REDACTED*";

void Truncate(nlohmann::json& value, size_t max) {
  if (value.is_string()) {
    std::string& text = value.get_ref<std::string&>();
    if (text.size() <= max || text.size() <= kTruncated.size()) return;
    size_t keep = max > kTruncated.size() ? max - kTruncated.size() : 0;
    text.resize(keep);
    text.append(kTruncated);
  } else if (value.is_structured()) {
    for (auto& item : value) Truncate(item, max);
  }
}

const std::vector<std::regex>& SecretValuePatterns() {
  static const std::vector<std::regex> patterns = {
      std::regex("AKIA[A-Z0-9]{16}"),
      std::regex(R"(KEY["']?\s*(?::|=>|=)\s*["']?[A-Z0-9/\+=]{40}["']?)"),
      std::regex(R"(\$1\$[A-Z0-9./]{1,16}\$[A-Z0-9./]{22})"),
      std::regex(R"(\$5\$[A-Z0-9./]{1,16}\$[A-Z0-9./]{43})"),
      std::regex(R"(\$6\$[A-Z0-9./]{1,16}\$[A-Z0-9./]{86})"),
      std::regex("-----BEGIN(.*)PRIVATE KEY-----"),
  };
  return patterns;
}

bool IsSecretKey(const std::string& key) {
  return key.find("pwd") != std::string::npos || key.find("Pwd") != std::string::npos ||
         key.find("pass") != std::string::npos || key.find("Pass") != std::string::npos;
}

void Redact(nlohmann::json& value) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    for (const std::regex& pattern : SecretValuePatterns()) {
      if (std::regex_search(text, pattern)) {
        value = kRedacted;
        return;
      }
    }
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (IsSecretKey(it.key())) {
        it.value() = kRedacted;
      } else {
        Redact(it.value());
      }
    }
  } else if (value.is_array()) {
    for (auto& item : value) Redact(item);
  }
}

// Go's time.RFC3339Nano in UTC: fraction without trailing zeros, none when zero.
std::string Rfc3339Nano(int64_t unix_nanos) {
  std::time_t seconds = static_cast<std::time_t>(unix_nanos / 1'000'000'000);
  int64_t nanos = unix_nanos % 1'000'000'000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  std::string out = fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (nanos != 0) {
    std::string fraction = fmt::format("{:09d}", nanos);
    while (fraction.back() == '0') fraction.pop_back();
    out += "." + fraction;
  }
  return out + "Z";
}

// Each level's name: LogLevelName and ParseLogLevel read the one table.
struct LevelName {
  LogLevel level;
  const char* name;
};
constexpr std::array<LevelName, 4> kLevelNames = {{
    {LogLevel::kDebug, "debug"},
    {LogLevel::kInfo, "info"},
    {LogLevel::kError, "error"},
    {LogLevel::kFatal, "fatal"},
}};

class NullSink final : public LogSink {
 public:
  NullSink() : LogSink(LogLevel::kFatal) {}
  void Write(const std::string&) override {}
};

}  // namespace

const char* LogLevelName(LogLevel level) {
  for (const LevelName& entry : kLevelNames) {
    if (entry.level == level) return entry.name;
  }
  return "info";
}

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  for (const LevelName& entry : kLevelNames) {
    if (text == entry.name) {
      *out = entry.level;
      return true;
    }
  }
  return false;
}

std::shared_ptr<LogSink> LogSink::Stdout(LogLevel level, LogFormat format) {
  return std::make_shared<SpdlogSink>(level, format,
                                      std::make_shared<spdlog::sinks::stdout_sink_mt>());
}

std::shared_ptr<LogSink> LogSink::File(const std::string& path, LogLevel level, LogFormat format,
                                       std::string* error) {
  try {
    return std::make_shared<SpdlogSink>(
        level, format, std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false));
  } catch (const std::exception& e) {
    if (error != nullptr) *error = e.what();
    return nullptr;
  }
}

std::shared_ptr<LogSink> LogSink::Null() { return std::make_shared<NullSink>(); }

Logger::Logger(std::shared_ptr<LogSink> sink, std::string component)
    : sink_(std::move(sink)), name_(std::move(component)) {}

Logger Logger::Session(std::string_view name) const {
  return Logger(sink_, name_ + "." + std::string(name));
}

void Logger::Debug(std::string_view action, nlohmann::json data) const {
  Log(LogLevel::kDebug, action, std::move(data));
}
void Logger::Info(std::string_view action, nlohmann::json data) const {
  Log(LogLevel::kInfo, action, std::move(data));
}
void Logger::Error(std::string_view action, std::string_view error, nlohmann::json data) const {
  data["error"] = std::string(error);
  Log(LogLevel::kError, action, std::move(data));
}
void Logger::Fatal(std::string_view action, std::string_view error, nlohmann::json data) const {
  data["error"] = std::string(error);
  Log(LogLevel::kFatal, action, std::move(data));
}

void Logger::Log(LogLevel level, std::string_view action, nlohmann::json data) const {
  if (!sink_->Enabled(level)) return;
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  const LogFormat& format = sink_->format();
  if (!data.is_object()) data = nlohmann::json::object();
  if (format.redact_secrets) Redact(data);
  if (format.max_data_string_length > 0) {
    Truncate(data, static_cast<size_t>(format.max_data_string_length));
  }
  nlohmann::ordered_json line;
  if (format.rfc3339) {
    line["timestamp"] = Rfc3339Nano(now);
    line["level"] = LogLevelName(level);
    line["source"] = "bbs";
    line["message"] = name_ + "." + std::string(action);
  } else {
    line["timestamp"] = fmt::format("{}.{:09d}", now / 1'000'000'000, now % 1'000'000'000);
    line["source"] = "bbs";
    line["message"] = name_ + "." + std::string(action);
    line["log_level"] = static_cast<int>(level);
  }
  line["data"] = std::move(data);
  sink_->Write(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace bbs
