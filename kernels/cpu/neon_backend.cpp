// Registration of the "neon" backend: the CPU backend with the NEON kernel
// variants (kernels/cpu/neon/table.cpp). The matmul's default is picked from
// the CPU's hardware capabilities at run time:
//   t2i8_matmul_r8c16__neondot  where the kernel reports HWCAP_ASIMDDP (SDOT);
//   t2i8_matmul_r8c16__neon     otherwise (any Armv8-A CPU with Advanced SIMD).
// Pinning t2i8_matmul_r8c16__neon runs the baseline on a CPU that has the dot
// product, to compare the two on one machine. DeviceInfo.variant ("neon" or
// "neon-dotprod") and the probe's note say which path runs.
#include <string>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_variants.h"
#include "kernels/registry.h"

namespace bitlab {

std::unique_ptr<Backend> make_neon_backend(const BackendOptions& opts) {
  return cpu::make_cpu_backend("neon", cpu::build_table("neon", cpu::neon_variants(), opts.variants), opts);
}

BackendProbe probe_neon_backend() {
  const std::string missing = cpu::neon_missing(false);
  if (!missing.empty()) return {false, missing};
  if (!cpu::neon_missing(true).empty())
    return {true, "Armv8-A NEON kernels (neon); CPU lacks asimddp, so no SDOT path"};
  return {true, "Armv8.2-A dot-product kernels (neon-dotprod, SDOT)"};
}

std::vector<KernelVariant> variants_neon_backend() { return cpu::describe_variants(cpu::neon_variants()); }

}  // namespace bitlab
