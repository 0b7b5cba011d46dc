// The neon backend's kernel variants, per op, in the order the default is picked
// (the first one this CPU can run): the NEON kernels, then the scalar ones
// (never the default; the reference point). The two 2-bit matmuls share the
// r8c16 layout and differ in their inner tiles: SDOT (listed first, usable only
// where the kernel reports HWCAP_ASIMDDP) and the Armv8-A baseline (SMLAL); the
// two 1.6-bit ones share the r4c80 layout likewise, never a default (the first
// usable one runs when 1.6-bit weights are asked for). Rope,
// attention and argmax are scalar only: a small share of a step.
#include <string>

#if defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "kernels/cpu/cpu_variants.h"
#include "kernels/cpu/neon/neon_kernels.h"

namespace bitlab::cpu {
namespace {

// What the baseline kernels need: Advanced SIMD (part of every AArch64 CPU).
std::string neon_base() { return neon_missing(false); }
std::string neon_dotprod() { return neon_missing(true); }

template <void (*Kernel)(const MatmulArgs&, int64_t, int64_t)>
void install_r4c80(CpuKernels& k) {
  k.matmul_row_block = neon::kB3RowTile;
  k.packed_bytes = neon::b3_packed_bytes;
  k.repack = neon::b3_repack;
  k.matmul = Kernel;
}

template <void (*Kernel)(const MatmulArgs&, int64_t, int64_t)>
void install_r8c16(CpuKernels& k) {
  k.matmul_row_block = neon::kRowTile;
  k.packed_bytes = neon::packed_bytes;
  k.repack = neon::repack;
  k.matmul = Kernel;
}

constexpr CpuVariant kNeon[] = {
    {"bf16_f32_embed__neon", "embed", neon_base, [](CpuKernels& k) { k.embed_row = neon::embed_row; }},
    {"f32_rmsnorm__neon", "rmsnorm", neon_base, [](CpuKernels& k) { k.rmsnorm_row = neon::rmsnorm_row; }},
    {"f32_i8_quantize__neon", "quantize_act", neon_base, [](CpuKernels& k) { k.quantize_row = neon::quantize_row; }},
    {"f32_i8_rmsnorm_quant__neon", "rmsnorm_quant", neon_base,
     [](CpuKernels& k) { k.rmsnorm_quant_row = neon::rmsnorm_quant_row; }},
    {"t2i8_matmul_r8c16__neondot", "matmul_w2a8", neon_dotprod, install_r8c16<neon::matmul_dotprod>,
     "neon-dotprod"},
    {"t2i8_matmul_r8c16__neon", "matmul_w2a8", neon_base, install_r8c16<neon::matmul_baseline>, "neon"},
    {"t1p6i8_matmul_r4c80__neondot", "matmul_w2a8", neon_dotprod, install_r4c80<neon::matmul_b3_dotprod>,
     "neon-dotprod", WeightBits::OnePointSix},
    {"t1p6i8_matmul_r4c80__neon", "matmul_w2a8", neon_base, install_r4c80<neon::matmul_b3_baseline>, "neon",
     WeightBits::OnePointSix},
    {"f32_relu2_mul__neon", "relu2_mul", neon_base, [](CpuKernels& k) { k.relu2_mul = neon::relu2_mul; }},
    {"f32_add__neon", "add", neon_base, [](CpuKernels& k) { k.add = neon::add; }},
    {"bf16_f32_lm_head__neon", "lm_head", neon_base, [](CpuKernels& k) { k.lm_head = neon::lm_head; }},
};

const std::vector<CpuVariant>& all_variants() {
  static const std::vector<CpuVariant> list = [] {
    std::vector<CpuVariant> l(std::begin(kNeon), std::end(kNeon));
    for (const CpuVariant& v : scalar_variants()) l.push_back(v);
    return l;
  }();
  return list;
}

}  // namespace

std::string neon_missing(bool dotprod) {
#if defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
  if ((hw & HWCAP_ASIMD) == 0) return "CPU lacks asimd (Advanced SIMD)";
  if (dotprod && (hw & HWCAP_ASIMDDP) == 0) return "CPU lacks asimddp (the Armv8.2-A dot product, SDOT)";
  return {};
#else
  // Advanced SIMD is part of every AArch64 CPU; with no hwcaps to read, the
  // dot product cannot be confirmed.
  return dotprod ? "no hwcaps to confirm asimddp on this OS" : "";
#endif
}

std::span<const CpuVariant> neon_variants() { return all_variants(); }

const CpuKernels& neon_kernels() {
  static const CpuKernels k = build_table("neon", neon_variants(), {"t2i8_matmul_r8c16__neon"}).kernels;
  return k;
}

const CpuKernels& neon_dotprod_kernels() {
  static const CpuKernels k = build_table("neon", neon_variants(), {"t2i8_matmul_r8c16__neondot"}).kernels;
  return k;
}

}  // namespace bitlab::cpu
