#include "harness/energy_sensors.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>

namespace bitlab {

std::vector<SensorStatus> energy_sensors() {
  std::vector<SensorStatus> out;
  const std::filesystem::path rapl = "/sys/class/powercap/intel-rapl:0/energy_uj";
  std::error_code ec;
  if (!std::filesystem::exists(rapl, ec))
    out.push_back({"rapl", false, "no /sys/class/powercap/intel-rapl:0 (no RAPL exposed, e.g. in a VM)"});
  else if (access(rapl.c_str(), R_OK) != 0)
    out.push_back({"rapl", false, "powercap energy_uj is not readable (root only on this kernel)"});
  else
    out.push_back({"rapl", true, "package energy counter readable"});
  if (void* h = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL)) {
    dlclose(h);
    out.push_back({"nvml", true, "libnvidia-ml.so.1 loads"});
  } else {
    out.push_back({"nvml", false, "libnvidia-ml.so.1 not found (no NVIDIA driver)"});
  }
  return out;
}

}  // namespace bitlab
