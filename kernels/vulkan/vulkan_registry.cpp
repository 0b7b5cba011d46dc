// Registration of the "vulkan" backend (model/backends.def). The probe opens
// the loader and lists the devices; it is usable when device 0 meets the
// requirements (device.h), and says which other devices --device can pick.
#include <fmt/format.h>

#include "kernels/vulkan/device.h"
#include "kernels/vulkan/vulkan_backend.h"
#include "model/registry.h"

namespace bitlab {

std::unique_ptr<Backend> make_vulkan_backend(const BackendOptions& opts) {
  vk::VulkanOptions o;
  o.device = opts.device;
  o.dot = vk::dot_path_from_env();
  return vk::make_backend(o);
}

BackendProbe probe_vulkan_backend() {
  static const BackendProbe probe = [] {
    std::string why;
    const std::vector<vk::DeviceSummary> devices = vk::list_devices(&why);
    if (devices.empty()) return BackendProbe{false, why};
    const vk::DeviceSummary& d = devices[0];
    if (!d.missing.empty())
      return BackendProbe{false, fmt::format("device 0 ({}) cannot run bitlab: {}; devices: {}", d.name, d.missing,
                                             vk::describe(devices))};
    std::string reason = fmt::format("{} ({}), int8 dot product: {}", d.name, d.driver,
                                     !d.int_dot                ? "no (portable shaders)"
                                     : d.int_dot_accelerated ? "yes"
                                                               : "yes (emulated by the driver)");
    if (devices.size() > 1) reason += "; --device N picks one of: " + vk::describe(devices);
    return BackendProbe{true, reason};
  }();
  return probe;
}

std::vector<KernelVariant> variants_vulkan_backend() { return {}; }

}  // namespace bitlab
