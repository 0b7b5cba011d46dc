#include "kernels/vulkan/stream.h"

#include <fmt/format.h>

#include "kernels/vulkan/device.h"
#include "model/error.h"

namespace bitlab::vk {
namespace {
void check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) throw DeviceError(fmt::format("vulkan: {} failed: {}", what, result_name(r)));
}
}  // namespace

Stream::Stream(Device& device) : dev_(device) {
  auto ci = make_info<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
  ci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT | VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
  ci.queueFamilyIndex = dev_.queue_family();
  check(dev_.api().vkCreateCommandPool(dev_.handle(), &ci, nullptr, &pool_), "vkCreateCommandPool");
}

Stream::~Stream() {
  const DeviceApi& api = dev_.api();
  api.vkDeviceWaitIdle(dev_.handle());
  for (auto& f : deferred_) f();
  if (current_) api.vkEndCommandBuffer(current_);
  std::vector<Slot> all = free_;
  all.insert(all.end(), in_flight_.begin(), in_flight_.end());
  if (current_slot_.cb) all.push_back(current_slot_);
  for (const Slot& s : all) api.vkDestroyFence(dev_.handle(), s.fence, nullptr);
  api.vkDestroyCommandPool(dev_.handle(), pool_, nullptr);  // frees its command buffers
}

VkCommandBuffer Stream::begin() {
  if (current_) return current_;
  const DeviceApi& api = dev_.api();
  if (free_.empty()) {
    Slot s;
    auto ai = make_info<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    check(api.vkAllocateCommandBuffers(dev_.handle(), &ai, &s.cb), "vkAllocateCommandBuffers");
    auto fi = make_info<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
    check(api.vkCreateFence(dev_.handle(), &fi, nullptr, &s.fence), "vkCreateFence");
    free_.push_back(s);
  }
  current_slot_ = free_.back();
  free_.pop_back();
  check(api.vkResetCommandBuffer(current_slot_.cb, 0), "vkResetCommandBuffer");
  auto bi = make_info<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(api.vkBeginCommandBuffer(current_slot_.cb, &bi), "vkBeginCommandBuffer");
  current_ = current_slot_.cb;
  commands_ = 0;
  return current_;
}

void Stream::barrier(VkCommandBuffer cb) {
  auto b = make_info<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
  b.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  b.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                    VK_ACCESS_TRANSFER_WRITE_BIT;
  const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  dev_.api().vkCmdPipelineBarrier(cb, stages, stages, 0, 1, &b, 0, nullptr, 0, nullptr);
}

void Stream::counted() {
  if (++commands_ >= kCommandsPerSubmit) submit();
}

void Stream::dispatch(VkPipeline pipeline, VkPipelineLayout layout, const void* push, uint32_t push_bytes,
                      uint32_t gx, uint32_t gy, uint32_t gz, bool after_previous) {
  if (gx == 0 || gy == 0 || gz == 0) return;
  const DeviceApi& api = dev_.api();
  VkCommandBuffer cb = begin();
  // The first command of a buffer always gets a barrier: it orders it after
  // the buffers submitted before.
  if (after_previous || commands_ == 0) barrier(cb);
  api.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
  api.vkCmdPushConstants(cb, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
  api.vkCmdDispatch(cb, gx, gy, gz);
  counted();
}

void Stream::copy(VkBuffer src, uint64_t src_offset, VkBuffer dst, uint64_t dst_offset, uint64_t bytes) {
  if (bytes == 0) return;
  VkCommandBuffer cb = begin();
  barrier(cb);
  VkBufferCopy region{src_offset, dst_offset, bytes};
  dev_.api().vkCmdCopyBuffer(cb, src, dst, 1, &region);
  counted();
}

void Stream::update(VkBuffer dst, uint64_t offset, const void* data, uint64_t bytes) {
  if (bytes == 0) return;
  VkCommandBuffer cb = begin();
  barrier(cb);
  dev_.api().vkCmdUpdateBuffer(cb, dst, offset, bytes, data);
  counted();
}

void Stream::fill(VkBuffer dst, uint64_t offset, uint64_t bytes, uint32_t value) {
  if (bytes == 0) return;
  VkCommandBuffer cb = begin();
  barrier(cb);
  dev_.api().vkCmdFillBuffer(cb, dst, offset, bytes, value);
  counted();
}

void Stream::timestamp(VkQueryPool pool, uint32_t query, uint32_t reset_first, uint32_t reset_count) {
  const DeviceApi& api = dev_.api();
  VkCommandBuffer cb = begin();
  if (reset_count) api.vkCmdResetQueryPool(cb, pool, reset_first, reset_count);
  api.vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool, query);
}

void Stream::submit() {
  if (!current_) return;
  const DeviceApi& api = dev_.api();
  // Make every write of this buffer visible to the host, for the reads that follow a wait.
  auto b = make_info<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
  b.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  b.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  api.vkCmdPipelineBarrier(current_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                           VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &b, 0, nullptr, 0, nullptr);
  check(api.vkEndCommandBuffer(current_), "vkEndCommandBuffer");
  const Slot slot = current_slot_;
  auto si = make_info<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO);
  si.commandBufferCount = 1;
  si.pCommandBuffers = &slot.cb;
  current_ = VK_NULL_HANDLE;
  current_slot_ = Slot{};
  const VkResult r = api.vkQueueSubmit(dev_.queue(), 1, &si, slot.fence);
  if (r != VK_SUCCESS) {
    free_.push_back(slot);
    check(r, "vkQueueSubmit");
  }
  in_flight_.push_back(slot);
}

void Stream::finish() {
  submit();
  const DeviceApi& api = dev_.api();
  VkResult r = VK_SUCCESS;
  if (!in_flight_.empty()) {
    std::vector<VkFence> fences;
    for (const Slot& s : in_flight_) fences.push_back(s.fence);
    r = api.vkWaitForFences(dev_.handle(), uint32_t(fences.size()), fences.data(), VK_TRUE, UINT64_MAX);
    if (r == VK_SUCCESS) r = api.vkResetFences(dev_.handle(), uint32_t(fences.size()), fences.data());
    free_.insert(free_.end(), in_flight_.begin(), in_flight_.end());
    in_flight_.clear();
  }
  check(r, "waiting for the device");
  std::vector<std::function<void()>> releases;
  releases.swap(deferred_);
  for (auto& f : releases) f();
  dev_.check_validation();
}

void Stream::defer(std::function<void()> release) {
  if (idle()) {
    release();
    return;
  }
  deferred_.push_back(std::move(release));
}

}  // namespace bitlab::vk
