// The scalar kernels as variants, one per op plus the 1.6-bit matmul: the
// whole "scalar" backend, and the last entries per op of the avx512 and neon
// lists (never their default), so a SIMD kernel can be compared with the plain
// loop on one machine.
#include "kernels/cpu/cpu_variants.h"
#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu {
namespace {

constexpr CpuVariant kScalar[] = {
    {"bf16_f32_embed__scalar", "embed", runs_anywhere, [](CpuKernels& k) { k.embed_row = scalar::embed_row; }},
    {"f32_rmsnorm__scalar", "rmsnorm", runs_anywhere, [](CpuKernels& k) { k.rmsnorm_row = scalar::rmsnorm_row; }},
    {"f32_i8_quantize__scalar", "quantize_act", runs_anywhere,
     [](CpuKernels& k) { k.quantize_row = scalar::quantize_row; }},
    {"f32_i8_rmsnorm_quant__scalar", "rmsnorm_quant", runs_anywhere,
     [](CpuKernels& k) { k.rmsnorm_quant_row = scalar::rmsnorm_quant_row; }},
    {"t2i8_matmul__scalar", "matmul_w2a8", runs_anywhere,
     [](CpuKernels& k) {
       k.matmul_row_block = 16;
       k.packed_bytes = scalar::packed_bytes;
       k.repack = scalar::repack;
       k.matmul = scalar::matmul;
     },
     "scalar"},
    // Never a default (describe_variants): runs when pinned or asked for by weight_bits.
    {"t1p6i8_matmul_b3__scalar", "matmul_w2a8", runs_anywhere,
     [](CpuKernels& k) {
       k.matmul_row_block = 16;
       k.packed_bytes = scalar::b3_packed_bytes;
       k.repack = scalar::b3_repack;
       k.matmul = scalar::b3_matmul;
     },
     "scalar", WeightBits::OnePointSix},
    {"f32_rope__scalar", "rope", runs_anywhere, [](CpuKernels& k) { k.rope_row = scalar::rope_row; }},
    {"f32_attention_head__scalar", "attention", runs_anywhere,
     [](CpuKernels& k) {
       k.attention_head = scalar::attention_head;
       k.attention_group = scalar::attention_group;
     }},
    {"f32_relu2_mul__scalar", "relu2_mul", runs_anywhere, [](CpuKernels& k) { k.relu2_mul = scalar::relu2_mul; }},
    {"f32_add__scalar", "add", runs_anywhere, [](CpuKernels& k) { k.add = scalar::add; }},
    {"bf16_f32_lm_head__scalar", "lm_head", runs_anywhere, [](CpuKernels& k) { k.lm_head = scalar::lm_head; }},
    {"i8_i8_lm_head__scalar", "lm_head_i8", runs_anywhere, [](CpuKernels& k) { k.lm_head_i8 = scalar::lm_head_i8; }},
    {"f32_argmax__scalar", "argmax", runs_anywhere, [](CpuKernels& k) { k.argmax = scalar::argmax; }},
};

}  // namespace

std::span<const CpuVariant> scalar_variants() { return kScalar; }

const CpuKernels& scalar_kernels() {
  static const CpuKernels k = build_table("scalar", kScalar, {}).kernels;
  return k;
}

}  // namespace bitlab::cpu
