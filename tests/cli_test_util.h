// Helpers for the tests that run the bitlab binary as a user would: a command
// line's exit code and output, a fresh folder per test, and the result schema.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/io_test_util.h"
#include "tests/paths.h"

namespace bitlab::test {

// Debian's interpreter, where python3-jsonschema and python3-matplotlib live.
inline const std::string kPython = "/usr/bin/python3";

struct CmdResult {
  int code = -1;  // exit status; -1 when killed by a signal
  std::string out, err;
};

// Runs a shell command line with `env` (VAR=value ...) in front, stdin closed.
// Output goes through per-process files: ctest runs a binary's tests in parallel processes.
inline CmdResult run_command(const std::string& cmdline, const std::string& env = "") {
  static std::atomic<int> calls{0};
  const std::string base = ::testing::TempDir() + "/bitlab_cmd_" + std::to_string(getpid()) + "_" +
                           std::to_string(calls++);
  const std::string cmd = env + " " + cmdline + " >" + base + ".out 2>" + base + ".err </dev/null";
  const int status = std::system(cmd.c_str());
  CmdResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(base + ".out"), slurp(base + ".err")};
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

// `bitlab ARGS`.
inline CmdResult run_bitlab(const std::string& args, const std::string& env = "") {
  std::string cmdline = BITLAB_BIN;  // appended, not `+`: GCC 12 warns falsely (array-bounds) on the temporaries
  cmdline.append(" ").append(args);
  return run_command(cmdline, env);
}

// A fresh, empty folder for the running test (ends in '/').
inline std::string scratch_dir(const std::string& prefix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    ("bitlab_" + prefix + "_" + std::to_string(getpid()) + "_" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string() + "/";
}

inline bool python_has(const std::string& module) {
  return access(kPython.c_str(), X_OK) == 0 &&
         std::system((kPython + " -c 'import " + module + "' >/dev/null 2>&1").c_str()) == 0;
}

// Validates a result file against results/schema/result.schema.json. A missing
// validator is a failure, not a skip: a skip here would only leave this helper
// and mark the whole test skipped although its other checks ran (scripts/deps
// installs python3-jsonschema).
inline void expect_valid_result(const std::string& file) {
  if (!python_has("jsonschema")) {
    ADD_FAILURE() << kPython << " lacks jsonschema (Debian package python3-jsonschema): " << file << " not validated";
    return;
  }
  const std::string src = BITLAB_SOURCE_DIR;
  const CmdResult r =
      run_command(kPython + " " + src + "/tests/validate_result.py " + src + "/results/schema/result.schema.json " + file);
  EXPECT_EQ(r.code, 0) << file << " does not match the schema:\n" << r.out << r.err;
}

// The whole line of `text` that contains `what` ("" when none does).
inline std::string line_with(const std::string& text, const std::string& what) {
  const size_t at = text.find(what);
  if (at == std::string::npos) return {};
  const size_t begin = text.rfind('\n', at) + 1;
  return text.substr(begin, text.find('\n', at) - begin);
}

}  // namespace bitlab::test
