// CUDA errors as bitlab::DeviceError (cuda_error.h). Compiled with the
// kernels; check_launch serves launches written <<<...>>> (the benchmark's
// bandwidth probe), launch_kernel (device_common.cuh) checks its own.
#include <string>

#include "kernels/cuda/cuda_error.h"
#include "model/error.h"

namespace bitlab::cuda {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw DeviceError(std::string("cuda: ") + what + ": " + cudaGetErrorString(e));
}

void check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw DeviceError(std::string("cuda: launching ") + kernel + ": " + cudaGetErrorString(e));
}

}  // namespace bitlab::cuda
