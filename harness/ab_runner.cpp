#include "harness/ab_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab::cli {
namespace {

namespace fs = std::filesystem;

// The program as execv needs it: a path with a slash as given, else looked up
// in PATH as a shell would. Refused when missing or not an executable file.
std::string resolve_binary(const std::string& bin, const char* which) {
  auto usable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (bin.empty()) throw UsageError(fmt::format("compare --ab: the {} binary is an empty path", which));
  if (bin.find('/') != std::string::npos) {
    if (usable(bin)) return bin;
    struct stat st {};
    if (::stat(bin.c_str(), &st) != 0)
      throw UsageError(fmt::format("compare --ab: {} binary {}: {}", which, bin, std::strerror(errno)));
    throw UsageError(fmt::format("compare --ab: {} binary {} is not an executable file", which, bin));
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    std::string candidate = dir;
    candidate.append("/").append(bin);
    if (usable(candidate)) return candidate;
  }
  throw UsageError(fmt::format("compare --ab: {} binary {}: not found in PATH", which, bin));
}

// The last non-empty line of a file; progress lines end in '\r' as well as '\n'.
std::string last_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t end = text.find_last_not_of("\r\n \t");
  if (end == std::string::npos) return "(no output on stderr)";
  const size_t start = text.find_last_of("\r\n", end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end + 1 - (start == std::string::npos ? 0 : start + 1));
}

// Runs `bin bench ARGS --out OUT`, stdout and stderr to files beside OUT.
// Returns the exit status (128 + signal when killed).
int run_bench(const std::string& bin, const std::vector<std::string>& args, const std::string& out,
              const std::string& log_stem) {
  std::vector<std::string> argv_s = {bin, "bench"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  argv_s.push_back("--out");
  argv_s.push_back(out);
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  const std::string out_log = log_stem + ".stdout", err_log = log_stem + ".stderr";
  const pid_t pid = ::fork();
  if (pid < 0) throw DeviceError(fmt::format("compare --ab: cannot start {}: {}", bin, std::strerror(errno)));
  if (pid == 0) {
    const int o = ::open(out_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::execv(bin.c_str(), argv.data());
    const std::string msg = fmt::format("cannot execute {}: {}\n", bin, std::strerror(errno));
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw DeviceError(fmt::format("compare --ab: waiting for {}: {}", bin, std::strerror(errno)));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Removes the temporary folder when it goes out of scope (also on an error).
struct TempDir {
  std::string path;
  ~TempDir() {
    if (path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

bool base_runs_first(int round) { return round % 4 == 0 || round % 4 == 3; }

AbResults run_ab(const AbOptions& o, const std::function<void(const std::string&)>& progress) {
  const std::string base_bin = resolve_binary(o.base_bin, "BASE"), new_bin = resolve_binary(o.new_bin, "NEW");
  for (const std::string& a : o.bench_args)
    if (a == "--out" || a.starts_with("--out="))
      throw UsageError("compare --ab: --out among the bench options: each run writes its own result file");
  if (o.rounds < 1) throw UsageError(fmt::format("compare --ab: --rounds {}: at least 1", o.rounds));

  TempDir temp;
  std::string dir = o.work_dir;
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = fmt::format("{}/bitlab-ab-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!::mkdtemp(templ.data()))
      throw DeviceError(
          fmt::format("compare --ab: cannot make a temporary folder {}: {}", templ, std::strerror(errno)));
    dir = temp.path = templ;
  } else {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw UsageError(fmt::format("compare --ab: --work-dir {}: {}", dir, ec.message()));
  }

  AbResults res;
  for (int r = 0; r < o.rounds; ++r) {
    const bool base_first = base_runs_first(r);
    std::string timings;
    for (int i = 0; i < 2; ++i) {
      const bool is_base = (i == 0) == base_first;
      const std::string& bin = is_base ? base_bin : new_bin;
      const char* which = is_base ? "BASE" : "NEW";
      const std::string stem = fmt::format("{}/round{}-{}", dir, r + 1, is_base ? "base" : "new");
      const auto start = std::chrono::steady_clock::now();
      const int code = run_bench(bin, o.bench_args, stem + ".json", stem);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (code != 0)
        throw UsageError(fmt::format("compare --ab: {} ({}) failed in round {} of {} (exit {}): {}", which, bin, r + 1,
                                     o.rounds, code, last_line(stem + ".stderr")));
      (is_base ? res.base : res.current).push_back(read_result_file(stem + ".json"));
      timings += fmt::format("{}{} {:.1f} s", i ? ", " : "", is_base ? "base" : "new", secs);
    }
    progress(fmt::format("compare --ab: round {}/{} ({}): {}", r + 1, o.rounds, base_first ? "AB" : "BA", timings));
  }
  return res;
}

}  // namespace bitlab::cli
