#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace bbs {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kError = 2, kFatal = 3 };

// Parses "debug", "info", "error", "fatal". Returns false on anything else.
bool ParseLogLevel(std::string_view text, LogLevel* out);

// How lines are written: upstream's lager options (behavior.md §11.7).
struct LogFormat {
  // time_format "rfc3339": {"timestamp":"2026-12-06T21:12:16.5858943Z","level":"info",...}
  // instead of {"timestamp":"1765055536.585894300",...,"log_level":1,...}.
  bool rfc3339 = false;
  // Strings in `data` longer than this (and longer than 12 bytes) are cut to it, ending in
  // "-(truncated)"; 0 = never.
  int max_data_string_length = 0;
  // lager's redaction: values under keys matching [Pp]wd or [Pp]ass, and values that look like
  // AWS keys, crypt hashes or PEM private keys, become "*REDACTED*".
  bool redact_secrets = false;
};

// Where log lines go: one JSON object per line in upstream's lager shape
// {"timestamp":"<unix
// s.ns>","source":"bbs","message":"bbs.<session>.<action>","log_level":N,"data":{}}. The level can
// be changed at any time. Thread-safe.
class LogSink {
 public:
  // Writes to standard output.
  static std::shared_ptr<LogSink> Stdout(LogLevel level, LogFormat format = {});
  // Appends to the file at `path` (created when missing). Null, with the reason in *error, when
  // the file cannot be opened.
  static std::shared_ptr<LogSink> File(const std::string& path, LogLevel level, LogFormat format,
                                       std::string* error);
  // Discards everything (tests).
  static std::shared_ptr<LogSink> Null();
  virtual ~LogSink() = default;

  void SetLevel(LogLevel level) { level_.store(static_cast<int>(level)); }
  LogLevel level() const { return static_cast<LogLevel>(level_.load()); }
  bool Enabled(LogLevel level) const { return static_cast<int>(level) >= level_.load(); }
  const LogFormat& format() const { return format_; }
  virtual void Write(const std::string& line) = 0;

 protected:
  explicit LogSink(LogLevel level, LogFormat format = {})
      : level_(static_cast<int>(level)), format_(format) {}

 private:
  std::atomic<int> level_;
  const LogFormat format_;
};

// A named logging session ("bbs.request.claim-actual-lrp"). Cheap to copy; thread-safe.
class Logger {
 public:
  Logger(std::shared_ptr<LogSink> sink, std::string component);

  // A child session whose messages are prefixed with this session's name.
  Logger Session(std::string_view name) const;

  void Debug(std::string_view action, nlohmann::json data = nlohmann::json::object()) const;
  void Info(std::string_view action, nlohmann::json data = nlohmann::json::object()) const;
  void Error(std::string_view action, std::string_view error,
             nlohmann::json data = nlohmann::json::object()) const;
  void Fatal(std::string_view action, std::string_view error,
             nlohmann::json data = nlohmann::json::object()) const;

  bool DebugEnabled() const { return sink_->Enabled(LogLevel::kDebug); }
  const std::shared_ptr<LogSink>& sink() const { return sink_; }

 private:
  void Log(LogLevel level, std::string_view action, nlohmann::json data) const;

  std::shared_ptr<LogSink> sink_;
  std::string name_;
};

}  // namespace bbs
