// The command stream: ops are recorded, not run, when the backend is called,
// and go to the queue when the host needs a result (a read, a timer, a
// synchronize) or every kCommandsPerSubmit commands (so the device starts on a
// long sequence while the rest is still being recorded). A decode step is thus
// one chain of command buffers with one wait at the end: token ids in, the
// argmax or the logits out.
//
// Ordering: a global memory barrier (compute and transfer writes before
// compute and transfer reads and writes) precedes every command unless the
// caller says the command is independent of the one before (parts of one fused
// matmul). Simple, and enough: the ops of a decoder layer form a chain.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/vulkan/vk_api.h"

namespace bitlab::vk {

class Device;

class Stream {
 public:
  static constexpr int kCommandsPerSubmit = 64;

  explicit Stream(Device& device);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void dispatch(VkPipeline pipeline, VkPipelineLayout layout, const void* push, uint32_t push_bytes,
                uint32_t groups_x, uint32_t groups_y, uint32_t groups_z, bool after_previous = true);
  void copy(VkBuffer src, uint64_t src_offset, VkBuffer dst, uint64_t dst_offset, uint64_t bytes);
  // Inline data (at most 65536 bytes, offset and size multiples of 4).
  void update(VkBuffer dst, uint64_t offset, const void* data, uint64_t bytes);
  void fill(VkBuffer dst, uint64_t offset, uint64_t bytes, uint32_t value);
  // Resets `count` queries from `first` (when count > 0), then writes a
  // timestamp into `query` once every earlier command has finished.
  void timestamp(VkQueryPool pool, uint32_t query, uint32_t reset_first, uint32_t reset_count);

  // Sends what is recorded to the queue without waiting.
  void submit();
  // Submits and waits until the device has finished everything; then runs
  // the releases deferred until now. Throws DeviceError on a device error or
  // a validation message.
  void finish();
  // Runs `release` once the device is done with every command recorded so far.
  void defer(std::function<void()> release);
  bool idle() const { return current_ == VK_NULL_HANDLE && in_flight_.empty(); }

 private:
  struct Slot {
    VkCommandBuffer cb = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
  };
  VkCommandBuffer begin();
  void barrier(VkCommandBuffer cb);
  void counted();

  Device& dev_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  std::vector<Slot> free_, in_flight_;
  Slot current_slot_;
  VkCommandBuffer current_ = VK_NULL_HANDLE;
  int commands_ = 0;
  std::vector<std::function<void()>> deferred_;
};

}  // namespace bitlab::vk
