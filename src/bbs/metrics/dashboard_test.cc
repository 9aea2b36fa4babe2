// docs/grafana-dashboard.json must only query metrics that bbs exports.

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbs/metrics/bbs_metrics.h"

namespace bbs::metrics {
namespace {

bool IdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool IdentChar(char c) { return IdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Skips from an opening bracket to just past its matching closing one.
size_t SkipGroup(const std::string& expr, size_t i, char open, char close) {
  int depth = 0;
  for (; i < expr.size(); ++i) {
    if (expr[i] == '"') {
      for (++i; i < expr.size() && expr[i] != '"'; ++i) {
        if (expr[i] == '\\') ++i;
      }
    } else if (expr[i] == open) {
      ++depth;
    } else if (expr[i] == close && --depth == 0) {
      return i + 1;
    }
  }
  return i;
}

// The metric names a PromQL expression reads: identifiers that are not functions, aggregation
// operators, keywords, label names (inside {} or by/without lists), numbers or Grafana variables.
std::vector<std::string> MetricNamesIn(const std::string& expr) {
  static const std::set<std::string> kKeywords = {
      "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
      "offset", "bool", "inf", "nan",
      // Aggregation operators, which may put a by/without clause before their parentheses.
      "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk",
      "quantile", "count_values"};
  static const std::set<std::string> kGrouping = {"by",       "without",    "on",
                                                  "ignoring", "group_left", "group_right"};
  std::vector<std::string> names;
  size_t i = 0;
  while (i < expr.size()) {
    char c = expr[i];
    if (c == '"') {
      for (++i; i < expr.size() && expr[i] != '"'; ++i) {
        if (expr[i] == '\\') ++i;
      }
      ++i;
    } else if (c == '{') {
      i = SkipGroup(expr, i, '{', '}');
    } else if (c == '[') {
      i = SkipGroup(expr, i, '[', ']');
    } else if (c == '$') {
      for (++i; i < expr.size() && IdentChar(expr[i]); ++i) {
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      for (++i;
           i < expr.size() &&
           (std::isalnum(static_cast<unsigned char>(expr[i])) || expr[i] == '.' ||
            ((expr[i] == '+' || expr[i] == '-') && (expr[i - 1] == 'e' || expr[i - 1] == 'E')));
           ++i) {
      }
    } else if (IdentStart(c)) {
      size_t start = i;
      while (i < expr.size() && IdentChar(expr[i])) ++i;
      std::string ident = expr.substr(start, i - start);
      size_t next = i;
      while (next < expr.size() && std::isspace(static_cast<unsigned char>(expr[next]))) ++next;
      bool call = next < expr.size() && expr[next] == '(';
      if (kGrouping.count(ident) && call) {
        i = SkipGroup(expr, next, '(', ')');
      } else if (!call && !kKeywords.count(ident)) {
        names.push_back(ident);
      }
    } else {
      ++i;
    }
  }
  return names;
}

void CollectExprs(const nlohmann::json& node, std::vector<std::string>* out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "expr" && value.is_string()) {
        out->push_back(value.get<std::string>());
      } else if (key == "definition" && value.is_string()) {
        // Template variables: label_values(<metric>, <label>).
        std::string def = value.get<std::string>();
        const std::string prefix = "label_values(";
        if (def.rfind(prefix, 0) == 0) {
          out->push_back(def.substr(prefix.size(), def.find(',') - prefix.size()));
        }
      } else {
        CollectExprs(value, out);
      }
    }
  } else if (node.is_array()) {
    for (const auto& item : node) CollectExprs(item, out);
  }
}

TEST(DashboardTest, TheExpressionParserFindsOnlyMetricNames) {
  EXPECT_THAT(MetricNamesIn("histogram_quantile(0.99, sum by (route, le) (rate(x_bucket{route=~"
                            "\"a|b\"}[$__rate_interval])))"),
              ::testing::ElementsAre("x_bucket"));
  EXPECT_THAT(MetricNamesIn("RequestLatency{instance=~\"$instance\"} / 1e9 + on(job) foo"),
              ::testing::ElementsAre("RequestLatency", "foo"));
}

TEST(DashboardTest, EveryMetricTheDashboardQueriesIsExported) {
  std::ifstream in(BBS_DASHBOARD_JSON);
  ASSERT_TRUE(in) << "cannot open " << BBS_DASHBOARD_JSON;
  nlohmann::json dashboard = nlohmann::json::parse(in);
  std::vector<std::string> exprs;
  CollectExprs(dashboard, &exprs);
  ASSERT_GT(exprs.size(), 20u);

  BbsMetrics metrics;
  std::vector<std::string> exported = metrics.MetricNames();
  std::set<std::string> queried;
  for (const auto& expr : exprs) {
    std::vector<std::string> names = MetricNamesIn(expr);
    EXPECT_FALSE(names.empty()) << "no metric in: " << expr;
    for (const auto& name : names) {
      queried.insert(name);
      EXPECT_TRUE(std::binary_search(exported.begin(), exported.end(), name))
          << name << " (in: " << expr << ") is not exported";
    }
  }
  // The panels operators need are there.
  for (const char* name :
       {"bbs_http_requests_total", "bbs_http_request_duration_seconds_bucket",
        "ConvergenceLRPDuration", "LRPsDesired", "LRPsRunning", "LRPsMissing", "LRPsExtra",
        "CrashedActualLRPs", "TasksPending", "TasksRunning", "PresentCells", "SuspectCells",
        "bbs_commit_duration_seconds_bucket", "bbs_event_subscribers"}) {
    EXPECT_TRUE(queried.count(name)) << name << " is not on the dashboard";
  }
}

TEST(DashboardTest, PanelsHaveUniqueIdsAndTitles) {
  std::ifstream in(BBS_DASHBOARD_JSON);
  nlohmann::json dashboard = nlohmann::json::parse(in);
  std::set<int> ids;
  std::set<std::string> titles;
  for (const auto& panel : dashboard.at("panels")) {
    EXPECT_TRUE(ids.insert(panel.at("id").get<int>()).second) << panel.at("id");
    EXPECT_TRUE(titles.insert(panel.at("title").get<std::string>()).second) << panel.at("title");
    if (panel.at("type") != "row") {
      EXPECT_FALSE(panel.at("targets").empty()) << panel.at("title");
    }
  }
}

}  // namespace
}  // namespace bbs::metrics
