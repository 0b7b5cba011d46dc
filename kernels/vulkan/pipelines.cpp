#include "kernels/vulkan/pipelines.h"

#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "kernels/vulkan/device.h"
#include "model/error.h"

namespace bitlab::vk {

Pipelines::Pipelines(Device& device) : dev_(device) {
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushBytes};
  auto ci = make_info<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
  ci.pushConstantRangeCount = 1;
  ci.pPushConstantRanges = &range;
  const VkResult r = dev_.api().vkCreatePipelineLayout(dev_.handle(), &ci, nullptr, &layout_);
  if (r != VK_SUCCESS) throw DeviceError(fmt::format("vulkan: vkCreatePipelineLayout failed: {}", result_name(r)));
}

namespace {
uint64_t key_of(std::string_view name, std::span<const uint32_t> constants) {
  uint64_t h = std::hash<std::string_view>{}(name);
  for (uint32_t c : constants) h = (h ^ c) * 0x100000001b3ull;
  return h;
}
}  // namespace

Pipelines::~Pipelines() {
  for (auto& [key, e] : cache_) dev_.api().vkDestroyPipeline(dev_.handle(), e.pipeline, nullptr);
  dev_.api().vkDestroyPipelineLayout(dev_.handle(), layout_, nullptr);
}

VkPipeline Pipelines::get(std::string_view name, std::span<const uint32_t> constants) {
  const uint64_t key = key_of(name, constants);
  for (auto [it, end] = cache_.equal_range(key); it != end; ++it)
    if (it->second.name == name && std::equal(constants.begin(), constants.end(), it->second.constants.begin(),
                                              it->second.constants.end()))
      return it->second.pipeline;
  const ShaderBlob* blob = nullptr;
  for (const ShaderBlob& b : shader_blobs())
    if (name == b.name) blob = &b;
  if (!blob) throw DeviceError(fmt::format("vulkan: no shader named '{}' is built in", name));

  const DeviceApi& api = dev_.api();
  auto mi = make_info<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
  mi.codeSize = blob->count * sizeof(uint32_t);
  mi.pCode = blob->words;
  VkShaderModule module = VK_NULL_HANDLE;
  VkResult r = api.vkCreateShaderModule(dev_.handle(), &mi, nullptr, &module);
  if (r != VK_SUCCESS)
    throw DeviceError(fmt::format("vulkan: shader '{}' was refused: {}", name, result_name(r)));

  std::vector<VkSpecializationMapEntry> entries;
  for (uint32_t i = 0; i < constants.size(); ++i)
    entries.push_back({i, uint32_t(i * sizeof(uint32_t)), sizeof(uint32_t)});
  VkSpecializationInfo spec{uint32_t(entries.size()), entries.data(), constants.size() * sizeof(uint32_t),
                            constants.data()};
  auto ci = make_info<VkComputePipelineCreateInfo>(VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO);
  ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = constants.empty() ? nullptr : &spec;
  ci.layout = layout_;
  VkPipeline pipeline = VK_NULL_HANDLE;
  r = api.vkCreateComputePipelines(dev_.handle(), VK_NULL_HANDLE, 1, &ci, nullptr, &pipeline);
  api.vkDestroyShaderModule(dev_.handle(), module, nullptr);
  if (r != VK_SUCCESS)
    throw DeviceError(fmt::format("vulkan: pipeline for shader '{}' failed: {}", name, result_name(r)));
  cache_.emplace(key, Entry{std::string(name), {constants.begin(), constants.end()}, pipeline});
  return pipeline;
}

}  // namespace bitlab::vk
