// Calibrating the modelled meter against a hardware meter (`bitlab energy
// --calibrate`): kernels of different arithmetic intensity (a bandwidth-bound
// GEMV over a matrix larger than the caches, a compute-bound GEMM that stays
// in them, the GEMV at half duty, and idle) each run for windows of at least
// window_s, several repetitions of the whole set. Idle power is measured in
// the idle windows and subtracted; what is left is fitted by least squares to
//
//   net joules = active W x seconds + int8 MACs x pJ/MAC + DRAM bytes x pJ/byte
//
// per group of domains: with RAPL's DRAM domain, DRAM energy against seconds
// and bytes alone and the package against all three; else the whole meter
// against all three. The model's static power is idle W + active W (what being
// on and busy for the window costs, whatever the counts). The fit over every
// window gives the constants, its R² and residuals; the same fit on each
// repetition alone gives the spread, a 95 % Student-t interval.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/energy/meter.h"
#include "harness/energy/profile.h"

namespace bitlab {

// Ordinary least squares y ≈ X b (rows of X: observations). Columns are scaled
// to unit size before solving the normal equations, so seconds (~1) and MACs
// (~1e10) sit in one system. Throws DeviceError when the columns do not
// separate (the kernels did not vary what they count).
struct LinearFit {
  std::vector<double> coef;
  std::vector<double> std_error;  // NaN with no degree of freedom left
  std::vector<double> residuals;  // y - X b, per observation
  double r2 = 0;                  // 1 - SS_res / SS_tot (about y's mean)
};
LinearFit least_squares(const std::vector<std::vector<double>>& x, const std::vector<double>& y);

// Two-sided 95 % Student-t quantile for `dof` degrees of freedom (>= 1).
double student_t95(int dof);

struct CalibrationKernel {
  std::string name;
  // One unit of work, run to completion, and what it did; empty: idle (the window sleeps).
  std::function<OpCounts()> run;
};

struct CalibrationOptions {
  double window_s = 1.0;  // each window at least this long (NVML: at least its own 2 s)
  int repetitions = 5;    // of the whole set of kernels: the interval's sample size
};

struct CalibrationWindow {
  std::string kernel;
  int repetition = 0;
  double seconds = 0;
  OpCounts counts;
  std::map<std::string, double> joules;  // per domain, gross
};

// Every kernel in a window of its own on `meter`, `o.repetitions` times over.
std::vector<CalibrationWindow> measure_calibration_windows(
    EnergyMeter& meter, const std::vector<CalibrationKernel>& kernels, const CalibrationOptions& o,
    const std::function<void(double, const std::string&)>& progress = {});

struct Interval {
  double estimate = 0, low = 0, high = 0;
};

struct CalibrationResult {
  double idle_watts = 0, active_watts = 0, int8_mac_pj = 0, dram_byte_pj = 0;
  double static_watts() const { return idle_watts + active_watts; }
  // Over repetitions (the mean of the per-repetition fits, ± t x sd / √n):
  // "idle_watts", "active_watts", "static_watts", "int8_mac_pj", "dram_byte_pj".
  std::map<std::string, Interval> intervals;
  double worst_r2 = 0;    // the lowest R² among the groups' fits
  nlohmann::json report;  // per group: domains, coefficients, R², residuals; the intervals
};

// Throws DeviceError when there are no idle windows, fewer than two
// repetitions, or the kernels do not separate the constants.
CalibrationResult fit_calibration(const std::vector<CalibrationWindow>& windows);

// The profile to write. Throws DeviceError when a fitted constant is negative
// (too much noise for the windows: longer ones or more repetitions help).
EnergyProfile calibration_profile(const CalibrationResult& r, const std::string& kind, const std::string& model,
                                  const std::string& meter, const std::string& date);

}  // namespace bitlab
