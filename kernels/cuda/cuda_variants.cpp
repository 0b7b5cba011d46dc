// The CUDA backend's kernel variants (cuda_backend.h) and their mapping onto
// CudaOptions. Host code only: nothing here touches the driver.
#include <algorithm>
#include <string_view>

#include "kernels/cuda/cuda_backend.h"

namespace bitlab::cuda {
namespace {

constexpr CudaVariant kVariants[] = {
    {"t2i8_matmul_gemv_mma__cuda", "matmul_w2a8", true, &CudaOptions::gemv, true},
    {"t2i8_matmul_mma__cuda", "matmul_w2a8", false, &CudaOptions::gemv, false},
    {"f32_attention_tiled__cuda", "attention", true, &CudaOptions::tiled_attention, true},
    {"f32_attention_rows__cuda", "attention", false, &CudaOptions::tiled_attention, false},
};

}  // namespace

std::span<const CudaVariant> cuda_variants() { return kVariants; }

CudaOptions apply_pins(CudaOptions base, const std::vector<std::string>& pins) {
  for (const std::string& pin : pins)
    for (const CudaVariant& v : kVariants)
      if (pin == v.name) base.*(v.option) = v.value;
  return base;
}

std::vector<std::pair<std::string, std::string>> chosen_variants(const CudaOptions& o) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const CudaVariant& v : kVariants)
    if (o.*(v.option) == v.value) out.emplace_back(v.op, v.name);
  return out;
}

}  // namespace bitlab::cuda
