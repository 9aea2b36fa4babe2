#include "bbs/base/go_duration.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bbs {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;
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
           {"0", nanoseconds(0)},
           {"-0", nanoseconds(0)},
           {"+0", nanoseconds(0)},
           {"0s", nanoseconds(0)},
           {"30s", seconds(30)},
           {"1m30s", seconds(90)},
           {"500ms", milliseconds(500)},
           {"1h", hours(1)},
           {"1.5s", milliseconds(1500)},
           {"2h45m", minutes(165)},
           {"300us", microseconds(300)},
           {"300\xC2\xB5s", microseconds(300)},  // U+00B5 micro sign
           {"300\xCE\xBCs", microseconds(300)},  // U+03BC Greek small letter mu
           {"7ns", nanoseconds(7)},
           {"1800s", seconds(1800)},
           {".5s", milliseconds(500)},
           {"1.s", seconds(1)},
           {"-1.5h", -minutes(90)},
           {"+2m", minutes(2)},
           {"1h1m1s1ms1us1ns", nanoseconds(3'661'001'001'001)},
           {"1s1s", seconds(2)},
           {"0.000000001s", nanoseconds(1)},
           {"0.0000000009s", nanoseconds(0)},
           {"1.00000000000000000000000000000001s", seconds(1)},  // excess digits are dropped
           {"9223372036854775807ns", nanoseconds(9223372036854775807)},
           {"-9223372036854775808ns", nanoseconds::min()},
           {"2562047h", hours(2562047)},
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
