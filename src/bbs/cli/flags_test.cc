#include "bbs/cli/flags.h"

#include <gtest/gtest.h>

namespace bbs::cli {
namespace {

using Type = FlagSpec::Type;

const std::vector<FlagSpec> kSpecs = {
    {"domain", 'd', Type::kString, "", ""},
    {"index", 'i', Type::kInt, "", ""},
    {"exclude", 'x', Type::kBool, "", ""},
    {"bbsURL", 0, Type::kString, "", "BBS_URL"},
};

ParsedFlags Parse(const std::vector<std::string>& argv) {
  ParsedFlags out;
  FlagError error;
  EXPECT_TRUE(ParseFlags(kSpecs, argv, &out, &error)) << error.message;
  return out;
}

FlagError ParseError(const std::vector<std::string>& argv) {
  ParsedFlags out;
  FlagError error;
  EXPECT_FALSE(ParseFlags(kSpecs, argv, &out, &error));
  return error;
}

TEST(FlagsTest, AcceptsTheFormsPflagAccepts) {
  ParsedFlags f = Parse({"a", "--domain", "d1", "--bbsURL=http://x", "-i", "3", "b", "-x"});
  EXPECT_EQ(f.Get("domain"), "d1");
  EXPECT_EQ(f.Get("bbsURL"), "http://x");
  EXPECT_EQ(f.Get("index"), "3");
  EXPECT_EQ(f.Get("exclude"), "true");
  EXPECT_EQ(f.args, (std::vector<std::string>{"a", "b"}));
  ParsedFlags joined = Parse({"-dcf", "-xi7", "--exclude=false"});
  EXPECT_EQ(joined.Get("domain"), "cf");
  EXPECT_EQ(joined.Get("index"), "7");
  EXPECT_EQ(joined.Get("exclude"), "false");
}

TEST(FlagsTest, DoubleDashEndsTheFlags) {
  ParsedFlags f = Parse({"--", "-d", "x"});
  EXPECT_FALSE(f.Changed("domain"));
  EXPECT_EQ(f.args, (std::vector<std::string>{"-d", "x"}));
}

TEST(FlagsTest, HelpIsAlwaysAccepted) {
  EXPECT_TRUE(Parse({"--help"}).help);
  EXPECT_TRUE(Parse({"-h"}).help);
}

TEST(FlagsTest, ReportsErrorsInPflagsWords) {
  EXPECT_EQ(ParseError({"--nope"}).message, "unknown flag: --nope");
  EXPECT_EQ(ParseError({"-z"}).message, "unknown shorthand flag: 'z' in -z");
  EXPECT_EQ(ParseError({"--domain"}).message, "flag needs an argument: --domain");
  FlagError invalid = ParseError({"--index", "x"});
  EXPECT_TRUE(invalid.invalid_argument);
  EXPECT_EQ(invalid.message,
            "invalid argument \"x\" for \"-i, --index\" flag: strconv.ParseInt: parsing \"x\": "
            "invalid syntax");
  EXPECT_TRUE(ParseError({"--exclude=maybe"}).invalid_argument);
}

TEST(FlagsTest, ParsesBooleansAsGoDoes) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    bool v = false;
    EXPECT_TRUE(ParseGoBool(t, &v) && v) << t;
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    bool v = true;
    EXPECT_TRUE(ParseGoBool(f, &v) && !v) << f;
  }
  bool v;
  EXPECT_FALSE(ParseGoBool("yes", &v));
}

}  // namespace
}  // namespace bbs::cli
