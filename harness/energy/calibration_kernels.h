// The kernels `bitlab energy --calibrate` measures (calibration.h), on one
// backend: they must differ in arithmetic intensity, so that the fit can tell
// the energy of a byte from DRAM from that of an int8 multiply-add.
//   gemv       one token through a ternary matrix, its copies rotated past the
//              caches: bandwidth-bound, 4 MACs per DRAM byte
//   gemm       128 tokens through a matrix that stays in the caches:
//              compute-bound, DRAM bytes counted as none
//   gemv-half  the GEMV, then as long again asleep: the same counts per call
//              spread over twice the time (separates static power from bytes)
//   idle       nothing: the baseline subtracted from the others
#pragma once
#include <vector>

#include "harness/energy/calibration.h"
#include "model/backend.h"

namespace bitlab {

// Builds the matrices on `be` (which must outlive the kernels).
std::vector<CalibrationKernel> calibration_kernels(Backend& be);

}  // namespace bitlab
