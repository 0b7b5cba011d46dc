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
#include <functional>

#include "model/weights/canonical.h"

namespace bitlab {

// Called with (bytes done, bytes total) as generation proceeds.
using ProgressFn = std::function<void(size_t, size_t)>;

ModelWeights synthetic_weights(const ModelConfig& config, uint64_t seed, const ProgressFn& progress = {});

// One random ternary matrix [n, k] with the statistics above, straight in
// canonical form (fast enough for the 13824 x 2560 fused gate/up in benchmarks).
CanonicalTernary synthetic_ternary(std::string name, int64_t n, int64_t k, uint64_t seed);

// One stream of the counter-based generator, for tests and random inputs.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 24 bits, exactly representable as fp32.
  float uniform() { return float(next() >> 40) * 0x1.0p-24f; }
  // Approximately N(0, 1): Irwin–Hall sum of four 16-bit uniforms.
  float normal();

 private:
  uint64_t s_;
};

// Key for a sub-stream: mixes a seed with up to three indices.
uint64_t stream_key(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0);

}  // namespace bitlab
