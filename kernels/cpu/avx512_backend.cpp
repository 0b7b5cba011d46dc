// Registration of the "avx512" backend: the CPU backend with the AVX-512 VNNI
// kernel table. This file is compiled for baseline x86-64; the probe checks the
// CPU (and the OS's support for the AVX-512 state) at run time before any
// AVX-512 instruction can execute.
#include <string>

#include "kernels/cpu/cpu_backend.h"
#include "model/registry.h"

namespace bitlab {

std::unique_ptr<Backend> make_avx512_backend(const BackendOptions& opts) {
  return cpu::make_cpu_backend("avx512", cpu::avx512_kernels(), opts);
}

BackendProbe probe_avx512_backend() {
  __builtin_cpu_init();
  struct Feature {
    bool present;
    const char* name;  // as /proc/cpuinfo spells it
  };
  const Feature needed[] = {
      {bool(__builtin_cpu_supports("avx512f")), "avx512f"},
      {bool(__builtin_cpu_supports("avx512bw")), "avx512bw"},
      {bool(__builtin_cpu_supports("avx512vl")), "avx512vl"},
      {bool(__builtin_cpu_supports("avx512dq")), "avx512dq"},
      {bool(__builtin_cpu_supports("avx512vnni")), "avx512_vnni"},
  };
  std::string missing;
  for (const Feature& f : needed)
    if (!f.present) missing += (missing.empty() ? "" : ", ") + std::string(f.name);
  if (!missing.empty()) return {false, "CPU lacks " + missing};
  return {true, "AVX-512 VNNI kernels (avx512-vnni)"};
}

std::vector<KernelVariant> variants_avx512_backend() { return {}; }

}  // namespace bitlab
