// Registration of the "scalar" backend: the CPU backend with the scalar
// kernel table. Runs on any CPU.
#include "kernels/cpu/cpu_backend.h"
#include "model/registry.h"

namespace bitlab {

std::unique_ptr<Backend> make_scalar_backend(const BackendOptions& opts) {
  return cpu::make_cpu_backend("scalar", cpu::scalar_kernels(), opts);
}

BackendProbe probe_scalar_backend() { return {true, "plain C++ loops; runs on any CPU"}; }

std::vector<KernelVariant> variants_scalar_backend() { return {}; }

}  // namespace bitlab
