// The `bitlab` binary as a user meets it: bad input gives exit code 2 and one
// line on stderr; good input runs.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/cli_test_util.h"

namespace {

using Result = bitlab::test::CmdResult;
using bitlab::test::run_bitlab;

// Exit code 2, nothing on stdout, exactly one line on stderr mentioning `what`.
void expect_usage_error(const std::string& args, const std::string& what) {
  const Result r = run_bitlab(args);
  EXPECT_EQ(r.code, 2) << args << "\nstderr: " << r.err;
  ASSERT_FALSE(r.err.empty()) << args;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
}

TEST(Cli, UnknownBackend) { expect_usage_error("run --model synthetic:tiny --backend nonesuch", "nonesuch"); }
TEST(Cli, UnknownModel) { expect_usage_error("run --model synthetic:7b", "7b"); }
TEST(Cli, ModelThatIsNotASpec) { expect_usage_error("run --model whatever.bin", "whatever.bin"); }
TEST(Cli, BadNumbers) {
  expect_usage_error("run --model synthetic:tiny --gen abc", "--gen");
  expect_usage_error("run --model synthetic:tiny --gen 0", "--gen");
  expect_usage_error("run --model synthetic:tiny --prompt-len -3", "--prompt-len");
  expect_usage_error("run --model synthetic:tiny --threads -1", "--threads");
  expect_usage_error("run --model synthetic:tiny --prompt-len 200 --gen 100", "positions");
}
TEST(Cli, UnknownSubcommandAndOption) {
  expect_usage_error("frobnicate", "frobnicate");
  expect_usage_error("run --no-such-flag", "--no-such-flag");
  expect_usage_error("", "ubcommand");
}

TEST(Cli, HelpAndInfo) {
  const Result help = run_bitlab("run --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--backend"), std::string::npos);
  const Result info = run_bitlab("info");
  EXPECT_EQ(info.code, 0) << info.err;
  EXPECT_NE(info.out.find("scalar"), std::string::npos);
  EXPECT_NE(info.out.find("usable"), std::string::npos);
}

TEST(Cli, RunTinyPrintsTokensAndSpeed) {
  const Result r = run_bitlab("run --model synthetic:tiny --backend scalar --prompt-len 5 --gen 6 --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("generated 6 tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("time to first token"), std::string::npos);
  EXPECT_NE(r.out.find("decode"), std::string::npos);
  // Same seed, same tokens: the "generated" line repeats exactly.
  auto generated_line = [](const std::string& out) {
    const size_t at = out.find("generated");
    return out.substr(at, out.find('\n', at) - at);
  };
  const Result again = run_bitlab("run --model synthetic:tiny --backend scalar --prompt-len 5 --gen 6 --threads 2");
  EXPECT_EQ(generated_line(again.out), generated_line(r.out));
}

}  // namespace
