// bbsctl: the operator's command line for a Diego BBS (docs/bbsctl.md).

#include <csignal>
#include <string>
#include <vector>

#include "bbs/cli/commands.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv, argv + argc);
  return bbs::cli::RunCli(args, stdout, stderr);
}
