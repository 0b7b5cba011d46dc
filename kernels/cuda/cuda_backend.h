// The CUDA backend: 2-bit weights x int8 activations on an NVIDIA GPU
// (sm_80 or newer). Weights, KV cache and activations live in device memory;
// a forward step is recorded and, from its second sighting on, replayed as a
// CUDA graph (step_recorder.h). Registered as "cuda" in model/backends.def.
#pragma once
#include <cstdint>
#include <memory>

#include "kernels/cuda/step_recorder.h"
#include "model/backend.h"
#include "model/registry.h"

namespace bitlab {
// The registry's entry points (model/backends.def). The probe asks the driver
// for device 0: usable, or why not ("no CUDA device: ...").
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& opts);
BackendProbe probe_cuda_backend();
}  // namespace bitlab

namespace bitlab::cuda {

struct CudaOptions {
  bool graphs = true;           // record forward steps and replay them as CUDA graphs
  bool gemv = true;             // single-token matmuls use the GEMV (it handles one token); false: always the GEMM
  bool tiled_attention = true;  // attention over more than 4 rows in shared-memory tiles
  bool programmatic_launch = true;  // kernels may start before the one in front ends (sm_90+ only)
};

// The defaults, less what the environment turns off: BITLAB_CUDA_GRAPHS=0
// (graphs) and BITLAB_CUDA_PDL=0 (programmatic launch). The registry's
// make_cuda_backend uses these.
CudaOptions cuda_options_from_environment();
// Takes every option explicitly (tests).
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& opts, const CudaOptions& cuda);
// The step counters of a backend made here; nullptr for any other backend.
const StepStats* cuda_step_stats(const Backend& be);

}  // namespace bitlab::cuda
