// Conversions between the canonical 2-bit form (canonical.h) and the layouts
// real checkpoints use (docs/design.md §3). All take and give codes c = T + 1.
//
//  - I2_S, bitnet.cpp's x86 layout (GGUF type 36): the [n, k] matrix flattened
//    row-major and cut into blocks of 128 codes held in 32 bytes; code j of a
//    block sits in byte j % 32 at bit shift 6 - 2 * (j / 32). One fp32 scale
//    for the whole tensor follows the n*k/4 packed bytes (padded to 32 bytes).
//  - Hugging Face packed uint8 (shape [n/4, k]): bits 2j..2j+1 of packed row p
//    hold output row j * (n/4) + p, i.e. four blocks of rows along n.
//  - Master weights (bf16/fp32 [n, k]): quantised with w_scale = mean|W|
//    (clamped at 1e-5) and T = clamp(round(W / w_scale), -1, 1).
//  - t2x16, the GPU backends' words (CUDA's "w2 words", Vulkan's t2x16): per
//    row, row_words little-endian 32-bit words; word w holds elements 16w ..
//    16w+15, element 16w + 4j + b in bits 8b + 2j .. 8b + 2j + 1. So
//    (word >> 2j) & 0x03030303 is elements 16w+4j .. 16w+4j+3, one code per
//    byte: one shift and one AND give a 4x8-bit dot product operand. Codes past
//    k, up to the row's end, are 1 (T = 0). Each backend pads rows its own way.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/error.h"
#include "model/weights/canonical.h"

namespace bitlab {

// Decodes I2_S bytes (codes, then the fp32 scale at offset n*k/4). Throws
// InputError naming `name` and the byte offset of a code 3 or a bad scale.
CanonicalTernary decode_i2s(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes);
// Packs `w` into I2_S: n*k/4 code bytes, the scale, and zeros up to +32 bytes.
void encode_i2s(const CanonicalTernary& w, std::span<uint8_t> out);

// Decodes a Hugging Face packed uint8 tensor [n/4, k]; the scale comes separately.
CanonicalTernary decode_hf_packed(std::string name, int64_t n, int64_t k, std::span<const uint8_t> packed,
                                  float scale);
void encode_hf_packed(const CanonicalTernary& w, std::span<uint8_t> out);

// Absmean quantisation of master weights W [n, k] (fp32 values).
CanonicalTernary quantize_absmean(std::string name, int64_t n, int64_t k, std::span<const float> w);

// Packs `w` into t2x16 words, n * row_words of them (row_words >= ceil(k/16)).
// Inline because the backends that use it link the model library, not the
// checkpoint readers whose library holds this file's other functions.
inline std::vector<uint32_t> pack_t2x16(const CanonicalTernary& w, int64_t row_words) {
  if (row_words * 16 < w.k)
    throw UsageError("pack_t2x16 '" + w.name + "': " + std::to_string(row_words) + " words cannot hold a row of " +
                     std::to_string(w.k));
  // Canonical byte 4g + j holds elements 16g + 4j + b (b = 0..3) in bits 2b;
  // spread puts them in bits 0-1 of byte lanes b, and word g takes it at 2j.
  // Bytes past the row are zero weights, as the canonical form's own tail is.
  const auto spread = [](uint32_t c) {
    return (c & 3u) | (((c >> 2) & 3u) << 8) | (((c >> 4) & 3u) << 16) | (((c >> 6) & 3u) << 24);
  };
  const int64_t rb = w.row_bytes();
  std::vector<uint32_t> out(size_t(w.n * row_words));
  for (int64_t r = 0; r < w.n; ++r) {
    const uint8_t* src = w.row(r);
    uint32_t* dst = out.data() + r * row_words;
    for (int64_t g = 0; g < row_words; ++g) {
      uint32_t word = 0;
      for (int64_t j = 0; j < 4; ++j) {
        const int64_t byte = 4 * g + j;
        word |= spread(byte < rb ? src[byte] : kZeroCodeByte) << (2 * j);
      }
      dst[g] = word;
    }
  }
  return out;
}

}  // namespace bitlab
