// The neon variants' kernel tables: the scalar table with every op this folder
// speeds up overridden (rope, attention and argmax stay scalar: a small share
// of a step). The two tables differ only in the matmul's inner tiles.
#include "kernels/cpu/neon/neon_kernels.h"

namespace bitlab::cpu {
namespace {

CpuKernels neon_table(const char* variant, void (*matmul)(const MatmulArgs&, int64_t, int64_t)) {
  CpuKernels t = scalar_kernels();
  t.variant = variant;
  t.matmul_row_block = neon::kRowTile;
  t.packed_bytes = neon::packed_bytes;
  t.repack = neon::repack;
  t.matmul = matmul;
  t.quantize_row = neon::quantize_row;
  t.rmsnorm_row = neon::rmsnorm_row;
  t.rmsnorm_quant_row = neon::rmsnorm_quant_row;
  t.embed_row = neon::embed_row;
  t.relu2_mul = neon::relu2_mul;
  t.add = neon::add;
  t.lm_head = neon::lm_head;
  return t;
}

}  // namespace

const CpuKernels& neon_kernels() {
  static const CpuKernels k = neon_table("neon", neon::matmul_baseline);
  return k;
}

const CpuKernels& neon_dotprod_kernels() {
  static const CpuKernels k = neon_table("neon-dotprod", neon::matmul_dotprod);
  return k;
}

}  // namespace bitlab::cpu
