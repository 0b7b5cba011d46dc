// The Vulkan compute backend: weights, activations and the KV cache in device
// memory, every op a GLSL compute shader (shaders/), recorded into a command
// stream that runs when the host needs a result (stream.h). Registered as
// "vulkan" (vulkan_registry.cpp); this header is for tests and tools that pick
// the options the registry leaves at their defaults.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/backend.h"

namespace bitlab::vk {

enum class DotPath {
  Auto,        // integer dot products where the device reports them, else portable
  Portable,    // int32 arithmetic on extracted bytes: any device
  IntegerDot,  // OpSDot / OpSUDot: DeviceError if the device lacks them
};

struct VulkanOptions {
  int device = 0;  // index in the loader's device list (`bitlab info` shows it)
  DotPath dot = DotPath::Auto;  // both ops below, unless they name their own path
  // The kernel variants (vulkan_variants): Auto follows `dot`.
  DotPath matmul_dot = DotPath::Auto;
  DotPath lm_head_dot = DotPath::Auto;
  // matmul_w2a8's weight layout: t2x16 (2 bits) or b3x80 (1.6 bits), weights.h.
  WeightBits matmul_bits = WeightBits::Two;
  // matmul_w2a8 with up to this many tokens runs the GEMV shader, with more the GEMM shader.
  int64_t gemv_max_tokens = 4;
  // false: never map device memory, copy through staging as on a discrete GPU (for tests).
  bool map_memory = true;
};

std::unique_ptr<Backend> make_backend(const VulkanOptions& options);
// The backend's kernel variants: integer dot product (OpSDot / OpSUDot, usable
// where the device reports shaderIntegerDotProduct, the default there) or
// portable int32 arithmetic (any device), per op; for matmul_w2a8 also on
// 1.6-bit weights (b3x80), never a default.
inline constexpr const char* kMatmulIntDot = "t2i8_matmul_intdot__vulkan";
inline constexpr const char* kMatmulPortable = "t2i8_matmul_portable__vulkan";
inline constexpr const char* kMatmulB3IntDot = "t1p6i8_matmul_b3_intdot__vulkan";
inline constexpr const char* kMatmulB3Portable = "t1p6i8_matmul_b3_portable__vulkan";
inline constexpr const char* kHeadIntDot = "i8_i8_lm_head_intdot__vulkan";
inline constexpr const char* kHeadPortable = "i8_i8_lm_head_portable__vulkan";
struct VulkanVariant {
  const char* name;
  const char* op;
  DotPath VulkanOptions::*option;  // the option this variant sets
  DotPath path;                    // to this
  WeightBits bits = WeightBits::Two;  // matmul_w2a8: the weight layout it sets (VulkanOptions::matmul_bits)
};
std::span<const VulkanVariant> vulkan_variants();
// Sets the option of each pinned variant (the registry checked the names).
void apply_pins(VulkanOptions& o, const std::vector<std::string>& pins);

}  // namespace bitlab::vk
