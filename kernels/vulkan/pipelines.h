// Compute pipelines made from the SPIR-V embedded in the binary (one blob per
// shader variant, compiled by glslc at build time; see shaders/ and
// CMakeLists.txt). A pipeline is a shader variant plus its specialisation
// constants (constant_id 0 is the workgroup size); each is created on first
// use and kept. Every pipeline shares one layout: no descriptor sets (tensors
// arrive as device addresses) and 128 bytes of push constants, the minimum
// every device offers.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kernels/vulkan/vk_api.h"

namespace bitlab::vk {

class Device;

struct ShaderBlob {
  const char* name;
  const uint32_t* words;
  size_t count;
};
// Every embedded shader variant (generated: shader_table.cpp in the build tree).
std::span<const ShaderBlob> shader_blobs();

class Pipelines {
 public:
  static constexpr uint32_t kPushBytes = 128;

  explicit Pipelines(Device& device);
  ~Pipelines();
  Pipelines(const Pipelines&) = delete;
  Pipelines& operator=(const Pipelines&) = delete;

  // The pipeline of shader variant `name` with specialisation constants
  // 0..n-1 set to `constants`. Throws DeviceError for an unknown name.
  // Called once per recorded op, so a hit allocates nothing.
  VkPipeline get(std::string_view name, std::span<const uint32_t> constants);
  VkPipelineLayout layout() const { return layout_; }

 private:
  Device& dev_;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  struct Entry {
    std::string name;
    std::vector<uint32_t> constants;
    VkPipeline pipeline;
  };
  std::unordered_multimap<uint64_t, Entry> cache_;  // by hash of name and constants
};

}  // namespace bitlab::vk
