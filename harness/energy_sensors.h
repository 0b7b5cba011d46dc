// Which energy sensors this machine offers, and why the others are not usable.
// (Reading them is the energy meters' job; this only looks.)
#pragma once
#include <string>
#include <vector>

namespace bitlab {

struct SensorStatus {
  std::string name;  // "rapl", "nvml", "modelled"
  bool available = false;
  std::string reason;
};

std::vector<SensorStatus> energy_sensors();

}  // namespace bitlab
