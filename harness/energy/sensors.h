// Which energy sensors this machine offers, and why the others are not usable:
// for `bitlab info` and the result context's "energy_sensors" list.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace bitlab {

struct SensorStatus {
  std::string name;  // "rapl", "nvml", "modelled"
  bool available = false;
  std::string reason;  // what it measures, or why it cannot
};

SensorStatus probe_rapl(const std::filesystem::path& root);
SensorStatus probe_nvml(const std::string& library);
SensorStatus probe_modelled();

// rapl, nvml and modelled at their default places (BITLAB_POWERCAP_ROOT, BITLAB_NVML_LIBRARY).
std::vector<SensorStatus> energy_sensors();

}  // namespace bitlab
