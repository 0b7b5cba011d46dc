// An energy meter: start, run the work, stop -> joules per domain and where
// they came from. Three kinds (docs/design.md §6):
//   rapl      Linux powercap counters: CPU package and DRAM (rapl.h)
//   nvml      the NVIDIA GPU's total-energy counter, or integrated power samples (nvml.h)
//   modelled  operation and byte counts x per-operation energies: an estimate (modelled.h)
// Never a utilisation-times-TDP guess.
#pragma once
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "harness/energy/op_counts.h"

namespace bitlab {

// Seconds on the steady clock: the meters' window edges.
inline double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct EnergyReading {
  std::string source;                    // "rapl", "nvml", "modelled"
  std::string method;                    // how: "energy counters", "power samples", ...
  double seconds = 0;                    // the window, wall clock
  std::map<std::string, double> joules;  // per domain: "package-0", "dram-0", "gpu-0", ...
  // Modelled readings: what made the figure, shown verbatim by the report
  // ("modelled (textbook constants: ...)"), and the static power in it (its
  // "static" domain is static_watts x seconds). Measured readings leave both empty.
  std::string label;
  std::optional<double> static_watts;

  double total_joules() const {
    double sum = 0;
    for (const auto& [domain, j] : joules) sum += j;
    return sum;
  }
};

class EnergyMeter {
 public:
  virtual ~EnergyMeter() = default;
  virtual std::string source() const = 0;
  // False for the model: it cannot see idle power, so no baseline is taken.
  virtual bool measures_hardware() const { return true; }
  // Shortest window this meter reads well: long against its counter's update
  // period (RAPL ~1 ms, NVML ~100 ms), so the ends' rounding stays small.
  virtual double min_window_seconds() const = 0;

  virtual void start() = 0;
  // The work done inside the window, as the model counts it; sensors ignore it.
  virtual void count(const OpCounts&) {}
  // Cheap to call often (reads at most about once a second): lets a counter
  // that wraps be followed through any number of wraps in a long window.
  virtual void poll() {}
  virtual EnergyReading stop() = 0;
};

}  // namespace bitlab
