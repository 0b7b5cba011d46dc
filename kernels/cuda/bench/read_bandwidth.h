// The measured device memory read bandwidth (GB/s = 1e9 bytes/s): best of
// `repetitions` streaming reads of a `bytes`-sized buffer on the current device.
#pragma once
#include <cstddef>

namespace bitlab::cuda {

double measure_read_gbps(size_t bytes, int repetitions);

}  // namespace bitlab::cuda
