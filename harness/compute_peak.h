// The machine's int8 multiply-add peak: measured once at the start of a
// `bitlab bench` run (and by `bitlab info`); the compute ceiling that prefill
// and the many-token matmuls are held against, as the memory bandwidth is the
// ceiling of decode and the one-token matmuls.
#pragma once
#include <string>

namespace bitlab {

struct ComputePeak {
  double macs_per_s = 0;  // int8 multiply-adds per second, best repetition; 0: no path measured
  // The instruction path measured, the widest int8 dot product the CPU has:
  // "avx512-vnni" (vpdpbusd zmm), "avx-vnni" (vpdpbusd ymm), "avx2"
  // (vpmaddubsw + vpmaddwd), "neon-dotprod" (sdot). Empty: none of them here.
  std::string isa;
  int threads = 1;
};

// The int8 dot-product path this CPU would be probed on ("" when none).
std::string int8_peak_isa();

// Runs independent multiply-add chains on `threads` OpenMP threads for about
// `seconds` per repetition, `repetitions` times, and keeps the fastest.
ComputePeak measure_int8_peak(int threads, double seconds = 0.2, int repetitions = 3);

}  // namespace bitlab
