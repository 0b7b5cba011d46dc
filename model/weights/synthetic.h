// Synthetic weights: a deterministic full model of any config, so everything
// runs with no download.
//
// Every tensor row is drawn from its own counter-based stream keyed by
// (seed, tensor, row), so the bytes do not depend on the thread count or the
// machine: same seed → same digest everywhere. Statistics follow a trained
// BitNet b1.58 closely enough to exercise the numerics:
//  - ternary codes uniform over {-1, 0, +1} (≈ 1/3 zeros, as absmean
//    quantisation of a Gaussian gives);
//  - weight_scale ≈ 0.8 / sqrt(2k/3), so a BitLinear output has about unit
//    variance for unit-variance input and the residual stream stays bounded
//    over 30 layers;
//  - norm weights in [0.9, 1.1]; embedding ≈ N(0, 0.05²) in bf16, which puts
//    logits at a standard deviation of about 2.5 as in the release.
#pragma once
#include <cstdint>

#include "common/progress.h"
#include "common/random.h"
#include "model/weights/canonical.h"

namespace bitlab {

ModelWeights synthetic_weights(const ModelConfig& config, uint64_t seed, const ProgressFn& progress = {});

// One random ternary matrix [n, k] with the statistics above, straight in
// canonical form (fast enough for the 13824 x 2560 fused gate/up in benchmarks).
CanonicalTernary synthetic_ternary(std::string name, int64_t n, int64_t k, uint64_t key);

}  // namespace bitlab
