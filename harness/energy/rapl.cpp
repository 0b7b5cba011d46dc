#include "harness/energy/rapl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {
namespace fs = std::filesystem;
namespace {

// The first line of a sysfs file; throws DeviceError saying why it cannot be read.
std::string read_line(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  int err = fd < 0 ? errno : 0;
  char buf[128];
  ssize_t n = -1;
  if (fd >= 0) {
    n = ::read(fd, buf, sizeof buf - 1);
    if (n < 0) err = errno;
    ::close(fd);
  }
  if (err == EACCES || err == EPERM)
    throw DeviceError(fmt::format("{} is not readable: RAPL energy counters are root-only on kernels "
                                  "patched for CVE-2020-8694 (Linux 5.10 and stable backports); run as root or "
                                  "make energy_uj readable (chmod o+r)",
                                  p.string()));
  if (err == ENOENT) throw DeviceError(fmt::format("{} is missing", p.string()));
  if (err != 0) throw DeviceError(fmt::format("cannot read {}: {}", p.string(), std::strerror(err)));
  if (n == 0) throw DeviceError(fmt::format("{} is empty", p.string()));
  std::string line(buf, size_t(n));
  if (const auto nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
  return line;
}

// "intel-rapl:<pkg>" or "intel-rapl:<pkg>:<sub>" -> (pkg, sub or -1); nullopt for any other name
// (intel-rapl-mmio:*, the control-type folder "intel-rapl", other powercap drivers).
std::optional<std::pair<long, long>> parse_zone(const std::string& name) {
  const std::string prefix = "intel-rapl:";
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  auto number = [](const std::string& s, size_t& at) -> std::optional<long> {
    const size_t begin = at;
    long v = 0;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9' && at - begin < 9) v = v * 10 + (s[at++] - '0');
    return at > begin ? std::optional(v) : std::nullopt;
  };
  size_t at = prefix.size();
  const auto pkg = number(name, at);
  if (!pkg) return std::nullopt;
  if (at == name.size()) return std::pair{*pkg, -1L};
  if (name[at++] != ':') return std::nullopt;
  const auto sub = number(name, at);
  if (!sub || at != name.size()) return std::nullopt;
  return std::pair{*pkg, *sub};
}

uint64_t read_u64(const fs::path& p) {
  const std::string s = read_line(p);
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || s[0] < '0' || s[0] > '9' || errno != 0 || *end != '\0')
    throw DeviceError(fmt::format("{} holds '{}', not a counter", p.string(), s));
  return uint64_t(v);
}

}  // namespace

fs::path default_powercap_root() {
  const char* env = std::getenv("BITLAB_POWERCAP_ROOT");
  return env && *env ? fs::path(env) : fs::path("/sys/class/powercap");
}

std::vector<RaplDomain> find_rapl_domains(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw DeviceError(fmt::format("no {} (no powercap RAPL exposed: a VM, a container or a non-x86 CPU)",
                                  root.string()));
  // Zones appear both at the top (sysfs class links) and nested in their
  // package's folder; key by zone id so each is read once.
  std::map<std::string, fs::path> zones;
  auto scan = [&](const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (parse_zone(e.path().filename().string())) zones.emplace(e.path().filename().string(), e.path());
  };
  scan(root);
  for (const auto& [id, path] : std::map<std::string, fs::path>(zones)) scan(path);
  if (zones.empty())
    throw DeviceError(fmt::format("no intel-rapl:* zones under {} (RAPL not exposed here, e.g. in a VM)",
                                  root.string()));

  std::vector<RaplDomain> out;
  for (const auto& [id, path] : zones) {
    const auto [pkg, sub] = *parse_zone(id);
    const std::string kind = read_line(path / "name");
    RaplDomain d;
    if (kind.rfind("package", 0) == 0 && sub < 0)
      d.name = kind;
    else if (kind == "dram")
      d.name = fmt::format("dram-{}", pkg);
    else
      continue;  // core, uncore (inside the package), psys (overlaps everything)
    d.zone = path;
    read_u64(path / "energy_uj");  // readable now, or say why not
    d.max_range_uj = read_u64(path / "max_energy_range_uj");
    if (d.max_range_uj == 0) throw DeviceError(fmt::format("{}/max_energy_range_uj is 0", path.string()));
    out.push_back(d);
  }
  if (out.empty())
    throw DeviceError(fmt::format("no package or dram zone among the intel-rapl zones under {}", root.string()));
  return out;
}

uint64_t rapl_delta_uj(uint64_t before, uint64_t after, uint64_t max_range_uj) {
  if (after >= before) return after - before;
  return (max_range_uj - before) + after;  // wrapped once past max_range_uj to 0
}

RaplMeter::RaplMeter(const fs::path& root) : domains_(find_rapl_domains(root)) {}

void RaplMeter::start() {
  last_uj_.clear();
  for (const RaplDomain& d : domains_) last_uj_.push_back(read_u64(d.zone / "energy_uj"));
  sum_uj_.assign(domains_.size(), 0.0);
  start_ = last_read_ = std::chrono::steady_clock::now();
}

void RaplMeter::read_all() {
  for (size_t i = 0; i < domains_.size(); ++i) {
    const uint64_t now = read_u64(domains_[i].zone / "energy_uj");
    sum_uj_[i] += double(rapl_delta_uj(last_uj_[i], now, domains_[i].max_range_uj));
    last_uj_[i] = now;
  }
  last_read_ = std::chrono::steady_clock::now();
}

void RaplMeter::poll() {
  // A package at 400 W wraps a 2^32 x 61 µJ counter in about 11 minutes: once a second is plenty.
  if (std::chrono::steady_clock::now() - last_read_ >= std::chrono::seconds(1)) read_all();
}

EnergyReading RaplMeter::stop() {
  if (last_uj_.size() != domains_.size()) throw UsageError("RaplMeter::stop without start");
  read_all();
  EnergyReading r;
  r.source = "rapl";
  r.method = "powercap energy counters";
  r.seconds = std::chrono::duration<double>(last_read_ - start_).count();
  for (size_t i = 0; i < domains_.size(); ++i) r.joules[domains_[i].name] = sum_uj_[i] * 1e-6;
  last_uj_.clear();
  return r;
}

}  // namespace bitlab
