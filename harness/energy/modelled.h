// The modelled meter: always available, always an estimate. Energy is the
// run's own counts (op_counts.h) times per-operation energies from
//
//   M. Horowitz, "Computing's energy problem (and what we can do about it)",
//   ISSCC 2014, the energy table for a 45 nm process at 0.9 V:
//     8-bit integer multiply 0.2 pJ, 32-bit integer add 0.1 pJ,
//     32-bit float add 0.9 pJ, 32-bit float multiply 3.7 pJ,
//     DRAM read 1.3-2.6 nJ per 64-bit access.
//
// int8 multiply-add (int32 accumulate) = 0.2 + 0.1 = 0.3 pJ; a float operation
// = the mean of an fp32 add and multiply = 2.3 pJ; a DRAM byte = the low end,
// 1.3 nJ / 8 = 162.5 pJ. No instruction fetch/decode, register file, cache or
// static power is counted, and today's nodes are several times more efficient
// than 45 nm: read the figure as the dynamic energy of the arithmetic and DRAM
// traffic on that node, never as a measurement.
#pragma once
#include "harness/energy/meter.h"

namespace bitlab {

struct EnergyCosts {
  double int8_mac_pj;
  double float_op_pj;
  double dram_byte_pj;
  const char* citation;
};

inline constexpr EnergyCosts kHorowitz45nm{0.2 + 0.1, (0.9 + 3.7) / 2, 1300.0 / 8,
                                           "Horowitz ISSCC 2014, 45 nm: int8 MAC 0.3 pJ, fp32 op 2.3 pJ, "
                                           "DRAM 162.5 pJ/byte"};

// Joules per part: "int8_macs", "float_ops", "dram".
EnergyReading model_energy(const OpCounts& n, const EnergyCosts& costs = kHorowitz45nm);

class ModelledMeter : public EnergyMeter {
 public:
  explicit ModelledMeter(EnergyCosts costs = kHorowitz45nm) : costs_(costs) {}
  std::string source() const override { return "modelled"; }
  bool measures_hardware() const override { return false; }
  double min_window_seconds() const override { return 0; }
  void start() override;
  void count(const OpCounts& n) override { counts_ += n; }
  EnergyReading stop() override;

 private:
  EnergyCosts costs_;
  OpCounts counts_;
  double started_ = 0;  // steady clock, seconds
  bool running_ = false;
};

}  // namespace bitlab
