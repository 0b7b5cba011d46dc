// `bitlab report FILES... [--trend TREND.json]... [--screenshot] -o DIR`: DIR/report.html
// (self-contained) and DIR/report.md with its PNGs beside it (and DIR/report.png, the
// page as headless Chromium draws it, with --screenshot); each --trend file
// (`bitlab history trend KEY --format json`) adds a plot to its History section. The work is done by
// harness/report/report.py with matplotlib: plotting in C++ would mean a
// dependency far heavier than Debian's python3-matplotlib. This file checks that
// each FILE is a regular file (a FIFO would block the reader), finds the script
// and an interpreter, forwards an interrupt to it (so that it removes its
// temporaries before `bitlab` returns) and passes its exit code on: 0, 1 (broken
// input, cannot write, interrupted) or 2 (bad usage), as report.py uses bitlab's
// codes and prints its own one-line error. report.py writes every output file
// the way the rest of bitlab does: a unique temporary in the target folder,
// fsync'ed, renamed over the target, the folder fsync'ed.
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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
  std::vector<std::string> trends;
  std::string out;
  bool screenshot = false;
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
  throw std::runtime_error(fmt::format("report: needs python3 with matplotlib and found no python3: {}", kMissing));
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

// Usage errors are ours to report, before any interpreter is looked for. stat(),
// not open(): opening a FIFO for reading waits for a writer.
void check_input(const std::string& file, const char* what) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    throw UsageError(fmt::format("report: cannot read {}: {}", file, std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) throw UsageError(fmt::format("report: {} is a directory, not {}", file, what));
  if (!S_ISREG(st.st_mode))
    throw UsageError(
        fmt::format("report: {} is {}, not {}", file, S_ISFIFO(st.st_mode) ? "a FIFO" : "not a regular file", what));
  if (::access(file.c_str(), R_OK) != 0)
    throw UsageError(fmt::format("report: cannot read {}: {}", file, std::strerror(errno)));
}

// While report.py runs, SIGINT, SIGTERM and SIGHUP sent to `bitlab` go on to it:
// `bitlab` returns only once report.py has removed its temporaries and said so.
std::atomic<pid_t> g_child{0};
volatile std::sig_atomic_t g_pending = 0;  // a signal that came before the child's pid was known
static_assert(std::atomic<pid_t>::is_always_lock_free, "read in a signal handler");

extern "C" void forward_signal(int sig) {
  const pid_t child = g_child.load();
  if (child > 0)
    ::kill(child, sig);
  else if (child == 0)
    g_pending = sig;
  // child < 0: report.py has ended and its outcome stands; the signal is dropped.
}

class ForwardSignals {
 public:
  ForwardSignals() {
    struct sigaction sa {};
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~ForwardSignals() {
    for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
    g_child = 0;
    g_pending = 0;
  }
  ForwardSignals(const ForwardSignals&) = delete;
  ForwardSignals& operator=(const ForwardSignals&) = delete;
  void started(pid_t child) {
    g_child = child;
    if (g_pending) ::kill(child, g_pending);
  }
  void finished() { g_child = -1; }

 private:
  static constexpr std::array<int, 3> kSignals{SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> old_{};
};

int run_report(const ReportOptions& o) {
  if (o.out.empty()) throw UsageError("report: --out is empty: name the folder to write the report to");
  if (o.files.empty() && o.trends.empty()) throw UsageError("report: name at least one result file or --trend file");
  for (const std::string& f : o.files) check_input(f, "a result file");
  for (const std::string& f : o.trends) check_input(f, "a history trend file");
  const std::string python = find_python();
  const std::string script = find_script().string();

  std::vector<std::string> args{python, "-B", script, "-o", o.out};  // -B: no __pycache__ in the tree
  for (const std::string& t : o.trends) args.insert(args.end(), {"--trend", t});
  if (o.screenshot) args.emplace_back("--screenshot");
  args.push_back("--");
  args.insert(args.end(), o.files.begin(), o.files.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // report.py starts with the forwarded signals blocked and unblocks them once its
  // handlers are in place: an interrupt that comes early waits for them instead of
  // killing it (a second line from here) or raising KeyboardInterrupt (a traceback).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t held;
  sigemptyset(&held);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&held, sig);
  posix_spawnattr_setsigmask(&attr, &held);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  ForwardSignals forward;
  pid_t pid = 0;
  const int err = posix_spawn(&pid, python.c_str(), nullptr, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (err) throw std::runtime_error(fmt::format("report: cannot start {}: {} ({})", python, std::strerror(err), kMissing));
  forward.started(pid);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(fmt::format("report: waiting for {}: {}", python, std::strerror(errno)));
  forward.finished();  // reaped: its pid may be reused, so nothing more is sent to it
  // Only a signal report.py cannot hold back (SIGKILL) ends it without its own line.
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
  sub->add_option("files", o->files, "bitlab result documents (JSON); several are shown side by side");
  sub->add_option("--trend", o->trends,
                  "`bitlab history trend KEY --format json` output (repeatable): a plot and its change points "
                  "in the History section")
      ->allow_extra_args(false);
  sub->add_option("-o,--out", o->out, "output directory, created if missing")->required();
  sub->add_flag("--screenshot", o->screenshot,
                "also save DIR/report.png: the page drawn by headless Chromium (Debian package chromium), 1280 px wide");
  sub->callback([&action, o] { action = [o] { return run_report(*o); }; });
  return sub;
}

}  // namespace bitlab::cli
