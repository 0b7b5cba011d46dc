// Canonical ternary weights: what the model layer holds and hands to backends.
//
// One matrix T of shape [n, k] with values in {-1, 0, +1} is stored as 2-bit codes
// c = T + 1 in {0, 1, 2}, four per byte along k (element k of a row in bits
// 2*(k%4)..2*(k%4)+1), rows row-major with a stride of ceil(k/4) bytes. Codes past
// k in a row's last byte are 1 (a zero weight), so a kernel that reads whole bytes
// adds nothing. Code 3 is invalid. One fp32 `scale` multiplies the output.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/config.h"

namespace bitlab {

// Four codes of 1 (weight 0) in one byte: the padding past k, and a row of zeros.
inline constexpr uint8_t kZeroCodeByte = 0x55;
// True if any of the four codes in b is 3, which no ternary weight has: such a
// code has both bits set, so b & (b >> 1) has its low bit (mask 0x55) set.
constexpr bool has_code3(unsigned b) { return (b & (b >> 1) & 0x55u) != 0; }

struct CanonicalTernary {
  std::string name;  // e.g. "layers.3.attn.q", used in error messages
  int64_t n = 0, k = 0;
  float scale = 1.0f;
  std::vector<uint8_t> packed;  // n * row_bytes()

  int64_t row_bytes() const { return (k + 3) / 4; }
  const uint8_t* row(int64_t r) const { return packed.data() + r * row_bytes(); }
  // T[r, i] in {-1, 0, +1}.
  int8_t at(int64_t r, int64_t i) const { return int8_t(((row(r)[i >> 2] >> (2 * (i & 3))) & 3) - 1); }
  // Throws InputError naming the matrix if sizes disagree or a code is 3.
  void validate() const;
};

// An n x k matrix of zero weights (every code 1, the row tails included), for
// packers and readers to fill in row by row with set_code.
CanonicalTernary zero_ternary(std::string name, int64_t n, int64_t k, float scale);
// Sets code `c` (T + 1) at column i of a canonical row.
inline void set_code(uint8_t* row, int64_t i, unsigned c) {
  const int sh = int(2 * (i & 3));
  row[i >> 2] = uint8_t((row[i >> 2] & ~(3u << sh)) | (c << sh));
}

// Packs values in {-1, 0, +1} (row-major n x k) into the canonical form.
CanonicalTernary pack_ternary(std::string name, int64_t n, int64_t k, std::span<const int8_t> values, float scale);
// The inverse: row-major values in {-1, 0, +1}.
std::vector<int8_t> unpack_ternary(const CanonicalTernary& w);

// Read-only host bytes, shared: `owner` keeps them alive (never a file mapping:
// loaders copy what they read, so a file changing later cannot touch them).
template <class T>
struct HostArray {
  std::shared_ptr<const void> owner;
  std::span<const T> data;
};

struct LayerWeights {
  std::vector<float> attn_norm, attn_sub_norm, ffn_norm, ffn_sub_norm;  // [hidden] except ffn_sub_norm [ffn]
  CanonicalTernary q, k, v, o, gate, up, down;
};

struct ModelWeights {
  ModelConfig config;
  HostArray<uint16_t> embedding;  // bf16 [vocab, hidden]; also the tied LM head
  std::vector<float> final_norm;  // [hidden]
  std::vector<LayerWeights> layers;
  std::string source;             // "synthetic:2b4t seed 1", a file path, ...

  // Checks every shape and size against `config`; throws InputError naming the
  // tensor. Codes are checked where a backend uploads them (ternary_parts).
  void validate() const;
  size_t ternary_bytes() const;
  // A 64-bit digest of every byte (codes, scales, norms, embedding), for
  // "same seed, same weights" checks across machines.
  uint64_t digest() const;
};

}  // namespace bitlab
