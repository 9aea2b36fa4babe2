#include "bbs/base/go_duration.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bbs {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;
using ::testing::StartsWith;

std::string ErrorOf(const Result<nanoseconds>& result) {
  return result.ok() ? "<ok>" : result.status().message();
}

TEST(ParseGoDurationTest, AcceptsGoSyntax) {
  struct Case {
    const char* text;
    nanoseconds want;
  };
  for (const Case& c : std::vector<Case>{
           {"0", 0ns},
           {"-0", 0ns},
           {"+0", 0ns},
           {"0s", 0ns},
           {"30s", 30s},
           {"1m30s", 90s},
           {"500ms", 500ms},
           {"1h", 1h},
           {"1.5s", 1500ms},
           {"2h45m", 165min},
           {"300us", 300us},
           {"300\xC2\xB5s", 300us},  // U+00B5 micro sign
           {"300\xCE\xBCs", 300us},  // U+03BC Greek small letter mu
           {"7ns", 7ns},
           {"1800s", 1800s},
           {".5s", 500ms},
           {"1.s", 1s},
           {"-1.5h", -90min},
           {"+2m", 2min},
           {"1h1m1s1ms1us1ns", 3'661'001'001'001ns},
           {"1s1s", 2s},
           {"0.000000001s", 1ns},
           {"0.0000000009s", 0ns},
           {"1.00000000000000000000000000000001s", 1s},  // excess digits are dropped
           {"9223372036854775807ns", 9223372036854775807ns},
           {"-9223372036854775808ns", nanoseconds::min()},
           {"2562047h", 2562047h},
       }) {
    Result<nanoseconds> parsed = ParseGoDuration(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << ErrorOf(parsed);
    EXPECT_EQ(*parsed, c.want) << c.text;
  }
}

TEST(ParseGoDurationTest, RejectsWhatGoRejects) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : std::vector<Case>{
           {"", "empty"},
           {"-", "empty"},
           {"30", "missing unit"},
           {"1", "missing unit"},
           {"00", "missing unit"},
           {"1m30", "missing unit"},
           {".", "expected a number"},
           {".s", "expected a number"},
           {"s", "expected a number"},
           {"-s", "expected a number"},
           {" 1s", "expected a number"},
           {"1s ", "unknown unit \"s \""},
           {"1 s", "unknown unit \" s\""},
           {"1sec", "unknown unit \"sec\""},
           {"1d", "unknown unit \"d\""},
           {"1S", "unknown unit \"S\""},
           {"1h-5m", "unknown unit \"h-\""},
           {"9223372036854775808ns", "out of range"},
           {"2562048h", "out of range"},
           {"99999999999999999999s", "out of range"},
       }) {
    Result<nanoseconds> parsed = ParseGoDuration(c.text);
    EXPECT_THAT(ErrorOf(parsed),
                StartsWith("invalid duration " + ::testing::PrintToString(std::string(c.text)) +
                           ": " + c.why))
        << c.text;
  }
}

}  // namespace
}  // namespace bbs
