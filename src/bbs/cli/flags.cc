#include "bbs/cli/flags.h"

#include <cerrno>
#include <cstdlib>

namespace bbs::cli {
namespace {

const FlagSpec* FindLong(const std::vector<FlagSpec>& specs, const std::string& name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const FlagSpec* FindShort(const std::vector<FlagSpec>& specs, char c) {
  for (const auto& s : specs) {
    if (s.shorthand != 0 && s.shorthand == c) return &s;
  }
  return nullptr;
}

std::string FlagLabel(const FlagSpec& spec) {
  if (spec.shorthand != 0) return std::string("-") + spec.shorthand + ", --" + spec.name;
  return "--" + spec.name;
}

// Checks `value` for `spec`'s type, as pflag's Set does.
bool Check(const FlagSpec& spec, const std::string& value, FlagError* error) {
  if (spec.type == FlagSpec::Type::kInt) {
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(value.c_str(), &end, 0);
    (void)v;
    if (value.empty() || end == nullptr || *end != '\0' || errno == ERANGE) {
      error->message = "invalid argument \"" + value + "\" for \"" + FlagLabel(spec) +
                       "\" flag: strconv.ParseInt: parsing \"" + value +
                       "\": " + (errno == ERANGE ? "value out of range" : "invalid syntax");
      error->invalid_argument = true;
      return false;
    }
  } else if (spec.type == FlagSpec::Type::kBool) {
    bool b;
    if (!ParseGoBool(value, &b)) {
      error->message = "invalid argument \"" + value + "\" for \"" + FlagLabel(spec) +
                       "\" flag: strconv.ParseBool: parsing \"" + value + "\": invalid syntax";
      error->invalid_argument = true;
      return false;
    }
  }
  return true;
}

}  // namespace

bool ParseGoBool(const std::string& text, bool* value) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == t) {
      *value = true;
      return true;
    }
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == f) {
      *value = false;
      return true;
    }
  }
  return false;
}

bool ParseFlags(const std::vector<FlagSpec>& specs, const std::vector<std::string>& argv,
                ParsedFlags* out, FlagError* error) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (word == "--") {
      for (++i; i < argv.size(); ++i) out->args.push_back(argv[i]);
      break;
    }
    if (word.size() > 2 && word.compare(0, 2, "--") == 0) {
      std::string name = word.substr(2);
      std::string value;
      bool has_value = false;
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      if (name == "help") {
        out->help = true;
        continue;
      }
      const FlagSpec* spec = FindLong(specs, name);
      if (spec == nullptr) {
        error->message = "unknown flag: --" + name;
        return false;
      }
      if (!has_value) {
        if (spec->type == FlagSpec::Type::kBool) {
          value = "true";
        } else if (i + 1 < argv.size()) {
          value = argv[++i];
        } else {
          error->message = "flag needs an argument: --" + name;
          return false;
        }
      }
      if (!Check(*spec, value, error)) return false;
      out->values[spec->name] = value;
      continue;
    }
    if (word.size() > 1 && word[0] == '-') {
      // One or more shorthands: -x, -dvalue, -d value, -xd value.
      for (size_t k = 1; k < word.size(); ++k) {
        char c = word[k];
        if (c == 'h') {
          out->help = true;
          continue;
        }
        const FlagSpec* spec = FindShort(specs, c);
        if (spec == nullptr) {
          error->message = std::string("unknown shorthand flag: '") + c + "' in " + word;
          return false;
        }
        std::string value;
        if (spec->type == FlagSpec::Type::kBool) {
          if (k + 1 < word.size() && word[k + 1] == '=') {
            value = word.substr(k + 2);
            k = word.size();
          } else {
            value = "true";
          }
        } else if (k + 1 < word.size()) {
          value = word.substr(word[k + 1] == '=' ? k + 2 : k + 1);
          k = word.size();
        } else if (i + 1 < argv.size()) {
          value = argv[++i];
        } else {
          error->message = std::string("flag needs an argument: '") + c + "' in -" + c;
          return false;
        }
        if (!Check(*spec, value, error)) return false;
        out->values[spec->name] = value;
      }
      continue;
    }
    out->args.push_back(word);
  }
  return true;
}

}  // namespace bbs::cli
