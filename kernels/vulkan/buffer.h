// Device memory for tensors. Writes of up to 64 KiB (4-byte aligned) are
// recorded into the command stream (vkCmdUpdateBuffer), so a decode step's
// token ids travel with its commands; larger writes, and every read, wait for
// the stream and copy through mapped memory (shared-memory devices) or a
// staging buffer (discrete GPUs).
//
// Each allocation carries 64 bytes of slack past its end: the matmul shaders
// read int8 rows in whole 64-weight blocks and may touch up to 48 bytes past a
// tensor (those bytes meet zero weights, so they never change a result).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/vulkan/device.h"
#include "model/tensor.h"

namespace bitlab::vk {

class VulkanBuffer final : public Buffer {
 public:
  static constexpr uint64_t kSlackBytes = 64;
  // Buffers up to this size keep a host copy of what the host wrote (see host_copy).
  static constexpr size_t kHostCopyBytes = 4096;

  VulkanBuffer(std::shared_ptr<Device> device, size_t bytes);
  ~VulkanBuffer() override;
  VulkanBuffer(const VulkanBuffer&) = delete;
  VulkanBuffer& operator=(const VulkanBuffer&) = delete;

  size_t bytes() const override { return bytes_; }
  void write(const void* src, size_t offset, size_t n) override;
  void read(void* dst, size_t offset, size_t n) const override;

  Device& device() const { return *dev_; }
  VkBuffer handle() const { return alloc_.buffer; }
  VkDeviceAddress address() const { return alloc_.address; }
  bool mapped() const { return alloc_.mapped != nullptr; }
  // The buffer's contents as the host wrote them, for small buffers no shader
  // has written since: lets embed check token ids without waiting for the
  // device. nullptr when unknown.
  const uint8_t* host_copy() const { return host_copy_valid_ ? host_copy_.data() : nullptr; }
  // Called for every buffer a recorded command writes.
  void written_by_device() { host_copy_valid_ = false; }

 private:
  std::shared_ptr<Device> dev_;
  Allocation alloc_;
  size_t bytes_ = 0;
  std::vector<uint8_t> host_copy_;
  bool host_copy_valid_ = false;
};

}  // namespace bitlab::vk
