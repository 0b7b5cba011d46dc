// Registration of the "vulkan" backend (kernels/vulkan/CMakeLists.txt, bitlab_add_backend). The probe opens
// the loader and lists the devices; it is usable when device 0 meets the
// requirements (device.h), and says which other devices --device can pick.
#include <fmt/format.h>

#include "kernels/vulkan/device.h"
#include "kernels/vulkan/vulkan_backend.h"
#include "kernels/registry.h"

namespace bitlab {

std::unique_ptr<Backend> make_vulkan_backend(const BackendOptions& opts) {
  vk::VulkanOptions o;
  o.device = opts.device;
  vk::apply_pins(o, opts.variants);
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

std::vector<KernelVariant> variants_vulkan_backend() {
  // Device 0's integer dot product decides (as the probe, from the loader's
  // device list, once per process); --device N on a device without it makes
  // a pinned int-dot variant a DeviceError when the backend is made.
  static const std::vector<KernelVariant> list = [] {
    const BackendProbe p = probe_vulkan_backend();
    std::string why;
    const std::vector<vk::DeviceSummary> devices = vk::list_devices(&why);
    const bool int_dot = p.usable && !devices.empty() && devices[0].int_dot;
    std::vector<KernelVariant> out;
    for (const vk::VulkanVariant& v : vk::vulkan_variants()) {
      KernelVariant k{.name = v.name, .op = v.op, .weight_bits = v.bits};
      if (!p.usable)
        k.why_not = p.reason;
      else if (v.path == vk::DotPath::IntegerDot && !int_dot)
        k.why_not = fmt::format("{} has no integer dot product (shaderIntegerDotProduct)",
                                devices.empty() ? std::string("device 0") : devices[0].name);
      k.usable = k.why_not.empty();
      // The int-dot shaders where the device has them, else the portable ones;
      // never a 1.6-bit matmul (it runs when pinned or asked for by bits).
      k.is_default = k.usable && v.bits == WeightBits::Two && (v.path == vk::DotPath::IntegerDot || !int_dot);
      out.push_back(std::move(k));
    }
    return out;
  }();
  return list;
}

}  // namespace bitlab
