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

// Where log lines go: one JSON object per line in upstream's lager shape
// {"timestamp":"<unix
// s.ns>","source":"bbs","message":"bbs.<session>.<action>","log_level":N,"data":{}}. The level can
// be changed at any time. Thread-safe.
class LogSink {
 public:
  // Writes to standard output.
  static std::shared_ptr<LogSink> Stdout(LogLevel level);
  // Discards everything (tests).
  static std::shared_ptr<LogSink> Null();
  virtual ~LogSink() = default;

  void SetLevel(LogLevel level) { level_.store(static_cast<int>(level)); }
  LogLevel level() const { return static_cast<LogLevel>(level_.load()); }
  bool Enabled(LogLevel level) const { return static_cast<int>(level) >= level_.load(); }
  virtual void Write(const std::string& line) = 0;

 protected:
  explicit LogSink(LogLevel level) : level_(static_cast<int>(level)) {}

 private:
  std::atomic<int> level_;
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
