// A fast, portable 64-bit digest of byte streams (not cryptographic): 8 bytes a
// step through a multiply-xorshift mix, so hashing 1.2 GB of weights takes about
// a second. Same bytes in the same order → same value on every machine.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace bitlab {

class Digest {
 public:
  void add(std::span<const std::byte> bytes) {
    const std::byte* p = bytes.data();
    size_t n = bytes.size();
    while (n >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);  // little-endian hosts only: every target bitlab builds for
      mix(w);
      p += 8;
      n -= 8;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p, n);
    mix(tail ^ (uint64_t(n) << 56));
    mix(bytes.size());
  }
  uint64_t value() const { return fmix(h_); }

 private:
  static uint64_t fmix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
  }
  void mix(uint64_t w) { h_ = (h_ ^ fmix(w + 0x9e3779b97f4a7c15ull)) * 0x100000001b3ull + 0x2545f4914f6cdd1dull; }
  uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace bitlab
