// Registration of the "avx512" backend: the CPU backend with the AVX-512 kernel
// variants (kernels/cpu/avx512/table.cpp). This file is compiled for baseline
// x86-64; the probe checks the CPU (and the OS's support for the AVX-512 state)
// at run time before any AVX-512 instruction can execute. The backend needs
// AVX-512 F/BW/VL/DQ; the VNNI kernels are variants usable where the CPU has
// VNNI too, so a CPU without it runs t2i8_matmul_r16k16__avx512bw and the scalar
// int8 head by default.
#include <string>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_variants.h"
#include "kernels/registry.h"

namespace bitlab {

std::unique_ptr<Backend> make_avx512_backend(const BackendOptions& opts) {
  return cpu::make_cpu_backend("avx512", cpu::build_table("avx512", cpu::avx512_variants(), opts.variants), opts);
}

BackendProbe probe_avx512_backend() {
  const std::string missing = cpu::avx512_missing(false);
  if (!missing.empty()) return {false, missing};
  if (!cpu::avx512_missing(true).empty())
    return {true, "AVX-512 kernels without VNNI (avx512-bw); CPU lacks avx512_vnni"};
  return {true, "AVX-512 VNNI kernels (avx512-vnni)"};
}

std::vector<KernelVariant> variants_avx512_backend() { return cpu::describe_variants(cpu::avx512_variants()); }

}  // namespace bitlab
