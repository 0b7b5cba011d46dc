// The `bitlab` binary as a user meets it: bad input gives exit code 2 and one
// line on stderr; good input runs.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

// Every numeric option is parsed strictly and bounded: out of range, overflowing
// its type, negative for an unsigned one, or not finite is one line naming it.
TEST(Cli, EveryNumericOptionIsBounded) {
  const char* const cases[][2] = {
      {"run --model synthetic:tiny --gen 99999999999999999999", "--gen"},
      {"run --model synthetic:tiny --prompt-len 9223372036854775807 --gen 9223372036854775807", "--prompt-len"},
      {"run --model synthetic:tiny --gen 1x", "--gen"},
      {"run --model synthetic:tiny --seed -1", "--seed"},
      {"run --model synthetic:tiny --weight-seed 18446744073709551616", "--weight-seed"},
      {"run --model synthetic:tiny --temperature nan", "--temperature"},
      {"run --model synthetic:tiny --temperature inf", "--temperature"},
      {"run --model synthetic:tiny --top-k 99999999999", "--top-k"},
      {"run --model synthetic:tiny --top-k 2147483648", "out of range (expected 0 to 2147483647)"},
      {"generate --model synthetic:tiny --prompt hi --top-k 2147483648", "out of range (expected 0 to 2147483647)"},
      {"run --model synthetic:tiny --device 256", "--device"},
      {"generate --model synthetic:tiny --prompt hi --max-tokens 0", "--max-tokens"},
      {"generate --model synthetic:tiny --prompt hi --seed -1", "--seed"},
      {"bench --tokens 1,99999999999999999999", "--tokens"},
      {"bench --tokens 0", "--tokens"},
      {"bench --model synthetic:tiny --tokens 1,5000", "--tokens 5000 exceeds the model's 256 positions"},
      {"bench --model synthetic:tiny --prompt-len 250 --gen 7", "--prompt-len + --gen = 257 exceeds"},
      {"bench --repetitions 0", "--repetitions"},
      {"bench --idle-seconds inf", "--idle-seconds"},
      {"bench --nvml-device -1", "--nvml-device"},
      {"check --tokens 99999999999999999999", "--tokens"},
      {"check --model synthetic:tiny --tokens 100000", "--tokens 100000 exceeds"},
      {"energy --seconds nan", "--seconds"},
      {"energy --gen 0", "--gen"},
      {"energy --nvml-device 4294967296", "--nvml-device"},
      {"energy --model synthetic:tiny --prompt-len 1048576 --gen 1048576", "positions"},
      {"export --format gguf-i2s --weight-seed -1 x.gguf", "--weight-seed"},
      {"detokenize --model x.gguf -- -1", "ids"},
      {"detokenize --model x.gguf 4294967296", "ids"},
  };
  for (const auto& [args, what] : cases) expect_usage_error(args, what);
}

// --device means the same on run, generate and energy: a GPU index from 0 to
// 255, listed in the help and refused out of range (not as an unknown option).
TEST(Cli, DeviceIsOfferedAndBoundedOnRunGenerateAndEnergy) {
  for (const std::string cmd :
       {"run --model synthetic:tiny", "generate --model synthetic:tiny --prompt hi", "energy"}) {
    const Result help = run_bitlab(cmd.substr(0, cmd.find(' ')) + " --help");
    ASSERT_EQ(help.code, 0) << cmd;
    const size_t at = help.out.find("--device");
    ASSERT_NE(at, std::string::npos) << help.out;
    EXPECT_NE(help.out.find("[0 - 255]", at), std::string::npos) << help.out;
    expect_usage_error(cmd + " --device 256", "--device");
    expect_usage_error(cmd + " --device 256", "out of range (expected 0 to 255)");
    expect_usage_error(cmd + " --device -1", "out of range (expected 0 to 255)");
  }
}

// The backends of `bitlab info --usable`, in its order.
std::vector<std::string> usable_backends_listed() {
  const Result usable = run_bitlab("info --usable");
  EXPECT_EQ(usable.code, 0) << usable.err;
  std::vector<std::string> names;
  std::istringstream in(usable.out);
  for (std::string line; std::getline(in, line);) names.push_back(line);
  return names;
}

// Without --backend, run and generate use the fastest CPU backend usable here:
// the last CPU backend (scalar, avx512, neon) that `bitlab info --usable` lists.
TEST(Cli, RunAndGenerateDefaultToTheFastestUsableCpuBackend) {
  std::string want;
  for (const std::string& name : usable_backends_listed())
    if (name == "scalar" || name == "avx512" || name == "neon") want = name;
  ASSERT_FALSE(want.empty());
  const Result r = run_bitlab("run --model synthetic:tiny --prompt-len 2 --gen 1 --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string backend_line = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(backend_line.rfind("backend   " + want + " (", 0), 0u) << r.out;
  const Result help = run_bitlab("generate --help");
  ASSERT_EQ(help.code, 0);
  const size_t at = help.out.find("--backend");
  ASSERT_NE(at, std::string::npos);
  EXPECT_NE(help.out.find("--backend TEXT=" + want + " "), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("fastest CPU backend", at), std::string::npos) << help.out;
}

// An empty value is a slip (an unset shell variable), never a choice; a prompt
// or a text to tokenize may still be empty.
TEST(Cli, EmptyValuesAreRefused) {
  for (const char* option : {"--model", "--backend"}) expect_usage_error(std::string("run ") + option + " ''", option);
  expect_usage_error("bench --out ''", "--out");
  expect_usage_error("bench --energy-source ''", "--energy-source");
  expect_usage_error("check --out ''", "--out");
  expect_usage_error("energy --source ''", "--source");
  expect_usage_error("export --format gguf-i2s ''", "out");
  expect_usage_error("generate --model synthetic:tiny --prompt hi --vocab ''", "--vocab");
  expect_usage_error("compare '' x.json", "base");
  expect_usage_error("report '' -o x", "must not be empty");
  const Result text = run_bitlab("tokenize --model nonesuch.gguf ''");
  EXPECT_EQ(text.err.find("must not be empty"), std::string::npos) << text.err;
  EXPECT_NE(text.err.find("nonesuch.gguf"), std::string::npos) << text.err;
}

// --quick changes defaults only: an explicit --tokens is what runs.
TEST(Cli, QuickKeepsExplicitTokens) {
  const std::string out = bitlab::test::scratch_dir("cli") + "quick.json";
  const Result r = run_bitlab("bench --quick --tokens 3 --no-e2e --backends scalar --model synthetic:tiny --threads 1 "
                              "--repetitions 1 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(bitlab::test::slurp(out));
  std::set<int64_t> tokens;
  for (const auto& m : doc["measurements"])
    if (m["name"] == "matmul_w2a8") tokens.insert(m["shape"]["tokens"].get<int64_t>());
  EXPECT_EQ(tokens, std::set<int64_t>{3});
}

// The build flags a result file records are the ones CMake gave the compiler
// for the measured code, for the configuration built: its optimisation,
// debug-info and sanitizer flags, read from compile_commands.json. The file
// looked up is common/sysinfo.cpp, compiled with the plain build flags and on
// its own (the model library compiles as unity batches, which the database
// lists instead of their files).
TEST(Cli, ResultRecordsTheBuildFlagsTheCompilerWasGiven) {
  std::ifstream db(std::string(BITLAB_BINARY_DIR) + "/compile_commands.json");
  if (!db) GTEST_SKIP() << "no compile_commands.json in " << BITLAB_BINARY_DIR;
  const nlohmann::json commands = nlohmann::json::parse(db);
  // The flags that say how code was compiled, in order.
  auto telling = [](const std::string& flags) {
    std::vector<std::string> out;
    std::istringstream in(flags);
    for (std::string f; in >> f;)
      if (f.rfind("-O", 0) == 0 || f.rfind("-g", 0) == 0 || f.rfind("-fsanitize=", 0) == 0) out.push_back(f);
    return out;
  };
  std::vector<std::string> compiled;
  for (const auto& c : commands)
    if (c["file"].get<std::string>().ends_with("/common/sysinfo.cpp"))
      compiled = telling(c["command"].get<std::string>());
  ASSERT_FALSE(compiled.empty()) << "common/sysinfo.cpp is not in compile_commands.json, or has no -O/-g flag";

  const std::string out = bitlab::test::scratch_dir("cli") + "flags.json";
  const Result r = run_bitlab("bench --quick --tokens 1 --no-e2e --backends scalar --model synthetic:tiny --threads 1 "
                              "--repetitions 1 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json build = nlohmann::json::parse(bitlab::test::slurp(out))["context"]["build"];
  EXPECT_EQ(telling(build["flags"].get<std::string>()), compiled) << build.dump();
  EXPECT_EQ(build["build_type"], BITLAB_BUILD_CONFIG);
}

// Names reach messages raw from the command line and from files: a newline or
// an escape sequence in one is shown escaped, and the error stays one line.
TEST(Cli, ErrorsShowControlCharactersEscaped) {
  const Result r = run_bitlab("run --model \"$(printf 'bad\\nname\\033[31m\\377.bin')\"");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad\\nname\\x1b[31m\\xff.bin"), std::string::npos) << r.err;
}

TEST(Cli, ProgressLinesShowControlCharactersEscaped) {
  const std::string dir = bitlab::test::scratch_dir("cli");
  const Result r = run_bitlab("export --model synthetic:tiny --format gguf-i2s \"" + dir +
                              "$(printf 'odd\\nname\\033[2J').gguf\"");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  EXPECT_NE(bitlab::test::line_with(r.err, "export: ").find("odd\\nname\\x1b[2J.gguf"), std::string::npos) << r.err;
  // The success line names the same file, escaped the same way.
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_NE(bitlab::test::line_with(r.out, "wrote ").find("odd\\nname\\x1b[2J.gguf"), std::string::npos) << r.out;
}

// The parser drops empty items of a comma list silently; they are slips, and a
// repeated item would give two measurements the same key.
TEST(Cli, ListOptionsRefuseEmptyAndRepeatedItems) {
  const std::string base = "bench --model synthetic:tiny --quick --no-e2e --energy-source none --out x.json ";
  for (const char* tokens : {"1,,2", ",1", "1,", "--tokens=1,,2"}) {
    const std::string arg = std::string(tokens).rfind("--", 0) == 0 ? tokens : std::string("--tokens ") + tokens;
    expect_usage_error(base + arg, "empty item");
  }
  expect_usage_error(base + "--backends scalar,,scalar", "empty item");
  expect_usage_error(base + "--tokens 1,2,01", "given twice");
  expect_usage_error(base + "--tokens 3 --tokens 3", "given twice");
  expect_usage_error(base + "--backends scalar,scalar", "given twice");
  expect_usage_error("bench --model synthetic:tiny --quick --no-kernels --heads bf16,bf16 --out x.json", "given twice");
}

// GCC says __SANITIZE_ADDRESS__, clang __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define BITLAB_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BITLAB_TEST_UNDER_ASAN 1
#endif
#endif

// Memory runs out (here: a 600 MB address-space limit against the 1.2 GB
// model): one line saying so and naming the command, not "std::bad_alloc".
TEST(Cli, OutOfMemoryIsOneLineNamingTheCommand) {
#if defined(BITLAB_TEST_UNDER_ASAN)
  GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit allows";
#else
  std::string cmd = "ulimit -v 600000; ";
  cmd.append(BITLAB_BIN).append(" run --model synthetic:2b4t --prompt-len 2 --gen 2 --threads 1");
  const Result r = bitlab::test::run_command(cmd);
  EXPECT_EQ(r.code, 1) << r.err;
  const std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
  EXPECT_NE(last.find("bitlab: out of memory while running 'run'"), std::string::npos) << r.err;
#endif
}

// A failed write (here: the file-size limit, with SIGXFSZ ignored so write()
// returns EFBIG) exits 1 like any other failure, naming the file.
TEST(Cli, WriteFailureExitsOne) {
  const std::string dir = bitlab::test::scratch_dir("cli");
  std::string cmd = "trap '' XFSZ; ulimit -f 8; ";
  cmd.append(BITLAB_BIN).append(" export --model synthetic:tiny --format gguf-i2s " + dir + "small.gguf");
  const Result r = bitlab::test::run_command(cmd);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(bitlab::test::line_with(r.err, "bitlab: ").find("small.gguf"), std::string::npos) << r.err;
}

}  // namespace
