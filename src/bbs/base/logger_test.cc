#include "bbs/base/logger.h"

#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbs/base/log_level_name.h"

namespace bbs {
namespace {

class CapturingSink final : public LogSink {
 public:
  explicit CapturingSink(LogFormat format) : LogSink(LogLevel::kDebug, format) {}
  void Write(const std::string& line) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(line);
  }
  std::string last() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_.empty() ? "" : lines_.back();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST(LogLevelTest, NamesEachLevelAndParsesTheNameBack) {
  const std::pair<LogLevel, std::string_view> levels[] = {{LogLevel::kDebug, "debug"},
                                                          {LogLevel::kInfo, "info"},
                                                          {LogLevel::kError, "error"},
                                                          {LogLevel::kFatal, "fatal"}};
  for (const auto& [level, name] : levels) {
    EXPECT_EQ(LogLevelName(level), name);
    LogLevel parsed = level == LogLevel::kInfo ? LogLevel::kDebug : LogLevel::kInfo;
    EXPECT_TRUE(ParseLogLevel(name, &parsed)) << name;
    EXPECT_EQ(parsed, level) << name;
  }
}

TEST(LogLevelTest, RejectsAnyOtherNameAndLeavesTheLevelAlone) {
  for (std::string_view text : {"", "warn", "DEBUG", "Info", "fatal "}) {
    LogLevel level = LogLevel::kError;
    EXPECT_FALSE(ParseLogLevel(text, &level)) << text;
    EXPECT_EQ(level, LogLevel::kError) << text;
  }
}

TEST(LoggerTest, WritesUnixEpochLinesByDefault) {
  auto sink = std::make_shared<CapturingSink>(LogFormat{});
  Logger(sink, "bbs").Session("request").Info("done", {{"status", 200}});
  std::string line = sink->last();
  EXPECT_TRUE(std::regex_match(
      line,
      std::regex(R"(\{"timestamp":"\d+\.\d{9}","source":"bbs","message":"bbs\.request\.done",)"
                 R"("log_level":1,"data":\{"status":200\}\})")))
      << line;
}

TEST(LoggerTest, WritesRfc3339TimestampsAndLevelNamesWhenAsked) {
  LogFormat format;
  format.rfc3339 = true;
  auto sink = std::make_shared<CapturingSink>(format);
  Logger(sink, "bbs").Error("failed", "boom");
  std::string line = sink->last();
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\{"timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z",)"
                       R"("level":"error","source":"bbs","message":"bbs\.failed",)"
                       R"("data":\{"error":"boom"\}\})")))
      << line;
}

TEST(LoggerTest, TruncatesLongDataStringsTheWayLagerDoes) {
  LogFormat format;
  format.max_data_string_length = 20;
  auto sink = std::make_shared<CapturingSink>(format);
  Logger(sink, "bbs")
      .Info("x", {{"long", std::string(25, 'a')},
                  {"short", "foobar"},
                  {"nested", {{"list", {std::string(25, 'b'), "ok"}}}},
                  {"number", 12345}});
  auto data = nlohmann::json::parse(sink->last())["data"];
  EXPECT_EQ(data["long"], "aaaaaaaa-(truncated)");
  EXPECT_EQ(data["short"], "foobar");
  EXPECT_EQ(data["nested"]["list"][0], "bbbbbbbb-(truncated)");
  EXPECT_EQ(data["nested"]["list"][1], "ok");
  EXPECT_EQ(data["number"], 12345);
}

TEST(LoggerTest, LeavesDataAloneWithoutALimit) {
  auto sink = std::make_shared<CapturingSink>(LogFormat{});
  Logger(sink, "bbs").Info("x", {{"long", std::string(2000, 'a')}});
  EXPECT_EQ(nlohmann::json::parse(sink->last())["data"]["long"], std::string(2000, 'a'));
}

TEST(LoggerTest, RedactsPasswordsAndKeyLikeValuesWhenAsked) {
  LogFormat format;
  format.redact_secrets = true;
  auto sink = std::make_shared<CapturingSink>(format);
  Logger(sink, "bbs")
      .Info("x", {{"db_password", "hunter2"},
                  {"userPwd", "x"},
                  {"aws", "id AKIAABCDEFGHIJKLMNOP here"},
                  {"key", "-----BEGIN RSA PRIVATE KEY-----\nMII"},
                  {"fine", "cell-1"}});
  auto data = nlohmann::json::parse(sink->last())["data"];
  EXPECT_EQ(data["db_password"], "*REDACTED*");
  EXPECT_EQ(data["userPwd"], "*REDACTED*");
  EXPECT_EQ(data["aws"], "*REDACTED*");
  EXPECT_EQ(data["key"], "*REDACTED*");
  EXPECT_EQ(data["fine"], "cell-1");

  auto plain = std::make_shared<CapturingSink>(LogFormat{});
  Logger(plain, "bbs").Info("x", {{"db_password", "hunter2"}});
  EXPECT_EQ(nlohmann::json::parse(plain->last())["data"]["db_password"], "hunter2");
}

}  // namespace
}  // namespace bbs
