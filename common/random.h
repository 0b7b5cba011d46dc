// The counter-based random generator behind the synthetic weights and every
// random test or benchmark input: SplitMix64 streams keyed by small integers,
// so the same key gives the same numbers on every machine and thread count.
#pragma once
#include <cstdint>

namespace bitlab {

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
  float normal() {
    const uint64_t r = next();
    const float sum = float(r & 0xffff) + float((r >> 16) & 0xffff) + float((r >> 32) & 0xffff) + float(r >> 48);
    // Four U[0,1) have mean 2 and variance 1/3.
    return (sum * 0x1.0p-16f - 2.0f) * 1.7320508f;
  }

 private:
  uint64_t s_;
};

// Key for a sub-stream: mixes a seed with up to three indices.
inline uint64_t stream_key(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  SplitMix64 g(seed ^ 0x6a09e667f3bcc909ull);
  uint64_t k = g.next() ^ a;
  k = SplitMix64(k).next() ^ b;
  k = SplitMix64(k).next() ^ c;
  return SplitMix64(k).next();
}

}  // namespace bitlab
