#include "bbs/models/routes_json.h"
#include "bbs/base/status_matchers.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace bbs::wire {
namespace {

models::ProtoRoutes Routes(const std::string& name, const std::string& value) {
  models::ProtoRoutes routes;
  (*routes.mutable_routes())[name] = value;
  return routes;
}

// The normalized form of a single route value; fails the test when normalization fails.
std::string Normalized(const std::string& value) {
  const Result<models::ProtoRoutes> result = NormalizeRoutes(Routes("r", value));
  if (!result.ok()) {
    ADD_FAILURE() << "expected OK, got " << result.status().ToString();
    return "";
  }
  return result->routes().at("r");
}

void ExpectRejected(const std::string& value) {
  const Result<models::ProtoRoutes> result = NormalizeRoutes(Routes("r", value));
  EXPECT_THAT(result, StatusIs(ErrorCode::kInvalidRequest)) << value;
  EXPECT_EQ(result.status().message(), "the request received is invalid");
}

TEST(NormalizeRoutesTest, AcceptsAnEmptyMap) {
  const Result<models::ProtoRoutes> result = NormalizeRoutes(models::ProtoRoutes());
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(result->routes().empty());
}

TEST(NormalizeRoutesTest, RemovesInsignificantWhitespaceOnly) {
  EXPECT_EQ(Normalized(" [ {\n\t\"hostnames\" : [ \"a b\" ] ,\r\n \"port\": 8080 } ] "),
            "[{\"hostnames\":[\"a b\"],\"port\":8080}]");
}

TEST(NormalizeRoutesTest, KeepsKeyOrderAndNumberLiterals) {
  EXPECT_EQ(Normalized("{\"z\": 1.50, \"a\": 1e3, \"m\": -0}"), "{\"z\":1.50,\"a\":1e3,\"m\":-0}");
}

TEST(NormalizeRoutesTest, EscapesHtmlCharactersInsideStrings) {
  EXPECT_EQ(Normalized("{\"url\": \"https://x/?a=1&b=<2>\"}"),
            "{\"url\":\"https://x/?a=1\\u0026b=\\u003c2\\u003e\"}");
}

TEST(NormalizeRoutesTest, EscapesLineAndParagraphSeparators) {
  EXPECT_EQ(Normalized("\"a\xE2\x80\xA8"
                       "b\xE2\x80\xA9"
                       "c\xE2\x80\xAA\""),
            "\"a\\u2028b\\u2029c\xE2\x80\xAA\"");
}

TEST(NormalizeRoutesTest, KeepsExistingEscapesIntact) {
  EXPECT_EQ(Normalized("[\"q\\\" <\", \"\\\\\", \"\\u003c \\n\"]"),
            "[\"q\\\" \\u003c\",\"\\\\\",\"\\u003c \\n\"]");
}

TEST(NormalizeRoutesTest, AcceptsScalarDocuments) {
  EXPECT_EQ(Normalized(" true "), "true");
  EXPECT_EQ(Normalized("null"), "null");
  EXPECT_EQ(Normalized("\"s\""), "\"s\"");
}

TEST(NormalizeRoutesTest, RejectsAnEmptyValue) { ExpectRejected(""); }

TEST(NormalizeRoutesTest, RejectsInvalidJson) {
  ExpectRejected("   ");
  ExpectRejected("{");
  ExpectRejected("[1,]");
  ExpectRejected("{'a': 1}");
  ExpectRejected("[1] [2]");
  ExpectRejected("01");
  ExpectRejected("\"tab\tinside\"");
  ExpectRejected("\xEF\xBB\xBF[]");
}

TEST(NormalizeRoutesTest, RejectsTheWholeMapWhenOneValueIsInvalid) {
  models::ProtoRoutes routes = Routes("good", "[]");
  (*routes.mutable_routes())["bad"] = "nope";
  EXPECT_THAT(NormalizeRoutes(routes), ::testing::Not(IsOk()));
}

TEST(NormalizeRoutesTest, NormalizesEveryEntry) {
  models::ProtoRoutes routes = Routes("a", " [ ] ");
  (*routes.mutable_routes())["b"] = "{ }";
  const Result<models::ProtoRoutes> result = NormalizeRoutes(routes);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->routes().at("a"), "[]");
  EXPECT_EQ(result->routes().at("b"), "{}");
}

TEST(InternalRoutesTest, AbsentEntryGivesNoHostnames) {
  EXPECT_TRUE(InternalRoutesFromRoutes(Routes("cf-router", "[]")).empty());
  EXPECT_TRUE(InternalRoutesFromRoutes(models::ProtoRoutes()).empty());
}

TEST(InternalRoutesTest, ReadsHostnamesInOrder) {
  EXPECT_EQ(InternalRoutesFromRoutes(Routes(
                "internal-router",
                "[{\"hostname\":\"a.apps.internal\"},{\"hostname\":\"b.apps.internal\",\"x\":1}]")),
            (std::vector<std::string>{"a.apps.internal", "b.apps.internal"}));
}

TEST(InternalRoutesTest, MatchesTheKeyCaseInsensitivelyLikeGo) {
  EXPECT_EQ(InternalRoutesFromRoutes(Routes("internal-router", "[{\"HostName\":\"a\"}, {}]")),
            (std::vector<std::string>{"a", ""}));
}

TEST(InternalRoutesTest, MalformedEntriesGiveNoHostnames) {
  EXPECT_TRUE(InternalRoutesFromRoutes(Routes("internal-router", "{}")).empty());
  EXPECT_TRUE(InternalRoutesFromRoutes(Routes("internal-router", "[{\"hostname\":1}]")).empty());
  EXPECT_TRUE(InternalRoutesFromRoutes(Routes("internal-router", "not json")).empty());
  EXPECT_TRUE(InternalRoutesFromRoutes(Routes("internal-router", "null")).empty());
}

}  // namespace
}  // namespace bbs::wire
