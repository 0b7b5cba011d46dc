// CUDA runtime errors as bitlab::DeviceError, with the call that failed.
#pragma once
#include <cuda_runtime_api.h>

namespace bitlab::cuda {

// Throws DeviceError "cuda: <what>: <error string>" unless e is cudaSuccess.
void check(cudaError_t e, const char* what);
// After a kernel launch: throws DeviceError naming the kernel if it failed.
void check_launch(const char* kernel);

}  // namespace bitlab::cuda
