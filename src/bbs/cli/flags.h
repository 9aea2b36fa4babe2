#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace bbs::cli {

// Command-line flags the way cfdot's library (spf13/pflag) reads them: `--name value`,
// `--name=value`, `-n value`, `-nvalue`, booleans without a value (or `--name=false`), `--`
// ends the flags; flags and positional arguments may be mixed.
struct FlagSpec {
  enum class Type { kString, kBool, kInt };
  std::string name;    // long name, without dashes
  char shorthand = 0;  // 0 = none
  Type type = Type::kString;
  std::string help;
  std::string env;  // environment variable read when the flag is not given ("" = none)
};

struct ParsedFlags {
  std::map<std::string, std::string> values;  // by long name, only flags given
  std::vector<std::string> args;              // positional arguments
  bool help = false;                          // -h / --help given

  bool Changed(const std::string& name) const { return values.count(name) > 0; }
  std::string Get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? "" : it->second;
  }
};

// A parse failure, worded as pflag words it. `invalid_argument` marks the failures cfdot exits
// with code 3 for (a value that does not parse); the others (unknown flag, missing value) exit
// with 255 there.
struct FlagError {
  std::string message;
  bool invalid_argument = false;
};

// Parses `argv` (the words after the verb) against `specs`. Returns false and fills `error` on
// failure.
bool ParseFlags(const std::vector<FlagSpec>& specs, const std::vector<std::string>& argv,
                ParsedFlags* out, FlagError* error);

// Go's strconv.ParseBool: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False.
bool ParseGoBool(const std::string& text, bool* value);

}  // namespace bbs::cli
