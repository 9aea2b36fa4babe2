#include "bbs/base/logger.h"

#include <chrono>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace bbs {
namespace {

class SpdlogSink final : public LogSink {
 public:
  explicit SpdlogSink(LogLevel level)
      : LogSink(level),
        logger_(std::make_shared<spdlog::logger>(
            "bbs", std::make_shared<spdlog::sinks::stdout_sink_mt>())) {
    logger_->set_pattern("%v");
    logger_->flush_on(spdlog::level::info);
  }
  void Write(const std::string& line) override { logger_->info(line); }

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

class NullSink final : public LogSink {
 public:
  NullSink() : LogSink(LogLevel::kFatal) {}
  void Write(const std::string&) override {}
};

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  if (text == "debug")
    *out = LogLevel::kDebug;
  else if (text == "info")
    *out = LogLevel::kInfo;
  else if (text == "error")
    *out = LogLevel::kError;
  else if (text == "fatal")
    *out = LogLevel::kFatal;
  else
    return false;
  return true;
}

std::shared_ptr<LogSink> LogSink::Stdout(LogLevel level) {
  return std::make_shared<SpdlogSink>(level);
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
  nlohmann::ordered_json line;
  line["timestamp"] = fmt::format("{}.{:09d}", now / 1'000'000'000, now % 1'000'000'000);
  line["source"] = "bbs";
  line["message"] = name_ + "." + std::string(action);
  line["log_level"] = static_cast<int>(level);
  line["data"] = data.is_object() ? std::move(data) : nlohmann::json::object();
  sink_->Write(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace bbs
