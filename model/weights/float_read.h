// Float tensor data of checkpoint files, which GGUF and safetensors both store
// as F32, F16 or BF16: as fp32 for norms and master weights, as bf16 for the
// embedding table; and the check every loader applies to those values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "model/weights/canonical.h"
#include "model/weights/mapped_file.h"

namespace bitlab {

enum class FloatFormat { F32, F16, BF16 };

// The first `count` values of `bytes` (little-endian, any alignment), which
// must hold them, as fp32. Exact: every F16 and BF16 value is an fp32 value.
std::vector<float> floats_to_f32(std::span<const uint8_t> bytes, FloatFormat format, size_t count);

// The `count` values at `offset` of `source` as a bf16 table of its own (exact
// for F16 holding bf16 values). BF16 bytes are copied straight into the table,
// so the largest tensor is copied once and nothing points into a mapping.
HostArray<uint16_t> read_bf16_table(const ByteSource& source, uint64_t offset, FloatFormat format, size_t count);

// The largest magnitude a norm weight or embedding value may have. Trained
// models stay below 100; 1e6 is far above that, yet with every size below
// 2^31 it keeps each RMS norm's sum of squares and each logit (a dot product
// of an embedding row with a normalised, weighted hidden state) finite in fp32:
// 2^31 * (1e6)^2 and 2^31 * 1e6 * 2^15.5 * 1e6 are both below 1e27.
inline constexpr float kMaxWeightMagnitude = 1e6f;

// Refuses a NaN, an infinity or a value above `bound` in magnitude: throws
// InputError "<what>: tensor '<tensor>' element <i> is <v>, ...".
void check_weight_values(std::span<const float> values, std::string_view what, std::string_view tensor,
                         float bound = kMaxWeightMagnitude);
void check_weight_values(std::span<const uint16_t> bf16_values, std::string_view what, std::string_view tensor,
                         float bound = kMaxWeightMagnitude);

}  // namespace bitlab
