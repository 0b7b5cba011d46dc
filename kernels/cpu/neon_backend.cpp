// Registration of the "neon" backend: the CPU backend with one of the two NEON
// kernel tables, picked from the CPU's hardware capabilities at run time:
//   neon-dotprod  when the kernel reports HWCAP_ASIMDDP (Armv8.2-A SDOT);
//   neon          otherwise (any Armv8-A CPU with Advanced SIMD).
// BITLAB_NEON_DOTPROD=0 in the environment forces the baseline path on a CPU
// that has the dot product, to compare the two paths on one machine.
// DeviceInfo.variant and the probe's note say which path runs.
#include <cstdlib>
#include <string>

#if defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/neon/neon_kernels.h"
#include "model/registry.h"

namespace bitlab {
namespace {

struct NeonCaps {
  bool asimd = false;
  bool dotprod = false;
  std::string bad_env;  // set when BITLAB_NEON_DOTPROD holds something other than 0 or 1
  bool dotprod_off = false;
};

NeonCaps read_caps() {
  NeonCaps c;
#if defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
  c.asimd = (hw & HWCAP_ASIMD) != 0;
  c.dotprod = (hw & HWCAP_ASIMDDP) != 0;
#else
  c.asimd = true;  // Advanced SIMD is part of every AArch64 CPU; no hwcaps to read here
#endif
  if (const char* v = std::getenv("BITLAB_NEON_DOTPROD")) {
    const std::string s = v;
    if (s == "0")
      c.dotprod_off = true;
    else if (s != "1")
      c.bad_env = s;
  }
  return c;
}

}  // namespace

std::unique_ptr<Backend> make_neon_backend(const BackendOptions& opts) {
  const NeonCaps c = read_caps();
  const bool dot = c.dotprod && !c.dotprod_off;
  return cpu::make_cpu_backend("neon", dot ? cpu::neon_dotprod_kernels() : cpu::neon_kernels(), opts);
}

BackendProbe probe_neon_backend() {
  const NeonCaps c = read_caps();
  if (!c.asimd) return {false, "CPU lacks asimd (Advanced SIMD)"};
  if (!c.bad_env.empty()) return {false, "BITLAB_NEON_DOTPROD must be 0 or 1, not '" + c.bad_env + "'"};
  if (!c.dotprod) return {true, "Armv8-A NEON kernels (neon); CPU lacks asimddp, so no SDOT path"};
  if (c.dotprod_off) return {true, "Armv8-A NEON kernels (neon); asimddp present but BITLAB_NEON_DOTPROD=0"};
  return {true, "Armv8.2-A dot-product kernels (neon-dotprod, SDOT)"};
}

std::vector<KernelVariant> variants_neon_backend() { return {}; }

}  // namespace bitlab
