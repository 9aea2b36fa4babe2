#include "bbs/cli/commands.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

namespace bbs::cli {
namespace {

// Runs the CLI in-process, capturing stdout and stderr.
struct Captured {
  int code;
  std::string out;
  std::string err;
};

Captured RunInProcess(const std::vector<std::string>& args) {
  char* out_buf = nullptr;
  char* err_buf = nullptr;
  size_t out_len = 0;
  size_t err_len = 0;
  std::FILE* out = open_memstream(&out_buf, &out_len);
  std::FILE* err = open_memstream(&err_buf, &err_len);
  std::vector<std::string> argv = {"bbsctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  int code = RunCli(argv, out, err);
  std::fclose(out);
  std::fclose(err);
  Captured c{code, std::string(out_buf, out_len), std::string(err_buf, err_len)};
  std::free(out_buf);
  std::free(err_buf);
  return c;
}

TEST(CommandsTest, EveryVerbHasAManualPageWithItsFlagsAndEnvironment) {
  for (const auto& verb : Verbs()) {
    EXPECT_FALSE(verb.summary.empty()) << verb.name;
    EXPECT_FALSE(verb.description.empty()) << verb.name;
    EXPECT_FALSE(verb.examples.empty()) << verb.name;
    Captured c = RunInProcess({"help", verb.name});
    EXPECT_EQ(c.code, 0) << verb.name;
    EXPECT_NE(c.out.find("NAME\n    bbsctl " + verb.name + " - "), std::string::npos) << verb.name;
    for (const auto& flag : AllFlags(verb)) {
      EXPECT_NE(c.out.find("--" + flag.name), std::string::npos) << verb.name << " " << flag.name;
      if (!flag.env.empty()) {
        EXPECT_NE(c.out.find("[environment variable: " + flag.env + "]"), std::string::npos)
            << verb.name << " " << flag.env;
      }
    }
  }
}

TEST(CommandsTest, BbsVerbsTakeCfdotsConnectionFlagsAndLocketVerbsTheLocketOnes) {
  auto has = [](const Verb& v, const std::string& name) {
    for (const auto& f : AllFlags(v)) {
      if (f.name == name) return true;
    }
    return false;
  };
  for (const auto& verb : Verbs()) {
    if (verb.target == Verb::Target::kLocket) {
      EXPECT_TRUE(has(verb, "locketAPILocation")) << verb.name;
      EXPECT_FALSE(has(verb, "bbsURL")) << verb.name;
    } else {
      for (const char* f : {"bbsURL", "caCertFile", "clientCertFile", "clientKeyFile",
                            "skipCertVerify", "timeout"}) {
        EXPECT_TRUE(has(verb, f)) << verb.name << " " << f;
      }
    }
  }
}

TEST(CommandsTest, TheCompletionScriptNamesEveryVerbAndItsFlags) {
  std::string script = BashCompletion();
  for (const auto& verb : Verbs()) {
    EXPECT_NE(script.find("    " + verb.name + ") flags=\""), std::string::npos) << verb.name;
  }
  EXPECT_NE(script.find("complete -F _bbsctl bbsctl"), std::string::npos);
}

TEST(CommandsTest, UnknownVerbsAndHelpTopicsAreErrors) {
  EXPECT_EQ(RunInProcess({"frobnicate"}).code, kExitUsage);
  Captured c = RunInProcess({"help", "frobnicate"});
  EXPECT_EQ(c.code, kExitValidation);
  EXPECT_NE(c.err.find("unknown verb \"frobnicate\""), std::string::npos);
  Captured list = RunInProcess({});
  EXPECT_EQ(list.code, 0);
  EXPECT_NE(list.out.find("actual-lrp-groups-for-guid"), std::string::npos);
}

}  // namespace
}  // namespace bbs::cli
