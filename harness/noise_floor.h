// The oracle's own numerical noise floor end to end, and the end-to-end pass
// rule built on it (docs/design.md §5).
//
// Per op, a backend may legally differ from the oracle in the last bits of its
// float outputs (rmsnorm, rope, attention, relu2_mul, the bf16 head: NMSE
// bounds, not bit-exactness). Through many layers such a difference moves an
// activation across a rounding boundary of the int8 quantisation now and then,
// and each moved code shifts everything after it: a deep network amplifies
// last-bit noise into logit differences that no fixed threshold fits (NMSE
// ~1e-14 at one layer, ~1e-3 at 30). So the rule measures how far the oracle
// moves from itself when every float value an op writes is nudged by one ulp,
// and holds a backend to a multiple of that.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/backend.h"
#include "model/transformer.h"
#include "model/weights/canonical.h"

namespace bitlab {

struct CheckRecord;

// The oracle as a Backend whose float ops (rmsnorm, rope, attention,
// relu2_mul, the bf16 lm_head) move every non-zero fp32 value they write by
// `ulps` units in the last place, up or down at random from `seed`. The ops
// the contract holds bit-exact (quantize_act, matmul_w2a8, embed, add,
// lm_head_i8, argmax: int8 codes, int32 accumulators and their fixed scaling)
// are never touched: a correct kernel cannot differ there. ulps = 0 is the
// oracle itself, bit for bit, with its matmuls and heads spread over the
// cores by token (each output the same expression as in the oracle).
std::unique_ptr<Backend> make_perturbed_reference(uint64_t seed, int ulps = 1);

// How far the perturbed oracle's logits lie from the oracle's: the worst
// (largest NMSE and KL, smallest top-1 agreement) over `runs` seeds.
struct NoiseFloor {
  double nmse = 0, kl = 0, top1 = 1;
  int runs = 0;
};

// The oracle's side of one end-to-end check: its logits over the
// teacher-forced `tokens` with `head`, and its noise floor there. Computed
// once per (model, tokens, head) and shared by every backend checked.
struct OracleRun {
  HeadKind head = HeadKind::BF16;
  std::vector<int32_t> tokens;
  std::vector<float> logits;  // [tokens, vocab]
  NoiseFloor floor;
};
inline constexpr int kFloorRuns = 3;
OracleRun run_oracle(const ModelWeights& w, std::vector<int32_t> tokens, HeadKind head, int floor_runs = kFloorRuns,
                     int ulps = 1);

// The rule. A backend's NMSE and KL against the oracle may be at most
// kFloorMultiple times the floor's, and never need be below the absolute
// kNmseEndToEnd / kKlEndToEnd (which is what a bit-exact floor leaves: the
// one-layer models, where the backends agree to ~1e-14). Why 10: a per-op
// correct kernel differs from the oracle by a few ulps where the floor moves
// one; past the first flipped int8 code the logit error grows with the number
// of flipped codes, which grows in proportion to the size of the nudge (the
// chance that a value lies within δ of a rounding boundary is proportional to
// δ), so NMSE and KL scale about linearly with it. Ten times covers kernels up
// to ~10 ulps per op (reordered fp32 sums of the model's widths stay well
// inside that), while a real defect — a wrong scale, a dropped term — moves
// thousands of ulps in every value it touches and lands orders of magnitude
// above the line.
inline constexpr double kFloorMultiple = 10.0;
inline constexpr double kKlEndToEnd = 1e-8;  // nats, mean over positions
// Top-1: at least the floor's worst agreement minus kTop1Margin (or two
// positions, whichever is more: with few tokens one flip is a large
// fraction), once the floor shows noise at all (its NMSE above
// kNmseEndToEnd or a flipped top-1 in it): a near tie that one ulp can flip
// may flip either way. Where the floor is below that, the rule demands every
// position agree, as the bit-exact case should.
inline constexpr double kTop1Margin = 0.05;
inline constexpr int kTop1MarginPositions = 2;

// Fills r's floor fields and ratios and sets r.pass by the rule; r must hold
// the metrics of compare_logits over `rows` positions.
void judge_end_to_end(CheckRecord& r, const NoiseFloor& floor, int64_t rows);

}  // namespace bitlab
