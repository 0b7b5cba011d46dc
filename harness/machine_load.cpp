#include "harness/machine_load.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bitlab {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return s.str();
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    const size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

double self_cpu_seconds() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  const auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

// The mean of the cores' scaling_cur_freq, where cpufreq is exposed.
std::optional<double> sysfs_mhz() {
  std::error_code ec;
  double sum = 0;
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/devices/system/cpu", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 4 || !name.starts_with("cpu") || !std::isdigit(static_cast<unsigned char>(name[3]))) continue;
    const auto text = read_file(entry.path().string() + "/cpufreq/scaling_cur_freq");
    if (!text) continue;
    if (const auto mhz = parse_scaling_khz(*text)) {
      sum += *mhz;
      ++count;
    }
  }
  if (count == 0) return std::nullopt;
  return sum / count;
}

}  // namespace

std::optional<CpuTimes> parse_proc_stat(std::string_view text) {
  for (std::string_view line : lines(text)) {
    const auto w = words(line);
    if (w.empty() || w[0] != "cpu") continue;
    // user nice system idle iowait irq softirq steal: kernels before 2.6.11 stop earlier.
    uint64_t v[8] = {};
    if (w.size() < 5) return std::nullopt;
    for (size_t i = 0; i < 8 && i + 1 < w.size(); ++i) {
      const auto n = number<uint64_t>(w[i + 1]);
      if (!n) return std::nullopt;
      v[i] = *n;
    }
    return CpuTimes{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  }
  return std::nullopt;
}

std::optional<LoadAverage> parse_loadavg(std::string_view text) {
  // "0.52 0.58 0.59 2/345 12345": three averages, runnable/total, last pid.
  const auto w = words(text);
  if (w.size() < 4) return std::nullopt;
  const auto one = number<double>(w[0]);
  const size_t slash = w[3].find('/');
  if (!one || slash == std::string_view::npos) return std::nullopt;
  const auto running = number<int64_t>(w[3].substr(0, slash));
  if (!running || *one < 0) return std::nullopt;
  return LoadAverage{*one, *running};
}

std::optional<double> parse_cpuinfo_mhz(std::string_view text) {
  double sum = 0;
  int count = 0;
  for (std::string_view line : lines(text)) {
    if (!line.starts_with("cpu MHz")) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto w = words(line.substr(colon + 1));
    if (w.size() != 1) continue;
    if (const auto mhz = number<double>(w[0]); mhz && *mhz > 0) {
      sum += *mhz;
      ++count;
    }
  }
  if (count == 0) return std::nullopt;
  return sum / count;
}

std::optional<double> parse_scaling_khz(std::string_view text) {
  const auto w = words(text);
  if (w.size() != 1) return std::nullopt;
  const auto khz = number<uint64_t>(w[0]);
  if (!khz || *khz == 0) return std::nullopt;
  return double(*khz) / 1000.0;
}

LoadSample sample_load() {
  LoadSample s;
  if (const auto text = read_file("/proc/stat")) s.cpu = parse_proc_stat(*text);
  s.self_cpu_seconds = self_cpu_seconds();
  if (const long hz = sysconf(_SC_CLK_TCK); hz > 0) s.ticks_per_second = double(hz);
  return s;
}

MachineLoad load_fractions(const LoadSample& start, const LoadSample& end) {
  MachineLoad m;
  if (!start.cpu || !end.cpu) return m;
  const CpuTimes &a = *start.cpu, &b = *end.cpu;
  if (b.total() <= a.total() || b.busy() < a.busy() || b.steal < a.steal) return m;  // no time passed, or a reset
  const double total = double(b.total() - a.total());
  const double busy = double(b.busy() - a.busy());
  m.busy_fraction = busy / total;
  m.steal_fraction = double(b.steal - a.steal) / total;
  // This process's CPU time in ticks; ticks are coarse, so the difference is clamped at 0.
  const double self = (end.self_cpu_seconds - start.self_cpu_seconds) * end.ticks_per_second;
  m.other_busy_fraction = std::clamp((busy - self) / total, 0.0, 1.0);
  return m;
}

MachineLoad machine_load_between(const LoadSample& start, const LoadSample& end) {
  MachineLoad m = load_fractions(start, end);
  if (const auto text = read_file("/proc/loadavg"))
    if (const auto la = parse_loadavg(*text)) {
      m.load_average_1m = la->one_minute;
      m.procs_running = la->running;
    }
  m.cpu_mhz = sysfs_mhz();
  if (!m.cpu_mhz)
    if (const auto text = read_file("/proc/cpuinfo")) m.cpu_mhz = parse_cpuinfo_mhz(*text);
  return m;
}

void add_machine_load(nlohmann::json& context, const MachineLoad& load) {
  const auto put = [&](const char* name, const auto& v) {
    if (v) context[name] = *v;
  };
  put("load_average_1m", load.load_average_1m);
  put("procs_running", load.procs_running);
  put("busy_fraction", load.busy_fraction);
  put("other_busy_fraction", load.other_busy_fraction);
  put("steal_fraction", load.steal_fraction);
  put("cpu_mhz", load.cpu_mhz);
}

}  // namespace bitlab
