#include "model/weights/float_read.h"

#include <cstring>
#include <memory>

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

HostArray<uint16_t> floats_to_bf16_table(std::span<const uint8_t> bytes, FloatFormat format, size_t count,
                                         std::shared_ptr<const void> owner) {
  HostArray<uint16_t> table;
  if (owner && format == FloatFormat::BF16 && reinterpret_cast<uintptr_t>(bytes.data()) % 2 == 0) {
    table.data = std::span(reinterpret_cast<const uint16_t*>(bytes.data()), count);
    table.owner = std::move(owner);
    return table;
  }
  const std::vector<float> f = floats_to_f32(bytes, format, count);
  auto v = std::make_shared<std::vector<uint16_t>>(f.size());
  for (size_t i = 0; i < f.size(); ++i) (*v)[i] = f32_to_bf16(f[i]);
  table.data = std::span<const uint16_t>(*v);
  table.owner = std::move(v);
  return table;
}

}  // namespace bitlab
