// Registration of the "scalar" backend: the CPU backend with the scalar
// kernels (one variant per op, kernels/cpu/scalar/table.cpp). Runs on any CPU.
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_variants.h"
#include "kernels/registry.h"

namespace bitlab {

std::unique_ptr<Backend> make_scalar_backend(const BackendOptions& opts) {
  return cpu::make_cpu_backend("scalar", cpu::build_table("scalar", cpu::scalar_variants(), opts.variants), opts);
}

BackendProbe probe_scalar_backend() { return {true, "plain C++ loops; runs on any CPU"}; }

std::vector<KernelVariant> variants_scalar_backend() { return cpu::describe_variants(cpu::scalar_variants()); }

}  // namespace bitlab
