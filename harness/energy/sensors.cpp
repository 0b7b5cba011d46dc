#include "harness/energy/sensors.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "harness/energy/modelled.h"
#include "harness/energy/nvml.h"
#include "harness/energy/rapl.h"

namespace bitlab {

SensorStatus probe_rapl(const std::filesystem::path& root) {
  try {
    std::vector<std::string> names;
    bool dram = false;
    for (const RaplDomain& d : find_rapl_domains(root)) {
      names.push_back(d.name);
      dram = dram || d.name.rfind("dram", 0) == 0;
    }
    return {"rapl", true,
            fmt::format("{} energy counters readable{}", fmt::join(names, ", "), dram ? "" : " (no DRAM domain)")};
  } catch (const std::exception& e) {
    return {"rapl", false, e.what()};
  }
}

SensorStatus probe_nvml(const std::string& library) {
  try {
    const NvmlLibrary lib(library);
    const unsigned n = lib.device_count();
    if (n == 0) return {"nvml", false, "NVML loaded but reports no GPU"};
    std::vector<std::string> gpus;
    for (unsigned i = 0; i < n; ++i)
      gpus.push_back(fmt::format("GPU {} {}: {}", i, lib.device_name(i),
                                 lib.total_energy_mj(i) ? "total-energy counter"
                                                        : "power samples (no energy counter)"));
    return {"nvml", true, fmt::format("{}", fmt::join(gpus, "; "))};
  } catch (const std::exception& e) {
    return {"nvml", false, e.what()};
  }
}

SensorStatus probe_modelled() {
  return {"modelled", true,
          std::string("estimate, not a measurement: operation and byte counts x per-operation energy (") +
              kHorowitz45nm.citation + ")"};
}

std::vector<SensorStatus> energy_sensors() {
  return {probe_rapl(default_powercap_root()), probe_nvml(default_nvml_library()), probe_modelled()};
}

}  // namespace bitlab
