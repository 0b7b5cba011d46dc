// The CUDA backend's weight layout ("w2 words") and the decoding every W2A8
// kernel shares. Plain C++ as well as CUDA: the tests check the host repack and
// the very decode functions the kernels call, on a machine without a GPU.
//
// Layout of one ternary matrix [n, k] (several fused along n are stacked):
//   - k is padded to a multiple of kKTile = 128 codes; a row is row_words(k)
//     32-bit words (k_pad / 16), so every row starts 32-byte aligned and the GEMM
//     reads one whole 32-byte sector per row and k-tile;
//   - word w of a row holds the 16 codes of elements 16w .. 16w+15, element
//     16w + 4j + b in bits 8b + 2j .. 8b + 2j + 1 (j, b in 0..3). So
//     (word >> 2j) & 0x03030303 is the int8x4 of elements 16w+4j .. 16w+4j+3,
//     one code per byte: one shift and one AND give a dp4a / mma operand;
//   - a code is T + 1 in {0, 1, 2} (as in the canonical form); padding codes are 1.
// Kernels compute Σ (T+1)·x with the codes as they are, then subtract Σ x:
// Σ T·x = Σ (T+1)·x − Σ x, exact in int32 (|Σ| ≤ 2·128·k). Padded activations are 0.
#pragma once
#include <cstdint>
#include <vector>

#if defined(__CUDACC__)
#define BITLAB_HD __host__ __device__ __forceinline__
#else
#define BITLAB_HD inline
#endif

namespace bitlab {
struct CanonicalTernary;
}

namespace bitlab::cuda {

constexpr int64_t kKTile = 128;  // codes per k-tile: the unit k is padded to

constexpr int64_t padded_k(int64_t k) { return (k + kKTile - 1) / kKTile * kKTile; }
constexpr int64_t row_words(int64_t k) { return padded_k(k) / 16; }

// Bit position of element e (0..15) of a word.
BITLAB_HD constexpr int code_shift(int e) { return 8 * (e & 3) + 2 * (e >> 2); }

// Elements 4j .. 4j+3 of a word as int8x4, one code (0..2) per byte.
BITLAB_HD constexpr uint32_t codes_x4(uint32_t word, int j) { return (word >> (2 * j)) & 0x03030303u; }

// Signed dot product of four int8 lanes plus c: the dp4a instruction on the
// device, the same sum on the host.
BITLAB_HD int32_t dot4_s8(uint32_t a, uint32_t b, int32_t c) {
#if defined(__CUDA_ARCH__)
  return __dp4a(int(a), int(b), c);
#else
  for (int i = 0; i < 4; ++i) c += int32_t(int8_t(a >> (8 * i))) * int32_t(int8_t(b >> (8 * i)));
  return c;
#endif
}

// Σ code·x over one word (16 elements) and the 16 activations it pairs with,
// given as four little-endian int8x4 words x[0..3] (elements 16w .. 16w+15).
BITLAB_HD int32_t word_dot(uint32_t word, uint32_t x0, uint32_t x1, uint32_t x2, uint32_t x3, int32_t acc) {
  acc = dot4_s8(codes_x4(word, 0), x0, acc);
  acc = dot4_s8(codes_x4(word, 1), x1, acc);
  acc = dot4_s8(codes_x4(word, 2), x2, acc);
  acc = dot4_s8(codes_x4(word, 3), x3, acc);
  return acc;
}

// Host side of the upload: canonical rows -> w2 words, rows [n, row_words(k)].
std::vector<uint32_t> repack_w2(const CanonicalTernary& w);
// The ternary value T[row, i] read back from w2 words (for round-trip tests).
int8_t w2_value(const uint32_t* words, int64_t k, int64_t row, int64_t i);

}  // namespace bitlab::cuda
