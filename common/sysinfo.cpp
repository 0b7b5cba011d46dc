#include "common/sysinfo.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

namespace bitlab {
namespace {
// The value of the first /proc/cpuinfo line whose key is one of `keys`.
std::string cpuinfo_field(std::initializer_list<const char*> keys) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    for (const char* k : keys)
      if (key == k) {
        std::string v = line.substr(colon + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
      }
  }
  return {};
}
}  // namespace

std::string cpu_model_name() {
  std::string m = cpuinfo_field({"model name", "Model", "Hardware"});
  if (m.empty()) m = cpuinfo_field({"CPU implementer"}).empty() ? "unknown CPU" : "Arm CPU";
  return m;
}

std::vector<std::string> cpu_flags() {
  std::istringstream in(cpuinfo_field({"flags", "Features"}));
  std::vector<std::string> flags;
  for (std::string f; in >> f;) flags.push_back(f);
  std::sort(flags.begin(), flags.end());
  return flags;
}

int logical_cores() { return int(std::max(1u, std::thread::hardware_concurrency())); }

size_t total_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? size_t(pages) * size_t(page) : 0;
}

std::string os_description() {
  utsname u{};
  if (uname(&u) != 0) return "unknown";
  std::string pretty;
  std::ifstream in("/etc/os-release");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      pretty = line.substr(12);
      pretty.erase(std::remove(pretty.begin(), pretty.end(), '"'), pretty.end());
    }
  return (pretty.empty() ? std::string(u.sysname) : pretty) + ", kernel " + u.release + " " + u.machine;
}

size_t last_level_cache_bytes() {
  size_t best = 0;
  for (int idx = 0; idx < 8; ++idx) {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/size");
    std::string s;
    if (!(in >> s) || s.empty()) continue;
    size_t v = std::stoul(s);
    if (s.back() == 'K') v <<= 10;
    if (s.back() == 'M') v <<= 20;
    best = std::max(best, v);
  }
  return best ? best : size_t(32) << 20;
}

size_t cold_copies(size_t copy_bytes, size_t cold_bytes, size_t max_copies) {
  return std::clamp<size_t>(cold_bytes / std::max<size_t>(copy_bytes, 1) + 1, 1, std::max<size_t>(max_copies, 1));
}

}  // namespace bitlab
