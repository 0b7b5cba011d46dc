// The avx512 backend's kernel variants, per op, in the order the default is
// picked (the first one this CPU can run): the AVX-512 kernels, then the scalar
// ones (never the default; the reference point). Baseline x86-64 code: it only
// reads cpuid and stores function pointers, so it may run on any CPU.
//
// Adding a kernel: write it in its own file (compiled with the flags its ISA
// needs, kernels/cpu/CMakeLists.txt), declare it in avx512_kernels.h and add
// one entry here; the registry, the tests, check/bench --variant and
// `bitlab info --kernels` pick it up from this list.
#include <string>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/cpu_variants.h"

namespace bitlab::cpu {
namespace {

// The backend's probe asks for these (avx512_backend.cpp); the VNNI variants
// for VNNI as well.
std::string avx512_base() { return avx512_missing(false); }
std::string avx512_vnni() { return avx512_missing(true); }

// The r16k16 layout of both AVX-512 matmuls (r16k16.h) and a kernel over it.
template <void (*Kernel)(const MatmulArgs&, int64_t, int64_t)>
void install_r16k16(CpuKernels& k) {
  k.matmul_row_block = avx512::kRowGroup;
  k.packed_bytes = avx512::packed_bytes;
  k.repack = avx512::repack;
  k.matmul = Kernel;
}

constexpr CpuVariant kAvx512[] = {
    {"bf16_f32_embed__avx512", "embed", avx512_base, [](CpuKernels& k) { k.embed_row = avx512::embed_row; }},
    {"f32_rmsnorm__avx512", "rmsnorm", avx512_base, [](CpuKernels& k) { k.rmsnorm_row = avx512::rmsnorm_row; }},
    {"f32_i8_quantize__avx512", "quantize_act", avx512_base,
     [](CpuKernels& k) { k.quantize_row = avx512::quantize_row; }},
    {"f32_i8_rmsnorm_quant__avx512", "rmsnorm_quant", avx512_base,
     [](CpuKernels& k) { k.rmsnorm_quant_row = avx512::rmsnorm_quant_row; }},
    {"t2i8_matmul_r16k16__avx512vnni", "matmul_w2a8", avx512_vnni,
     [](CpuKernels& k) {
       install_r16k16<avx512::matmul>(k);
       k.prepared_bytes = avx512::prepared_bytes;
       k.prepare = avx512::prepare;
     },
     "avx512-vnni"},
    {"t2i8_matmul_r16k16__avx512bw", "matmul_w2a8", avx512_base, install_r16k16<avx512::matmul_bw>, "avx512-bw"},
    // After the 2-bit matmuls, so never the default: asked for by --weight-bits 1.6.
    {"t1p6i8_matmul_b3r16k20__avx512vnni", "matmul_w2a8", avx512_vnni,
     [](CpuKernels& k) {
       k.matmul_row_block = avx512::kRowGroup;
       k.packed_bytes = avx512::packed_bytes_b3;
       k.repack = avx512::repack_b3;
       k.matmul = avx512::matmul_b3;
       k.prepared_bytes = avx512::prepared_bytes_b3;
       k.prepare = avx512::prepare_b3;
     },
     "avx512-vnni-b3", WeightBits::OnePointSix},
    {"f32_attention_head__avx512", "attention", avx512_base,
     [](CpuKernels& k) {
       k.attention_head = avx512::attention_head;
       k.attention_group = avx512::attention_group;
     }},
    {"f32_relu2_mul__avx512", "relu2_mul", avx512_base, [](CpuKernels& k) { k.relu2_mul = avx512::relu2_mul; }},
    {"f32_add__avx512", "add", avx512_base, [](CpuKernels& k) { k.add = avx512::add; }},
    {"bf16_f32_lm_head__avx512", "lm_head", avx512_base, [](CpuKernels& k) { k.lm_head = avx512::lm_head; }},
    {"i8_i8_lm_head__avx512vnni", "lm_head_i8", avx512_vnni,
     [](CpuKernels& k) { k.lm_head_i8 = avx512::lm_head_i8; }},
    {"f32_argmax__avx512", "argmax", avx512_base, [](CpuKernels& k) { k.argmax = avx512::argmax; }},
};

// The AVX-512 list, then the scalar one (rope has only its scalar kernel: a
// small share of a step, its angles computed in double like the reference).
const std::vector<CpuVariant>& all_variants() {
  static const std::vector<CpuVariant> list = [] {
    std::vector<CpuVariant> l(std::begin(kAvx512), std::end(kAvx512));
    for (const CpuVariant& v : scalar_variants()) l.push_back(v);
    return l;
  }();
  return list;
}

}  // namespace

std::string avx512_missing(bool vnni) {
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
      {!vnni || bool(__builtin_cpu_supports("avx512vnni")), "avx512_vnni"},
  };
  std::string missing;
  for (const Feature& f : needed)
    if (!f.present) missing += (missing.empty() ? "" : ", ") + std::string(f.name);
  return missing.empty() ? missing : "CPU lacks " + missing;
}

std::span<const CpuVariant> avx512_variants() { return all_variants(); }

const CpuKernels& avx512_kernels() {
  static const CpuKernels k = build_table("avx512", avx512_variants(), {}).kernels;
  return k;
}

}  // namespace bitlab::cpu
