// One Vulkan device opened for compute: instance, logical device, one queue,
// what the device can do (DeviceCaps), memory allocation, the command stream
// and the pipelines. Buffers and backends share it through a shared_ptr, so it
// lives until the last buffer made on it is gone; opening the same index twice
// in one process returns the same Device while it is alive.
//
// Requirements (checked, with the missing one named): Vulkan 1.2, a compute
// queue, bufferDeviceAddress (tensors reach shaders as device addresses in push
// constants), storageBuffer8BitAccess (int8 activations at any byte offset),
// storageBuffer16BitAccess (bf16 tables) and subgroup arithmetic in compute
// shaders (row sums in the GEMV and LM head). Used when present: integer dot
// products (VK_KHR_shader_integer_dot_product or Vulkan 1.3) and timestamps.
//
// Validation: with BITLAB_VULKAN_VALIDATION=1 (or VK_LAYER_KHRONOS_validation
// in VK_INSTANCE_LAYERS) the Khronos validation layer runs with synchronisation
// validation, every warning or error it reports is printed and counted, and the
// next wait on the device throws DeviceError carrying the first one.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/vulkan/vk_api.h"

namespace bitlab::vk {

class Stream;
class Pipelines;

struct DeviceCaps {
  bool discrete = false;             // separate memory: device-local buffers are not host-visible
  bool int_dot = false;              // OpSDot/OpSUDot on packed 4x8-bit vectors
  bool timestamps = false;
  double timestamp_period_ns = 1.0;
  uint64_t timestamp_mask = ~uint64_t(0);
  uint32_t subgroup_size = 32;
  uint32_t max_workgroup_size = 128;
  uint32_t max_groups[3] = {65535, 65535, 65535};
  uint64_t device_local_bytes = 0;   // largest device-local heap
  uint64_t max_allocation_bytes = 0; // maxMemoryAllocationSize
};

// One entry of vkEnumeratePhysicalDevices, for `bitlab info` and error messages.
struct DeviceSummary {
  std::string name;
  std::string driver;   // "NVIDIA 550.54.14, Vulkan 1.3.277"
  std::string missing;  // the first requirement it lacks; empty when bitlab can use it
  bool int_dot = false;
  bool int_dot_accelerated = false;
};

// Every device the loader reports; empty with `why` set when there is no
// loader, no driver or no device.
std::vector<DeviceSummary> list_devices(std::string* why);
std::string describe(const std::vector<DeviceSummary>& devices);

// Validation messages (warnings and errors) seen in this process so far.
uint64_t validation_message_count();
bool validation_requested();

// A device buffer: handle, memory, its address for shaders, and a host pointer
// where the memory is host-visible.
struct Allocation {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkDeviceAddress address = 0;
  void* mapped = nullptr;
  uint64_t bytes = 0;
};

class Device {
 public:
  // Throws DeviceError: no loader, no such index (listing those there are),
  // or a device that lacks a requirement (naming it). With `map_memory`
  // false, tensor memory is never mapped, even where the device could: every
  // transfer then goes through staging, as on a discrete GPU (tests use this
  // to cover that path on lavapipe).
  static std::shared_ptr<Device> open(int index, bool map_memory = true);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const DeviceApi& api() const { return api_; }
  VkDevice handle() const { return device_; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return queue_family_; }
  const DeviceCaps& caps() const { return caps_; }
  const std::string& name() const { return name_; }
  const std::string& driver() const { return driver_; }

  // Device memory for tensors (device-local; host-mapped where the device
  // shares memory with the host) or host-visible staging memory, `slack`
  // bytes longer than asked. Throws DeviceError naming the size asked for and
  // the device when it cannot be had.
  Allocation allocate(uint64_t bytes, bool staging, uint64_t slack = 0);
  // Frees now: the caller made sure the device no longer uses it.
  void free(Allocation& a);
  // The host-visible buffer for copies to and from device-local memory, at
  // least min(bytes, 64 MiB) long. One transfer at a time: every use ends
  // with Stream::finish() before the next.
  const Allocation& staging(uint64_t bytes);

  Stream& stream() { return *stream_; }
  Pipelines& pipelines() { return *pipelines_; }

  // Throws DeviceError if the validation layer reported something since the last check.
  void check_validation();

 private:
  Device() = default;
  void create(int index, bool map_memory);
  uint32_t memory_type(uint32_t type_bits, bool staging) const;

  const GlobalApi* global_ = nullptr;
  InstanceApi instance_api_;
  DeviceApi api_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkPhysicalDeviceMemoryProperties memory_{};
  DeviceCaps caps_;
  std::string name_, driver_;
  bool map_memory_ = true;
  uint64_t validation_seen_ = 0;
  Allocation staging_;
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<Pipelines> pipelines_;
};

}  // namespace bitlab::vk
