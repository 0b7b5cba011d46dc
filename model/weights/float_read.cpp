#include "model/weights/float_read.h"

#include <cmath>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "model/error.h"
#include "model/tensor.h"
#include "model/weights/half.h"

namespace bitlab {

std::vector<float> floats_to_f32(std::span<const uint8_t> bytes, FloatFormat format, size_t count) {
  std::vector<float> v(count);
  const uint8_t* p = bytes.data();
  if (format == FloatFormat::F32) {
    std::memcpy(v.data(), p, count * 4);
    return v;
  }
  for (size_t i = 0; i < count; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    v[i] = format == FloatFormat::BF16 ? bf16_to_f32(h) : f16_to_f32(h);
  }
  return v;
}

HostArray<uint16_t> read_bf16_table(const ByteSource& source, uint64_t offset, FloatFormat format, size_t count) {
  auto v = std::make_shared<std::vector<uint16_t>>(count);
  if (format == FloatFormat::BF16) {
    source.copy(offset, v->data(), uint64_t(count) * 2);
  } else {
    const uint64_t width = format == FloatFormat::F32 ? 4 : 2;
    const std::vector<float> f = floats_to_f32(source.copy(offset, uint64_t(count) * width), format, count);
    for (size_t i = 0; i < f.size(); ++i) (*v)[i] = f32_to_bf16(f[i]);
  }
  HostArray<uint16_t> table;
  table.data = std::span<const uint16_t>(*v);
  table.owner = std::move(v);
  return table;
}

namespace {

[[noreturn]] void refuse(float v, size_t i, std::string_view what, std::string_view tensor, float bound) {
  throw InputError(fmt::format("{}: tensor '{}' element {} is {}, {}", what, tensor, i, v,
                               std::isfinite(v) ? fmt::format("beyond the {:g} a weight may be in magnitude", bound)
                                                : std::string("not a finite number")));
}

}  // namespace

void check_weight_values(std::span<const float> values, std::string_view what, std::string_view tensor,
                         float bound) {
  for (size_t i = 0; i < values.size(); ++i)
    if (!(std::fabs(values[i]) <= bound)) refuse(values[i], i, what, tensor, bound);  // NaN fails the comparison
}

void check_weight_values(std::span<const uint16_t> bf16_values, std::string_view what, std::string_view tensor,
                         float bound) {
  for (size_t i = 0; i < bf16_values.size(); ++i) {
    const float v = bf16_to_f32(bf16_values[i]);
    if (!(std::fabs(v) <= bound)) refuse(v, i, what, tensor, bound);
  }
}

}  // namespace bitlab
