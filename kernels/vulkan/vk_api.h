// The Vulkan API as function pointers, loaded at run time from the loader
// (libvulkan.so.1) with dlopen. bitlab links no Vulkan library, so one binary
// runs its other backends on a machine with no Vulkan loader or driver, and
// `bitlab info` can say which of the two is missing.
//
// Three tables, as Vulkan defines them: global functions (before an instance),
// instance functions and device functions. Each list below is the only place a
// function is named; add one line to use another.
#pragma once
#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <vulkan/vulkan.h>

#include <string>

namespace bitlab::vk {

#define BITLAB_VK_GLOBAL_FUNCTIONS(X) \
  X(vkCreateInstance)                 \
  X(vkEnumerateInstanceVersion)       \
  X(vkEnumerateInstanceLayerProperties) \
  X(vkEnumerateInstanceExtensionProperties)

#define BITLAB_VK_INSTANCE_FUNCTIONS(X)      \
  X(vkDestroyInstance)                       \
  X(vkEnumeratePhysicalDevices)              \
  X(vkGetPhysicalDeviceProperties)           \
  X(vkGetPhysicalDeviceProperties2)          \
  X(vkGetPhysicalDeviceFeatures2)            \
  X(vkGetPhysicalDeviceMemoryProperties)     \
  X(vkGetPhysicalDeviceQueueFamilyProperties) \
  X(vkEnumerateDeviceExtensionProperties)    \
  X(vkCreateDevice)                          \
  X(vkGetDeviceProcAddr)

// Present only when VK_EXT_debug_utils is enabled (validation runs).
#define BITLAB_VK_DEBUG_FUNCTIONS(X) \
  X(vkCreateDebugUtilsMessengerEXT)  \
  X(vkDestroyDebugUtilsMessengerEXT)

#define BITLAB_VK_DEVICE_FUNCTIONS(X)  \
  X(vkDestroyDevice)                   \
  X(vkGetDeviceQueue)                  \
  X(vkDeviceWaitIdle)                  \
  X(vkCreateBuffer)                    \
  X(vkDestroyBuffer)                   \
  X(vkGetBufferMemoryRequirements)     \
  X(vkGetBufferDeviceAddress)          \
  X(vkAllocateMemory)                  \
  X(vkFreeMemory)                      \
  X(vkBindBufferMemory)                \
  X(vkMapMemory)                       \
  X(vkUnmapMemory)                     \
  X(vkCreateShaderModule)              \
  X(vkDestroyShaderModule)             \
  X(vkCreatePipelineLayout)            \
  X(vkDestroyPipelineLayout)           \
  X(vkCreateComputePipelines)          \
  X(vkDestroyPipeline)                 \
  X(vkCreateCommandPool)               \
  X(vkDestroyCommandPool)              \
  X(vkAllocateCommandBuffers)          \
  X(vkResetCommandBuffer)              \
  X(vkBeginCommandBuffer)              \
  X(vkEndCommandBuffer)                \
  X(vkCreateFence)                     \
  X(vkDestroyFence)                    \
  X(vkResetFences)                     \
  X(vkWaitForFences)                   \
  X(vkQueueSubmit)                     \
  X(vkCreateQueryPool)                 \
  X(vkDestroyQueryPool)                \
  X(vkGetQueryPoolResults)             \
  X(vkCmdBindPipeline)                 \
  X(vkCmdPushConstants)                \
  X(vkCmdDispatch)                     \
  X(vkCmdPipelineBarrier)              \
  X(vkCmdCopyBuffer)                   \
  X(vkCmdUpdateBuffer)                 \
  X(vkCmdFillBuffer)                   \
  X(vkCmdResetQueryPool)               \
  X(vkCmdWriteTimestamp)

#define BITLAB_VK_DECLARE(name) PFN_##name name = nullptr;

struct GlobalApi {
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
  BITLAB_VK_GLOBAL_FUNCTIONS(BITLAB_VK_DECLARE)
};
struct InstanceApi {
  BITLAB_VK_INSTANCE_FUNCTIONS(BITLAB_VK_DECLARE)
  BITLAB_VK_DEBUG_FUNCTIONS(BITLAB_VK_DECLARE)
};
struct DeviceApi {
  BITLAB_VK_DEVICE_FUNCTIONS(BITLAB_VK_DECLARE)
};

#undef BITLAB_VK_DECLARE

// The loader's global functions, or nullptr with `why` set when the loader
// cannot be opened. Loaded once per process; never unloaded.
const GlobalApi* load_global_api(std::string* why);
// Throws DeviceError naming the first function the loader does not provide
// (debug functions are left null unless `debug_utils`).
InstanceApi load_instance_api(const GlobalApi& g, VkInstance instance, bool debug_utils);
DeviceApi load_device_api(const InstanceApi& i, VkDevice device);

// A Vulkan struct, zeroed, with its sType set.
template <class T>
T make_info(VkStructureType type) {
  T v{};
  v.sType = type;
  return v;
}

// "VK_ERROR_OUT_OF_DEVICE_MEMORY", ... for messages.
const char* result_name(VkResult r);

}  // namespace bitlab::vk
