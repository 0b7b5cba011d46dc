#include "harness/energy/modelled.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {
int cpu_sockets() {
  namespace fs = std::filesystem;
  std::set<std::string> packages;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/devices/system/cpu", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("cpu", 0) != 0 || name.size() == 3 || name.find_first_not_of("0123456789", 3) != std::string::npos)
      continue;
    std::ifstream in(e.path() / "topology" / "physical_package_id");
    std::string id;
    if (in >> id) packages.insert(id);
  }
  return packages.empty() ? 1 : int(packages.size());
}

ModelConstants textbook_constants(const std::string& kind, int sockets) {
  ModelConstants c;
  c.costs = kHorowitz45nm;
  if (kind == "gpu") {
    c.static_watts = kStatedGpuWatts;
    c.label =
        fmt::format("modelled (textbook constants: Horowitz 45 nm, static {:g} W per GPU stated)", kStatedGpuWatts);
  } else {
    c.static_watts = kStatedCpuSocketWatts * sockets;
    c.label = fmt::format("modelled (textbook constants: Horowitz 45 nm, static {:g} W per CPU socket x {} stated)",
                          kStatedCpuSocketWatts, sockets);
  }
  return c;
}

EnergyReading model_energy(const OpCounts& n, const EnergyCosts& costs) {
  EnergyReading r;
  r.source = "modelled";
  r.method = std::string("estimate: op and byte counts x ") + costs.citation;
  r.joules["int8_macs"] = n.int8_macs * costs.int8_mac_pj * 1e-12;
  r.joules["float_ops"] = n.float_ops * costs.float_op_pj * 1e-12;
  r.joules["dram"] = n.dram_bytes * costs.dram_byte_pj * 1e-12;
  return r;
}

void ModelledMeter::start() {
  counts_ = {};
  started_ = steady_seconds();
  running_ = true;
}

EnergyReading ModelledMeter::stop() {
  if (!running_) throw UsageError("ModelledMeter::stop without start");
  running_ = false;
  EnergyReading r = model_energy(counts_, c_.costs);
  r.seconds = steady_seconds() - started_;  // the work's wall time: what static power is paid over
  r.joules["static"] = c_.static_watts * r.seconds;
  r.method += fmt::format(" + static {:.4g} W x the window's wall time", c_.static_watts);
  r.label = c_.label;
  r.static_watts = c_.static_watts;
  return r;
}

}  // namespace bitlab
