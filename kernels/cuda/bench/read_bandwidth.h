// The measured device memory read bandwidth (GB/s = 1e9 bytes/s): best of
// `repetitions` streaming reads of a `bytes`-sized buffer on the current device.
#pragma once
#include <cstddef>

namespace bitlab::cuda {

double measure_read_gbps(size_t bytes, int repetitions);

// Empties L2 of what a timed kernel could find there by reading `bytes` (at
// least twice the L2) of `buf` through it, and waits. Reading leaves clean
// lines behind; a flush by writing (cudaMemset) would leave dirty ones that
// the next timed kernel pays to write back.
void flush_l2_by_reading(const void* buf, size_t bytes);

}  // namespace bitlab::cuda
