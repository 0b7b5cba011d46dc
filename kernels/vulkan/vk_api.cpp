#include "kernels/vulkan/vk_api.h"

#include <dlfcn.h>

#include <mutex>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab::vk {

const GlobalApi* load_global_api(std::string* why) {
  static GlobalApi api;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      error = "the Vulkan loader libvulkan.so.1 is not installed (Debian: libvulkan1)";
      return;
    }
    api.vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
    if (!api.vkGetInstanceProcAddr) {
      error = "libvulkan.so.1 has no vkGetInstanceProcAddr";
      return;
    }
#define BITLAB_VK_LOAD(name) \
  api.name = reinterpret_cast<PFN_##name>(api.vkGetInstanceProcAddr(nullptr, #name));
    BITLAB_VK_GLOBAL_FUNCTIONS(BITLAB_VK_LOAD)
#undef BITLAB_VK_LOAD
    if (!api.vkCreateInstance || !api.vkEnumerateInstanceVersion) {
      error = "the Vulkan loader is older than Vulkan 1.1 (no vkEnumerateInstanceVersion)";
      api.vkGetInstanceProcAddr = nullptr;
    }
  });
  if (!api.vkGetInstanceProcAddr) {
    if (why) *why = error;
    return nullptr;
  }
  return &api;
}

InstanceApi load_instance_api(const GlobalApi& g, VkInstance instance, bool debug_utils) {
  InstanceApi api;
#define BITLAB_VK_LOAD(name)                                                                  \
  api.name = reinterpret_cast<PFN_##name>(g.vkGetInstanceProcAddr(instance, #name));         \
  if (!api.name) throw DeviceError("vulkan: the loader does not provide " #name);
  BITLAB_VK_INSTANCE_FUNCTIONS(BITLAB_VK_LOAD)
  if (debug_utils) {
    BITLAB_VK_DEBUG_FUNCTIONS(BITLAB_VK_LOAD)
  }
#undef BITLAB_VK_LOAD
  return api;
}

DeviceApi load_device_api(const InstanceApi& i, VkDevice device) {
  DeviceApi api;
#define BITLAB_VK_LOAD(name)                                                          \
  api.name = reinterpret_cast<PFN_##name>(i.vkGetDeviceProcAddr(device, #name));     \
  if (!api.name) throw DeviceError("vulkan: the driver does not provide " #name);
  BITLAB_VK_DEVICE_FUNCTIONS(BITLAB_VK_LOAD)
#undef BITLAB_VK_LOAD
  return api;
}

const char* result_name(VkResult r) {
  switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_INVALID_EXTERNAL_HANDLE: return "VK_ERROR_INVALID_EXTERNAL_HANDLE";
    case VK_ERROR_FRAGMENTATION: return "VK_ERROR_FRAGMENTATION";
    case VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS: return "VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS";
    case VK_ERROR_UNKNOWN: return "VK_ERROR_UNKNOWN";
    default: return "VkResult";
  }
}

}  // namespace bitlab::vk
