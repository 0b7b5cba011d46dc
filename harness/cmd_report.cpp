// `bitlab report FILES... -o DIR`: DIR/report.html (self-contained) and
// DIR/report.md with its PNGs beside it. The work is done by
// harness/report/report.py with matplotlib: plotting in C++ would mean a
// dependency far heavier than Debian's python3-matplotlib. This file only finds
// the script and an interpreter and passes the exit code on (0, 1, or 2 for bad
// input, as report.py uses bitlab's codes).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "harness/commands.h"
#include "model/error.h"

extern char** environ;

namespace bitlab::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMissing = "install the Debian package python3-matplotlib";

struct ReportOptions {
  std::vector<std::string> files;
  std::string out;
};

bool executable(const fs::path& p) { return ::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p); }

// $BITLAB_PYTHON if set (tests, unusual installs); else /usr/bin/python3, where
// Debian's python3-matplotlib is importable, before a PATH python3 that may be
// a pyenv or venv interpreter without it.
std::string find_python() {
  if (const char* env = std::getenv("BITLAB_PYTHON"); env && *env) {
    if (!executable(env))
      throw std::runtime_error(fmt::format("report: BITLAB_PYTHON={} is not an executable python3 ({})", env, kMissing));
    return env;
  }
  if (executable("/usr/bin/python3")) return "/usr/bin/python3";
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');)
      if (!dir.empty() && executable(fs::path(dir) / "python3")) return (fs::path(dir) / "python3").string();
  }
  throw std::runtime_error(fmt::format("report needs python3 with matplotlib and found no python3: {}", kMissing));
}

// The copy the build places beside the binary (build/share/bitlab) first, so a
// build directory moved or installed elsewhere keeps working; the source tree
// the binary was built from second.
fs::path find_script() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "share" / "bitlab" / "report.py");
  candidates.push_back(fs::path(BITLAB_REPORT_SOURCE_DIR) / "report.py");
  for (const fs::path& p : candidates)
    if (fs::is_regular_file(p, ec)) return p;
  throw std::runtime_error(fmt::format("report: report.py not found (looked at {})", candidates.back().string()));
}

int run_report(const ReportOptions& o) {
  // Usage errors are ours to report, before any interpreter is looked for.
  for (const std::string& f : o.files) {
    if (!std::ifstream(f)) throw UsageError(fmt::format("cannot read {}", f));
    if (fs::is_directory(f)) throw UsageError(fmt::format("{} is a directory, not a result file", f));
  }
  const std::string python = find_python();
  const std::string script = find_script().string();

  std::vector<std::string> args{python, "-B", script, "-o", o.out, "--"};  // -B: no __pycache__ in the tree
  args.insert(args.end(), o.files.begin(), o.files.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (const int err = posix_spawn(&pid, python.c_str(), nullptr, nullptr, argv.data(), environ))
    throw std::runtime_error(fmt::format("report: cannot start {}: {} ({})", python, std::strerror(err), kMissing));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(fmt::format("report: waiting for {}: {}", python, std::strerror(errno)));
  if (!WIFEXITED(status)) throw std::runtime_error(fmt::format("report: {} was killed by signal {}", script,
                                                               WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  const int code = WEXITSTATUS(status);
  return code == 0 || code == 2 ? code : 1;  // report.py printed its own one-line error
}

}  // namespace

CLI::App* add_report(CLI::App& app, Action& action) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* sub = app.add_subcommand(
      "report", "Turn result files into DIR/report.html (self-contained) and DIR/report.md with plots");
  sub->add_option("files", o->files, "bitlab result documents (JSON); several are shown side by side")->required();
  sub->add_option("-o,--out", o->out, "output directory, created if missing")->required();
  sub->callback([&action, o] { action = [o] { return run_report(*o); }; });
  return sub;
}

}  // namespace bitlab::cli
