// The Vulkan compute backend: weights, activations and the KV cache in device
// memory, every op a GLSL compute shader (shaders/), recorded into a command
// stream that runs when the host needs a result (stream.h). Registered as
// "vulkan" (vulkan_registry.cpp); this header is for tests and tools that pick
// the options the registry leaves at their defaults.
#pragma once
#include <cstdint>
#include <memory>

#include "model/backend.h"

namespace bitlab::vk {

enum class DotPath {
  Auto,        // integer dot products where the device reports them, else portable
  Portable,    // int32 arithmetic on extracted bytes: any device
  IntegerDot,  // OpSDot / OpSUDot: DeviceError if the device lacks them
};

struct VulkanOptions {
  int device = 0;  // index in the loader's device list (`bitlab info` shows it)
  DotPath dot = DotPath::Auto;
  // matmul_w2a8 with up to this many tokens runs the GEMV shader, with more the GEMM shader.
  int64_t gemv_max_tokens = 4;
  // false: never map device memory, copy through staging as on a discrete GPU (for tests).
  bool map_memory = true;
};

std::unique_ptr<Backend> make_backend(const VulkanOptions& options);
// The DotPath named by BITLAB_VULKAN_DOT (auto, int-dot, portable); Auto when
// unset. Throws UsageError for another value.
DotPath dot_path_from_env();

}  // namespace bitlab::vk
