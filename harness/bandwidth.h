// The machine's memory read bandwidth: measured at the start of a run, and
// again around each case when `bitlab bench` probes; the roofline every kernel
// and decode step is held against.
#pragma once
#include <cstddef>

namespace bitlab {

struct BandwidthProbe {
  double read_gbps = 0;  // best of the repetitions, 1e9 bytes/s
  size_t bytes = 0;      // buffer size read per repetition
  int threads = 1;
};

// Streams a buffer well beyond the last-level cache with `threads` OpenMP
// threads, `repetitions` times, and keeps the fastest pass.
BandwidthProbe measure_read_bandwidth(int threads, size_t bytes = size_t(512) << 20, int repetitions = 10);

}  // namespace bitlab
