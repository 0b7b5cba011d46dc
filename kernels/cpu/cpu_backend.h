// The CPU backend: host memory, OpenMP threads, and one kernel table (scalar,
// avx512, neon) chosen when the backend is made. Threads split output rows of
// the matmul and the LM head, (token, head) pairs of attention, and token rows
// of the row-wise ops.
#pragma once
#include <memory>

#include "kernels/cpu/cpu_kernels.h"
#include "model/backend.h"

namespace bitlab::cpu {

std::unique_ptr<Backend> make_cpu_backend(const char* registry_name, const CpuKernels& kernels,
                                          const BackendOptions& opts);

}  // namespace bitlab::cpu
