#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bbs/cli/flags.h"

namespace bbs::cli {

// Exit codes, as cfdot's: 0 success, 3 invalid arguments or configuration, 4 an error the BBS
// (or Locket) returned, 5 any other failure (unreachable server, TLS), 255 an unknown flag.
inline constexpr int kExitOk = 0;
inline constexpr int kExitValidation = 3;
inline constexpr int kExitBbsError = 4;
inline constexpr int kExitOther = 5;
inline constexpr int kExitUsage = 255;

struct Context;

// One verb: its name, synopsis, help text and flags, and what it runs.
struct Verb {
  enum class Target { kNone, kBbs, kLocket };
  std::string name;
  std::string args;         // synopsis of the positional arguments, e.g. "PROCESS_GUID INDEX"
  std::string summary;      // one line
  std::string description;  // paragraphs for `bbsctl help VERB`
  Target target = Target::kBbs;
  std::vector<FlagSpec> flags;  // the verb's own flags (the connection flags are added)
  std::vector<std::string> examples;
  std::function<int(Context&)> run;
};

// Every verb, in the order `bbsctl help` lists them.
const std::vector<Verb>& Verbs();
// The flags `verb` accepts: its own, then the connection flags of its target.
std::vector<FlagSpec> AllFlags(const Verb& verb);

// The bash completion script (scripts/bbsctl-completion.bash is this text).
std::string BashCompletion();

// Runs bbsctl with `argv` (argv[0] is the program), writing to `out` and `err`; returns the
// exit code.
int RunCli(const std::vector<std::string>& argv, std::FILE* out, std::FILE* err);

}  // namespace bbs::cli
