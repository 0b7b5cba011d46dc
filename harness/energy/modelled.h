// The modelled meter: always available, always an estimate. Energy is the
// run's own counts (op_counts.h) times per-operation energies, plus static
// power times the window's duration (what simply being on for that long costs:
// without it a backend 25 times slower would be modelled as costing the same).
//
// Dynamic part, textbook constants:
//   M. Horowitz, "Computing's energy problem (and what we can do about it)",
//   ISSCC 2014, the energy table for a 45 nm process at 0.9 V:
//     8-bit integer multiply 0.2 pJ, 32-bit integer add 0.1 pJ,
//     32-bit float add 0.9 pJ, 32-bit float multiply 3.7 pJ,
//     DRAM read 1.3-2.6 nJ per 64-bit access.
// int8 multiply-add (int32 accumulate) = 0.2 + 0.1 = 0.3 pJ; a float operation
// = the mean of an fp32 add and multiply = 2.3 pJ; a DRAM byte = the low end,
// 1.3 nJ / 8 = 162.5 pJ. No instruction fetch/decode, register file or cache
// is counted, and today's nodes are several times more efficient than 45 nm.
//
// Static part, stated constants (no textbook gives one figure for "a CPU"):
// 10 W per CPU socket and 30 W per GPU. Both are chosen low: desktop CPU
// packages idle at about 5-15 W and server sockets at 30-100 W; data-centre
// GPUs idle at 30-70 W. A low constant understates what a slow run costs, so
// the penalty of being slow that the model shows is a floor, never inflated.
//
// A calibration (`bitlab energy --calibrate`, calibration.h) replaces all of
// this with constants fitted on this CPU or GPU model (profile.h); the figure's
// label says which constants made it.
#pragma once
#include <string>

#include "harness/energy/meter.h"

namespace bitlab {

struct EnergyCosts {
  double int8_mac_pj;
  double float_op_pj;
  double dram_byte_pj;
  std::string citation;
};

inline const EnergyCosts kHorowitz45nm{0.2 + 0.1, (0.9 + 3.7) / 2, 1300.0 / 8,
                                       "Horowitz ISSCC 2014, 45 nm: int8 MAC 0.3 pJ, fp32 op 2.3 pJ, "
                                       "DRAM 162.5 pJ/byte"};

// Stated static power (see above), per CPU socket and per GPU.
inline constexpr double kStatedCpuSocketWatts = 10.0;
inline constexpr double kStatedGpuWatts = 30.0;

// Everything the modelled meter multiplies by, and what the figure says it is.
struct ModelConstants {
  EnergyCosts costs;
  double static_watts = 0;  // the whole device (all sockets, or one GPU)
  std::string label;        // "modelled (textbook constants: ...)" or "modelled (calibrated on ...)"
};

// CPU sockets on this machine (distinct physical_package_id in sysfs; 1 when unreadable).
int cpu_sockets();
// The textbook dynamic constants and the stated static watts of a device kind
// ("cpu": sockets x kStatedCpuSocketWatts, "gpu": kStatedGpuWatts).
ModelConstants textbook_constants(const std::string& kind, int sockets = cpu_sockets());

// The dynamic part alone. Joules per part: "int8_macs", "float_ops", "dram".
EnergyReading model_energy(const OpCounts& n, const EnergyCosts& costs = kHorowitz45nm);

class ModelledMeter : public EnergyMeter {
 public:
  explicit ModelledMeter(ModelConstants c = textbook_constants("cpu")) : c_(std::move(c)) {}
  std::string source() const override { return "modelled"; }
  bool measures_hardware() const override { return false; }
  double min_window_seconds() const override { return 0; }
  void start() override;
  void count(const OpCounts& n) override { counts_ += n; }
  // The dynamic parts plus "static": static_watts x the window's wall time.
  EnergyReading stop() override;
  const ModelConstants& constants() const { return c_; }

 private:
  ModelConstants c_;
  OpCounts counts_;
  double started_ = 0;  // steady clock, seconds
  bool running_ = false;
};

}  // namespace bitlab
