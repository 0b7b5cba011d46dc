// RAPL through Linux powercap: /sys/class/powercap/intel-rapl:<pkg>[:<sub>]/
// with `name`, `energy_uj` (cumulative micro-joules) and `max_energy_range_uj`
// (where energy_uj wraps to 0). The package domains ("package-N") and the DRAM
// domains ("dram", outside the package) are read; "core"/"uncore" are parts of
// the package and "psys" overlaps both, so they are left out of the sum.
//
// energy_uj is root-only on kernels patched for CVE-2020-8694 (5.10 and the
// stable backports, late 2020): the meter says so
// instead of reading zeros. The root folder is injectable for tests and
// containers (BITLAB_POWERCAP_ROOT overrides the default).
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "harness/energy/meter.h"

namespace bitlab {

// BITLAB_POWERCAP_ROOT if set, else /sys/class/powercap.
std::filesystem::path default_powercap_root();

struct RaplDomain {
  std::string name;             // "package-0", "dram-0", ...
  std::filesystem::path zone;   // the intel-rapl:* folder
  uint64_t max_range_uj = 0;
};

// The package and DRAM domains under `root`, each checked readable. Throws
// DeviceError naming the missing or unreadable file and why.
std::vector<RaplDomain> find_rapl_domains(const std::filesystem::path& root);

// Micro-joules between two readings of a counter that wraps to 0 past
// `max_range_uj` (at most one wrap in between; exact to one counter unit).
uint64_t rapl_delta_uj(uint64_t before, uint64_t after, uint64_t max_range_uj);

class RaplMeter : public EnergyMeter {
 public:
  // Throws DeviceError (see find_rapl_domains) when RAPL cannot be read.
  explicit RaplMeter(const std::filesystem::path& root = default_powercap_root());

  std::string source() const override { return "rapl"; }
  // Counters update about every millisecond: 0.2 s reads to well under 1%.
  double min_window_seconds() const override { return 0.2; }
  void start() override;
  void poll() override;
  EnergyReading stop() override;

  const std::vector<RaplDomain>& domains() const { return domains_; }

 private:
  void read_all();  // adds each domain's delta since the last read
  std::vector<RaplDomain> domains_;
  std::vector<uint64_t> last_uj_;
  std::vector<double> sum_uj_;
  std::chrono::steady_clock::time_point start_, last_read_;
};

}  // namespace bitlab
