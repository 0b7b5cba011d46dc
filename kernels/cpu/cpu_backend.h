// The CPU backend: host memory, OpenMP threads, and one kernel table built
// from the backend's variant list (cpu_variants.h) when the backend is made. Threads split output rows of
// the matmul and the LM head, (token, head) pairs of attention, and token rows
// of the row-wise ops.
#pragma once
#include <memory>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/cpu_variants.h"
#include "model/backend.h"

namespace bitlab::cpu {

// DeviceInfo::kernels of the backend is table.chosen.
std::unique_ptr<Backend> make_cpu_backend(const char* registry_name, const CpuTable& table,
                                          const BackendOptions& opts);
// A hand-made table (tests): DeviceInfo::kernels stays empty.
std::unique_ptr<Backend> make_cpu_backend(const char* registry_name, const CpuKernels& kernels,
                                          const BackendOptions& opts);

}  // namespace bitlab::cpu
