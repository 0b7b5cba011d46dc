// Float tensor data of checkpoint files, which GGUF and safetensors both store
// as F32, F16 or BF16: as fp32 for norms and master weights, as bf16 for the
// embedding table.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/weights/canonical.h"

namespace bitlab {

enum class FloatFormat { F32, F16, BF16 };

// The first `count` values of `bytes` (little-endian, any alignment), which
// must hold them, as fp32. Exact: every F16 and BF16 value is an fp32 value.
std::vector<float> floats_to_f32(std::span<const uint8_t> bytes, FloatFormat format, size_t count);

// The same values as bf16, for the embedding table. BF16 bytes at a 2-byte
// aligned address are used in place, kept alive by `owner` (the file mapping),
// so the largest tensor is not copied; anything else, or bytes with no owner,
// becomes a table of its own (exact for F16 holding bf16 values).
HostArray<uint16_t> floats_to_bf16_table(std::span<const uint8_t> bytes, FloatFormat format, size_t count,
                                         std::shared_ptr<const void> owner);

}  // namespace bitlab
