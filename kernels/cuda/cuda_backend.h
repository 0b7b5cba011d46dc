// The CUDA backend: 2-bit weights x int8 activations on an NVIDIA GPU
// (sm_80 or newer). Weights, KV cache and activations live in device memory;
// a forward step is recorded and, from its second sighting on, replayed as a
// CUDA graph (step_recorder.h). Registered as "cuda" by bitlab_add_backend (kernels/cuda/CMakeLists.txt).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/step_recorder.h"
#include "model/backend.h"
#include "kernels/registry.h"

namespace bitlab {
// The registry's entry points (kernels/registry.cpp). The probe asks the driver
// for device 0: usable, or why not ("no CUDA device: ...").
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& opts);
BackendProbe probe_cuda_backend();
}  // namespace bitlab

namespace bitlab::cuda {

struct CudaOptions {
  bool graphs = true;           // record forward steps and replay them as CUDA graphs
  // Kernel variants (cuda_variants below): gemv picks the matmul's, tiled_attention attention's.
  bool gemv = true;             // single-token matmuls use the GEMV (it handles one token); false: always the GEMM
  bool tiled_attention = true;  // attention over more than 4 rows in shared-memory tiles
  bool programmatic_launch = true;  // kernels may start before the one in front ends (sm_90+ only)
};

// The defaults, less what the environment turns off: BITLAB_CUDA_GRAPHS=0
// (graphs) and BITLAB_CUDA_PDL=0 (programmatic launch). The registry's
// make_cuda_backend uses these.
CudaOptions cuda_options_from_environment();
// The backend's kernel variants, two ops with two each, the default first:
//   matmul_w2a8  t2i8_matmul_gemv_mma__cuda  dp4a GEMV for one token, s8 mma GEMM for more (gemv = true)
//                t2i8_matmul_mma__cuda       the mma GEMM for every token count (gemv = false)
//   attention    f32_attention_tiled__cuda   shared-memory tiles over more than 4 rows (tiled_attention = true)
//                f32_attention_rows__cuda    the row kernels for every row count (tiled_attention = false)
// Graphs and programmatic launch are not variants: they change how kernels
// are launched, not which kernel runs an op.
struct CudaVariant {
  const char* name;
  const char* op;
  bool is_default;
  bool CudaOptions::*option;  // the switch this variant sets
  bool value;                 // to this
};
std::span<const CudaVariant> cuda_variants();
// `base` with each pinned variant's switch set (the registry checked the names).
CudaOptions apply_pins(CudaOptions base, const std::vector<std::string>& pins);
// (op, variant) of each op with variants, as the options select them.
std::vector<std::pair<std::string, std::string>> chosen_variants(const CudaOptions& o);
// Takes every option explicitly (tests).
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& opts, const CudaOptions& cuda);
// The step counters of a backend made here; nullptr for any other backend.
const StepStats* cuda_step_stats(const Backend& be);

}  // namespace bitlab::cuda
