// The scalar variant's kernel table.
#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu {

const CpuKernels& scalar_kernels() {
  static const CpuKernels k{
      .variant = "scalar",
      .matmul_row_block = 16,
      .packed_bytes = scalar::packed_bytes,
      .repack = scalar::repack,
      .matmul = scalar::matmul,
      .quantize_row = scalar::quantize_row,
      .rmsnorm_row = scalar::rmsnorm_row,
      .rmsnorm_quant_row = scalar::rmsnorm_quant_row,
      .rope_row = scalar::rope_row,
      .embed_row = scalar::embed_row,
      .attention_head = scalar::attention_head,
      .relu2_mul = scalar::relu2_mul,
      .add = scalar::add,
      .lm_head = scalar::lm_head,
      .lm_head_i8 = scalar::lm_head_i8,
      .argmax = scalar::argmax,
  };
  return k;
}

}  // namespace bitlab::cpu
