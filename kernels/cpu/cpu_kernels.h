// The CPU backend's kernel table: one slot (or, for the matmul, one group of
// slots) per op. Each backend builds its table from its list of kernel variants
// (cpu_variants.h), each variant filling its op's slots; the CpuBackend does the
// threading and calls these on row ranges, so dispatch happens once per op,
// never per element.
#pragma once
#include <cstddef>
#include <cstdint>

#include "model/weights/canonical.h"

namespace bitlab::cpu {

// One part of a ternary matmul: y[t, n] = (T · xq[t]) / s[t] * w_scale.
struct MatmulArgs {
  const uint8_t* packed = nullptr;  // this part, in the variant's layout
  int64_t n = 0, k = 0;
  float w_scale = 1.0f;
  const int8_t* xq = nullptr;       // [t, k]
  const float* s = nullptr;         // [t]
  int64_t t = 0;
  float* y = nullptr;               // [t, ldy]
  int64_t ldy = 0;
  // For t > 1, where the variant has a prepare step: the activations as it
  // wrote them for this call (null: the kernel prepares them itself).
  const uint8_t* prepared = nullptr;
};

struct CpuKernels {
  const char* variant;  // DeviceInfo::variant: a summary, e.g. "avx512-vnni"
  // Work items of the matmul cover this many rows (the layout's row group).
  int64_t matmul_row_block;
  // Bytes the variant's layout needs for an [n, k] matrix, and the repack from
  // canonical codes into it.
  size_t (*packed_bytes)(int64_t n, int64_t k);
  void (*repack)(const CanonicalTernary& w, uint8_t* out);
  // Rows [n0, n1) of one part for all t tokens; n0 is a multiple of matmul_row_block.
  void (*matmul)(const MatmulArgs& a, int64_t n0, int64_t n1);
  // Optional (null where the kernel reads xq as it is): for t > 1 tokens, a
  // rearrangement of the activations (tiles, sums) that every row block's call
  // reads. The backend writes it once per matmul, before the rows are split,
  // into prepared_bytes(t, k) bytes, 64-byte aligned; prepare writes tokens
  // [t0, t1) with t0 a multiple of kPrepareTokens and t1 = t or a multiple of
  // it, so threads can share the work.
  static constexpr int64_t kPrepareTokens = 16;
  size_t (*prepared_bytes)(int64_t t, int64_t k) = nullptr;
  void (*prepare)(const int8_t* xq, int64_t t, int64_t k, int64_t t0, int64_t t1, uint8_t* out) = nullptr;

  // One token row each.
  void (*quantize_row)(const float* x, int64_t k, int8_t* q, float* s);
  void (*rmsnorm_row)(const float* x, const float* w, int64_t d, float eps, float* y);
  void (*rmsnorm_quant_row)(const float* x, const float* w, int64_t d, float eps, int8_t* q, float* s);
  // cs: the row's position's cosine and sine pairs (rope_angles, below).
  void (*rope_row)(float* x, int64_t n_heads, int64_t head_dim, const double* cs);
  void (*embed_row)(const uint16_t* table_row, int64_t d, float* out);

  // One query head over n_keys cached positions; kv_stride is the cache row
  // width in floats; scratch holds n_keys floats.
  void (*attention_head)(const float* q, const float* k_cache, const float* v_cache, int64_t n_keys,
                         int64_t head_dim, int64_t kv_stride, float* out, float* scratch);
  // A block of n_queries query heads that share one kv head (the GQA group's
  // heads of one or more token rows), query c over the first n_keys[c] cached
  // positions; each key and value row is read once for the whole block, and
  // each out[c] is bit-identical to attention_head on q[c]. scratch holds
  // n_queries * max(n_keys) floats.
  void (*attention_group)(const float* const* q, float* const* out, const int64_t* n_keys, int64_t n_queries,
                          const float* k_cache, const float* v_cache, int64_t head_dim, int64_t kv_stride,
                          float* scratch);

  // Elementwise over n.
  void (*relu2_mul)(const float* g, const float* u, int64_t n, float* y);
  void (*add)(const float* a, const float* b, int64_t n, float* y);

  // logits[t, v] for vocabulary rows [v0, v1) of the bf16 table [vocab, d].
  void (*lm_head)(const float* x, int64_t t, int64_t d, const uint16_t* table, int64_t v0, int64_t v1,
                  float* logits, int64_t ld_logits);
  // Int8 head (ops.h HeadTable): logits[t, v] for rows [v0, v1) of q [vocab, d],
  // from int8 activations xq [t, d] with factors s_x [t] and row factors s_v.
  void (*lm_head_i8)(const int8_t* xq, const float* s_x, int64_t t, int64_t d, const int8_t* q, const float* s_v,
                     int64_t v0, int64_t v1, float* logits, int64_t ld_logits);
  // Index of the largest of v values, lowest on ties.
  int64_t (*argmax)(const float* logits, int64_t v);
};

// RoPE's angles at one position, as the reference computes them (in double):
// cs[2i], cs[2i + 1] = cos, sin of pos * theta^(-2i / head_dim), i < head_dim / 2.
// One function for every variant: the angles are part of the numeric contract.
void rope_angles(int64_t pos, int64_t head_dim, double theta, double* cs);

// The default tables (no pins).
const CpuKernels& scalar_kernels();
// Only where the avx512 backend is built (kernels/cpu/CMakeLists.txt), and only after probe_avx512_backend() said yes.
const CpuKernels& avx512_kernels();

}  // namespace bitlab::cpu
