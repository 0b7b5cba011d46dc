// The certified head (`--head certified`): the bf16 head's greedy token, read
// mostly from the int8 copy of the table.
//
// Stage 1 computes approximate logits A_v for every row with the int8 head
// (ops.h HeadTable: quantize_act on x, lm_head_i8). A per-row bound B_v with
// |L^_v - A_v| <= B_v, where L^_v is what this backend's own bf16 lm_head
// gives for row v, leaves the candidates C = {v : A_v + B_v >= m},
// m = max_u (A_u - B_u). Stage 2 rescores exactly the rows of C with the bf16
// lm_head (on one-row views of the table) and returns their argmax, lowest
// index on ties: the same token as lm_head + argmax over the whole table.
//
// Why that is exact: the full head's winner v* has L^_v* >= L^_u0 >= A_u0 - B_u0
// = m (u0 the row that sets m), so v* is in C; any u outside C has
// L^_u <= A_u + B_u < m <= L^_v*, strictly, so it can neither win nor tie.
// It needs the bf16 lm_head to give a row the same bits whichever rows it is
// computed with (true of every backend's kernel: one row's sum never mixes
// with another's; tests/test_certified_head.cpp checks it per backend).
//
// The bound (docs/design.md §2; x the fp32 row, x^ = q_x / s_x its int8
// dequantisation, w_v the bf16 row, w^_v = q_v / s_v, u = 2^-24):
//   |L^_v - A_v| <= ||w_v - w^_v|| ||x|| + ||w^_v|| ||x - x^||     the quantisation
//                 + gamma_d ||w_v|| ||x||                           the fp32 dot product, any
//                                                                   order, FMA or not
//                 + 4u |A_v|                                        A_v's own three roundings
//                 + an underflow term of a few 2^-126               flush-to-zero included
// with gamma_d = d u / (1 - d u), the whole times 1 + 2^-20 for the double
// arithmetic of the bound itself. The three norms per row are computed in
// double and stored rounded up.
#pragma once
#include <cstdint>
#include <vector>

#include "model/backend.h"

namespace bitlab {

// Per-row norms of a bf16 table [vocab, d] and its int8 HeadTable, each
// computed in double and rounded up to the next float.
struct CertifiedRowNorms {
  std::vector<float> err;    // ||w_v - w^_v||
  std::vector<float> quant;  // ||w^_v||
  std::vector<float> exact;  // ||w_v||
  float max_exact = 0.0f;    // max_v ||w_v||
  // Every value of the table finite. A table holding Inf or NaN has no useful
  // bound: the exact head then runs every step.
  bool finite = true;
};
// Over blocks of rows on every core. q, s: ref::quantize_head of `table`.
CertifiedRowNorms certified_row_norms(const uint16_t* table, const int8_t* q, const float* s, int64_t vocab,
                                      int64_t d);

// What the certified head did, for the caller to report.
struct CertifiedHeadStats {
  int64_t steps = 0;            // argmaxes taken
  int64_t rows_rescored = 0;    // rows computed with the bf16 head, over all steps
  int64_t last_rows = 0;        // ... in the last step
  int64_t full_head_steps = 0;  // steps that ran the whole bf16 head (non-finite x or logits)
  double mean_rows() const { return steps ? double(rows_rescored) / double(steps) : 0.0; }
};

class CertifiedHead {
 public:
  // `table`: the bf16 table [vocab, d] on `be`; `host_table`: the same values
  // on the host (read only here). Builds and uploads the int8 table.
  CertifiedHead(Backend& be, const Tensor& table, const uint16_t* host_table);

  // Stage 1, queued on the backend: xq = quantize_act(x), approx = the int8
  // head's logits. x: F32 [1, d]; xq: [1, d] scratch; approx: F32 [1, vocab].
  void approximate(const Tensor& x, QuantAct& xq, Tensor& approx);
  // Stage 2, after approximate() (reads its results back): the bf16 head's
  // greedy token for x. approx may be overwritten (the full head's logits).
  int32_t finish(const Tensor& x, const QuantAct& xq, Tensor& approx);
  // Both stages.
  int32_t argmax(const Tensor& x, QuantAct& xq, Tensor& approx) {
    approximate(x, xq, approx);
    return finish(x, xq, approx);
  }

  const CertifiedHeadStats& stats() const { return stats_; }
  const HeadTable& int8_table() const { return i8_; }
  const CertifiedRowNorms& norms() const { return norms_; }

 private:
  // The whole bf16 head and the backend's argmax: the fallback.
  int32_t full_head(const Tensor& x, Tensor& logits);
  // The exact logits of `rows` (ascending), by runs of consecutive rows.
  std::vector<float> rescore(const Tensor& x, const std::vector<int32_t>& rows);

  Backend& be_;
  Tensor table_;
  int64_t vocab_, d_;
  HeadTable i8_;
  CertifiedRowNorms norms_;
  Tensor exact_;  // F32 [1, cap]: the rescored rows' logits
  // finish()'s host copies and per-row bounds, reused from step to step.
  std::vector<float> host_x_, host_approx_;
  std::vector<int8_t> host_xq_;
  std::vector<double> host_bound_;
  std::vector<int32_t> candidates_;
  Tensor id_;     // I32 [1, 1]: the fallback's argmax
  CertifiedHeadStats stats_;
};

}  // namespace bitlab
