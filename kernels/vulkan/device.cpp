#include "kernels/vulkan/device.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "kernels/vulkan/pipelines.h"
#include "kernels/vulkan/stream.h"
#include "model/error.h"

namespace bitlab::vk {
namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

std::atomic<uint64_t> g_validation_count{0};
std::mutex g_validation_mutex;
std::string g_last_validation_message;

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                     VkDebugUtilsMessageTypeFlagsEXT,
                                                     const VkDebugUtilsMessengerCallbackDataEXT* data, void*) {
  const char* text = data && data->pMessage ? data->pMessage : "(no message)";
  std::fprintf(stderr, "vulkan validation: %s\n", text);
  {
    std::lock_guard<std::mutex> lock(g_validation_mutex);
    g_last_validation_message = text;
  }
  g_validation_count.fetch_add(1);
  return VK_FALSE;
}

std::string version_string(uint32_t v) {
  return fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));
}

void check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) throw DeviceError(fmt::format("vulkan: {} failed: {}", what, result_name(r)));
}

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
  return std::any_of(exts.begin(), exts.end(),
                     [&](const VkExtensionProperties& e) { return std::strcmp(e.extensionName, name) == 0; });
}

// An instance with, when validating, the Khronos layer, synchronisation
// validation and a messenger that counts what it reports.
struct Instance {
  const GlobalApi* g = nullptr;
  InstanceApi api;
  VkInstance handle = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
};

Instance create_instance(bool validation) {
  Instance inst;
  std::string why;
  inst.g = load_global_api(&why);
  if (!inst.g) throw DeviceError("vulkan: " + why);
  uint32_t loader_version = 0;
  check(inst.g->vkEnumerateInstanceVersion(&loader_version), "vkEnumerateInstanceVersion");
  if (loader_version < VK_API_VERSION_1_2)
    throw DeviceError(fmt::format("vulkan: the loader supports Vulkan {}; bitlab needs 1.2",
                                  version_string(loader_version)));

  auto app = make_info<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
  app.pApplicationName = "bitlab";
  app.pEngineName = "bitlab";
  app.apiVersion = std::min<uint32_t>(loader_version, VK_API_VERSION_1_3);

  std::vector<const char*> layers, extensions;
  auto messenger_info =
      make_info<VkDebugUtilsMessengerCreateInfoEXT>(VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT);
  messenger_info.messageSeverity =
      VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  messenger_info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  messenger_info.pfnUserCallback = on_validation_message;
  const VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
  auto features = make_info<VkValidationFeaturesEXT>(VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT);
  features.enabledValidationFeatureCount = 1;
  features.pEnabledValidationFeatures = enables;
  features.pNext = &messenger_info;

  auto ci = make_info<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
  ci.pApplicationInfo = &app;
  if (validation) {
    uint32_t n = 0;
    check(inst.g->vkEnumerateInstanceLayerProperties(&n, nullptr), "vkEnumerateInstanceLayerProperties");
    std::vector<VkLayerProperties> props(n);
    check(inst.g->vkEnumerateInstanceLayerProperties(&n, props.data()), "vkEnumerateInstanceLayerProperties");
    const bool present = std::any_of(props.begin(), props.end(), [](const VkLayerProperties& p) {
      return std::strcmp(p.layerName, kValidationLayer) == 0;
    });
    if (!present)
      throw DeviceError(std::string("vulkan: validation was requested but ") + kValidationLayer +
                        " is not installed (Debian: vulkan-validationlayers)");
    layers.push_back(kValidationLayer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
    ci.pNext = &features;
  }
  ci.enabledLayerCount = uint32_t(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = uint32_t(extensions.size());
  ci.ppEnabledExtensionNames = extensions.data();
  const VkResult r = inst.g->vkCreateInstance(&ci, nullptr, &inst.handle);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
    throw DeviceError("vulkan: no Vulkan driver is installed (Debian: mesa-vulkan-drivers for lavapipe, or the "
                      "GPU vendor's driver)");
  check(r, "vkCreateInstance");
  try {
    inst.api = load_instance_api(*inst.g, inst.handle, validation);
    if (validation)
      check(inst.api.vkCreateDebugUtilsMessengerEXT(inst.handle, &messenger_info, nullptr, &inst.messenger),
            "vkCreateDebugUtilsMessengerEXT");
  } catch (...) {
    if (inst.api.vkDestroyInstance) inst.api.vkDestroyInstance(inst.handle, nullptr);
    throw;
  }
  return inst;
}

std::vector<VkPhysicalDevice> physical_devices(const Instance& inst) {
  uint32_t n = 0;
  check(inst.api.vkEnumeratePhysicalDevices(inst.handle, &n, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> devs(n);
  check(inst.api.vkEnumeratePhysicalDevices(inst.handle, &n, devs.data()), "vkEnumeratePhysicalDevices");
  devs.resize(n);
  return devs;
}

// Everything bitlab asks of one physical device.
struct Survey {
  VkPhysicalDeviceProperties props{};
  VkPhysicalDeviceVulkan11Properties p11 =
      make_info<VkPhysicalDeviceVulkan11Properties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES);
  VkPhysicalDeviceDriverProperties driver =
      make_info<VkPhysicalDeviceDriverProperties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES);
  VkPhysicalDeviceShaderIntegerDotProductProperties dot_props =
      make_info<VkPhysicalDeviceShaderIntegerDotProductProperties>(
          VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES);
  VkPhysicalDeviceVulkan11Features f11 =
      make_info<VkPhysicalDeviceVulkan11Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES);
  VkPhysicalDeviceVulkan12Features f12 =
      make_info<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES);
  VkPhysicalDeviceShaderIntegerDotProductFeatures fdot = make_info<VkPhysicalDeviceShaderIntegerDotProductFeatures>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES);
  bool dot_extension = false;  // the KHR extension is listed (needed to enable it before 1.3)
  bool dot_available = false;  // the struct may be chained at all
  int compute_family = -1;
  uint32_t timestamp_bits = 0;
  std::string missing;
};

Survey survey(const Instance& inst, VkPhysicalDevice pd) {
  Survey s;
  inst.api.vkGetPhysicalDeviceProperties(pd, &s.props);
  if (s.props.apiVersion < VK_API_VERSION_1_2) {
    s.missing = fmt::format("it supports Vulkan {}; bitlab needs 1.2", version_string(s.props.apiVersion));
    return s;
  }
  uint32_t n = 0;
  inst.api.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  inst.api.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());
  s.dot_extension = has_extension(exts, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
  s.dot_available = s.dot_extension || s.props.apiVersion >= VK_API_VERSION_1_3;

  auto p2 = make_info<VkPhysicalDeviceProperties2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2);
  p2.pNext = &s.p11;
  s.p11.pNext = &s.driver;
  if (s.dot_available) s.driver.pNext = &s.dot_props;
  inst.api.vkGetPhysicalDeviceProperties2(pd, &p2);
  s.p11.pNext = s.driver.pNext = nullptr;  // the survey is copied; no pointers into it may survive

  auto f2 = make_info<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
  f2.pNext = &s.f11;
  s.f11.pNext = &s.f12;
  if (s.dot_available) s.f12.pNext = &s.fdot;
  inst.api.vkGetPhysicalDeviceFeatures2(pd, &f2);
  s.f11.pNext = s.f12.pNext = s.fdot.pNext = nullptr;

  inst.api.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, nullptr);
  std::vector<VkQueueFamilyProperties> families(n);
  inst.api.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, families.data());
  // A compute family with timestamps, else any compute family.
  for (uint32_t i = 0; i < n; ++i) {
    if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
    if (s.compute_family < 0 || (s.timestamp_bits == 0 && families[i].timestampValidBits > 0)) {
      s.compute_family = int(i);
      s.timestamp_bits = families[i].timestampValidBits;
    }
  }
  if (s.compute_family < 0) s.missing = "it has no compute queue";
  else if (!s.f12.bufferDeviceAddress) s.missing = "it lacks bufferDeviceAddress";
  else if (!s.f12.storageBuffer8BitAccess) s.missing = "it lacks storageBuffer8BitAccess (int8 storage)";
  else if (!s.f11.storageBuffer16BitAccess) s.missing = "it lacks storageBuffer16BitAccess (16-bit storage)";
  else if (!(s.p11.subgroupSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ||
           !(s.p11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT))
    s.missing = "it lacks subgroup arithmetic in compute shaders";
  return s;
}

std::string driver_string(const Survey& s) {
  return fmt::format("{} {}, Vulkan {}", s.driver.driverName, s.driver.driverInfo,
                     version_string(s.props.apiVersion));
}

}  // namespace

bool validation_requested() {
  if (const char* v = std::getenv("BITLAB_VULKAN_VALIDATION"); v && *v && std::strcmp(v, "0") != 0) return true;
  const char* layers = std::getenv("VK_INSTANCE_LAYERS");
  return layers && std::strstr(layers, kValidationLayer);
}

uint64_t validation_message_count() { return g_validation_count.load(); }

// One instance, without validation, for the life of the process: it lists the
// devices, and while it lives the loader keeps the driver loaded, so later
// instances start faster and the driver's globals stay reachable (a driver
// unloaded at vkDestroyInstance leaves LeakSanitizer reporting them as leaks).
const Instance& process_instance() {
  static const Instance inst = create_instance(false);
  return inst;
}

std::vector<DeviceSummary> list_devices(std::string* why) {
  std::vector<DeviceSummary> out;
  try {
    const Instance& inst = process_instance();
    for (VkPhysicalDevice pd : physical_devices(inst)) {
      const Survey s = survey(inst, pd);
      const bool dot = s.dot_available && s.fdot.shaderIntegerDotProduct;
      const bool fast = dot && s.dot_props.integerDotProduct4x8BitPackedMixedSignednessAccelerated;
      out.push_back({s.props.deviceName, driver_string(s), s.missing, dot, fast});
    }
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return {};
  }
  if (out.empty() && why) *why = "vulkan: the loader reports no device (Debian: mesa-vulkan-drivers for lavapipe)";
  return out;
}

std::string describe(const std::vector<DeviceSummary>& devices) {
  std::string s;
  for (size_t i = 0; i < devices.size(); ++i)
    s += fmt::format("{}{} = {}{}", i ? "; " : "", i, devices[i].name,
                     devices[i].missing.empty() ? "" : " (unusable: " + devices[i].missing + ")");
  return s;
}

std::shared_ptr<Device> Device::open(int index, bool map_memory) {
  static std::mutex mutex;
  static std::map<std::pair<int, bool>, std::weak_ptr<Device>> open_devices;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto d = open_devices[{index, map_memory}].lock()) return d;
  std::shared_ptr<Device> d(new Device());
  d->create(index, map_memory);
  open_devices[{index, map_memory}] = d;
  return d;
}

void Device::create(int index, bool map_memory) {
  process_instance();  // keeps the driver loaded (see there); throws DeviceError if there is none
  const bool validation = validation_requested();
  Instance inst = create_instance(validation);
  global_ = inst.g;
  instance_api_ = inst.api;
  instance_ = inst.handle;
  messenger_ = inst.messenger;
  map_memory_ = map_memory;
  validation_seen_ = g_validation_count.load();
  // From here on the destructor cleans up whatever was made.
  const std::vector<VkPhysicalDevice> devs = physical_devices(inst);
  if (index < 0 || size_t(index) >= devs.size()) {
    std::vector<DeviceSummary> all;
    for (VkPhysicalDevice pd : devs) {
      const Survey s = survey(inst, pd);
      all.push_back({s.props.deviceName, driver_string(s), s.missing, false, false});
    }
    throw DeviceError(devs.empty() ? std::string("vulkan: the loader reports no device")
                                   : fmt::format("vulkan: there is no device {}: this machine has {} ({})", index,
                                                 devs.size(), describe(all)));
  }
  physical_ = devs[size_t(index)];
  Survey s = survey(inst, physical_);
  name_ = s.props.deviceName;
  driver_ = driver_string(s);
  if (!s.missing.empty())
    throw DeviceError(fmt::format("vulkan: device {} ({}) cannot run bitlab: {}", index, name_, s.missing));

  caps_.discrete = s.props.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  caps_.int_dot = s.dot_available && s.fdot.shaderIntegerDotProduct;
  caps_.timestamps = s.timestamp_bits > 0 && s.props.limits.timestampPeriod > 0;
  caps_.timestamp_period_ns = s.props.limits.timestampPeriod;
  caps_.timestamp_mask = s.timestamp_bits >= 64 ? ~uint64_t(0) : (uint64_t(1) << s.timestamp_bits) - 1;
  caps_.max_allocation_bytes = s.p11.maxMemoryAllocationSize;
  caps_.subgroup_size = std::max<uint32_t>(s.p11.subgroupSize, 1);
  caps_.max_workgroup_size = std::min(s.props.limits.maxComputeWorkGroupInvocations,
                                      s.props.limits.maxComputeWorkGroupSize[0]);
  for (int i = 0; i < 3; ++i) caps_.max_groups[i] = s.props.limits.maxComputeWorkGroupCount[i];
  instance_api_.vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);
  for (uint32_t i = 0; i < memory_.memoryHeapCount; ++i)
    if (memory_.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      caps_.device_local_bytes = std::max<uint64_t>(caps_.device_local_bytes, memory_.memoryHeaps[i].size);

  // Enable exactly what the shaders use.
  auto f11 = make_info<VkPhysicalDeviceVulkan11Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES);
  f11.storageBuffer16BitAccess = VK_TRUE;
  auto f12 = make_info<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES);
  f12.bufferDeviceAddress = VK_TRUE;
  f12.storageBuffer8BitAccess = VK_TRUE;
  auto fdot = make_info<VkPhysicalDeviceShaderIntegerDotProductFeatures>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES);
  fdot.shaderIntegerDotProduct = VK_TRUE;
  f11.pNext = &f12;
  if (caps_.int_dot) f12.pNext = &fdot;
  std::vector<const char*> extensions;
  if (caps_.int_dot && s.dot_extension && s.props.apiVersion < VK_API_VERSION_1_3)
    extensions.push_back(VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);

  const float priority = 1.0f;
  auto qi = make_info<VkDeviceQueueCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO);
  queue_family_ = uint32_t(s.compute_family);
  qi.queueFamilyIndex = queue_family_;
  qi.queueCount = 1;
  qi.pQueuePriorities = &priority;
  auto di = make_info<VkDeviceCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO);
  di.pNext = &f11;
  di.queueCreateInfoCount = 1;
  di.pQueueCreateInfos = &qi;
  di.enabledExtensionCount = uint32_t(extensions.size());
  di.ppEnabledExtensionNames = extensions.data();
  check(instance_api_.vkCreateDevice(physical_, &di, nullptr, &device_), "vkCreateDevice");
  api_ = load_device_api(instance_api_, device_);
  api_.vkGetDeviceQueue(device_, queue_family_, 0, &queue_);
  stream_ = std::make_unique<Stream>(*this);
  pipelines_ = std::make_unique<Pipelines>(*this);
}

Device::~Device() {
  if (device_) {
    try {
      if (stream_) stream_->finish();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bitlab: %s\n", e.what());
    }
    api_.vkDeviceWaitIdle(device_);
    free(staging_);
    pipelines_.reset();
    stream_.reset();
    api_.vkDestroyDevice(device_, nullptr);
  }
  if (messenger_) instance_api_.vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
  if (instance_) instance_api_.vkDestroyInstance(instance_, nullptr);
  // A message while tearing down (a leaked object, say) cannot be thrown from
  // here; a validated run must still not pass with it.
  if (messenger_ && g_validation_count.load() > validation_seen_) {
    std::fprintf(stderr, "bitlab: the Vulkan validation layer reported %llu message(s); aborting\n",
                 static_cast<unsigned long long>(g_validation_count.load() - validation_seen_));
    std::abort();
  }
}

void Device::check_validation() {
  const uint64_t n = g_validation_count.load();
  if (n == validation_seen_) return;
  const uint64_t fresh = n - validation_seen_;
  validation_seen_ = n;
  std::lock_guard<std::mutex> lock(g_validation_mutex);
  throw DeviceError(fmt::format("vulkan: the validation layer reported {} message(s), the last: {}", fresh,
                                g_last_validation_message));
}

uint32_t Device::memory_type(uint32_t type_bits, bool staging) const {
  int best = -1, best_score = -1;
  for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
    if (!(type_bits & (1u << i))) continue;
    const VkMemoryPropertyFlags f = memory_.memoryTypes[i].propertyFlags;
    const bool local = f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    const bool visible = (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    const bool cached = f & VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    int score = -1;
    if (staging) {
      if (visible) score = 1 + (cached ? 2 : 0) + (local ? 0 : 1);
    } else if (caps_.discrete) {
      // Device-local only: host-visible VRAM is uncached and slow to read back.
      if (local) score = 1 + (visible ? 0 : 2);
    } else {
      // Shared memory: map it and skip the staging copies.
      score = (local ? 2 : 0) + (visible ? 4 : 0) + (cached ? 1 : 0);
    }
    if (score > best_score) {
      best = int(i);
      best_score = score;
    }
  }
  if (best < 0)
    throw DeviceError(fmt::format("vulkan: {} has no {} memory type for a buffer", name_,
                                  staging ? "host-visible" : "device-local"));
  return uint32_t(best);
}

Allocation Device::allocate(uint64_t bytes, bool staging, uint64_t slack) {
  uint64_t largest_heap = 0;
  for (uint32_t i = 0; i < memory_.memoryHeapCount; ++i)
    largest_heap = std::max<uint64_t>(largest_heap, memory_.memoryHeaps[i].size);
  if (bytes > largest_heap)
    throw DeviceError(fmt::format("vulkan: cannot allocate {} bytes on {}: its largest memory heap holds {} bytes",
                                  bytes, name_, largest_heap));
  if (!staging && bytes > caps_.max_allocation_bytes)
    throw DeviceError(fmt::format("vulkan: cannot allocate {} bytes on {}: one allocation may hold {} bytes", bytes,
                                  name_, caps_.max_allocation_bytes));
  Allocation a;
  a.bytes = bytes;
  auto bi = make_info<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
  bi.size = std::max<uint64_t>(bytes + slack, 4);
  bi.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  if (!staging) bi.usage |= VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkResult r = api_.vkCreateBuffer(device_, &bi, nullptr, &a.buffer);
  if (r != VK_SUCCESS)
    throw DeviceError(fmt::format("vulkan: cannot create a buffer of {} bytes on {}: {}", bytes, name_,
                                  result_name(r)));
  VkMemoryRequirements req;
  api_.vkGetBufferMemoryRequirements(device_, a.buffer, &req);
  uint32_t type = 0;
  try {
    type = memory_type(req.memoryTypeBits, staging);
  } catch (...) {
    api_.vkDestroyBuffer(device_, a.buffer, nullptr);
    throw;
  }
  const VkMemoryHeap& heap = memory_.memoryHeaps[memory_.memoryTypes[type].heapIndex];
  auto flags = make_info<VkMemoryAllocateFlagsInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO);
  flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
  auto ai = make_info<VkMemoryAllocateInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
  ai.pNext = staging ? nullptr : &flags;
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = type;
  r = req.size > heap.size ? VK_ERROR_OUT_OF_DEVICE_MEMORY : api_.vkAllocateMemory(device_, &ai, nullptr, &a.memory);
  if (r != VK_SUCCESS) {
    api_.vkDestroyBuffer(device_, a.buffer, nullptr);
    throw DeviceError(fmt::format("vulkan: cannot allocate {} bytes of {} memory on {} (heap of {} bytes): {}",
                                  bytes, staging ? "staging" : "device", name_, heap.size, result_name(r)));
  }
  try {
    check(api_.vkBindBufferMemory(device_, a.buffer, a.memory, 0), "vkBindBufferMemory");
    if (!staging) {
      auto info = make_info<VkBufferDeviceAddressInfo>(VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO);
      info.buffer = a.buffer;
      a.address = api_.vkGetBufferDeviceAddress(device_, &info);
    }
    const VkMemoryPropertyFlags flags_of_type = memory_.memoryTypes[type].propertyFlags;
    const bool mappable = (flags_of_type & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
                          (flags_of_type & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    if (mappable && (staging || map_memory_))
      check(api_.vkMapMemory(device_, a.memory, 0, VK_WHOLE_SIZE, 0, &a.mapped), "vkMapMemory");
    if (staging && !a.mapped) throw DeviceError("vulkan: staging memory could not be mapped");
  } catch (...) {
    free(a);
    throw;
  }
  return a;
}

const Allocation& Device::staging(uint64_t bytes) {
  constexpr uint64_t kMax = uint64_t(64) << 20, kMin = uint64_t(1) << 20;
  const uint64_t want = std::min(bytes, kMax);
  if (staging_.bytes < want) {
    free(staging_);
    staging_ = allocate(std::max(want, kMin), true);
  }
  return staging_;
}

void Device::free(Allocation& a) {
  if (a.buffer) api_.vkDestroyBuffer(device_, a.buffer, nullptr);
  if (a.memory) api_.vkFreeMemory(device_, a.memory, nullptr);  // unmaps implicitly
  a = Allocation{};
}

}  // namespace bitlab::vk
