#include "harness/energy/modelled.h"

#include <chrono>

#include "model/error.h"

namespace bitlab {
namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

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
  started_ = now_seconds();
  running_ = true;
}

EnergyReading ModelledMeter::stop() {
  if (!running_) throw UsageError("ModelledMeter::stop without start");
  running_ = false;
  EnergyReading r = model_energy(counts_, costs_);
  r.seconds = now_seconds() - started_;  // the work's wall time: average_watts of the modelled energy
  return r;
}

}  // namespace bitlab
