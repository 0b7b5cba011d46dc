// The avx512 variant's kernel table: the scalar table with every op this folder
// speeds up overridden (rope stays scalar: it is a small share of a step and
// its angles are computed in double like the reference).
#include "kernels/cpu/avx512/avx512_kernels.h"

namespace bitlab::cpu {

const CpuKernels& avx512_kernels() {
  static const CpuKernels k = [] {
    CpuKernels t = scalar_kernels();
    t.variant = "avx512-vnni";
    t.matmul_row_block = avx512::kRowGroup;
    t.packed_bytes = avx512::packed_bytes;
    t.repack = avx512::repack;
    t.matmul = avx512::matmul;
    t.quantize_row = avx512::quantize_row;
    t.rmsnorm_row = avx512::rmsnorm_row;
    t.rmsnorm_quant_row = avx512::rmsnorm_quant_row;
    t.embed_row = avx512::embed_row;
    t.attention_head = avx512::attention_head;
    t.relu2_mul = avx512::relu2_mul;
    t.add = avx512::add;
    t.lm_head = avx512::lm_head;
    t.lm_head_i8 = avx512::lm_head_i8;
    t.argmax = avx512::argmax;
    return t;
  }();
  return k;
}

}  // namespace bitlab::cpu
