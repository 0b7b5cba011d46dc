#include "kernels/registry.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "model/error.h"
#include "model/reference_backend.h"

namespace bitlab {

// The backend list, kernels/backends.def, is generated in the build folder from
// the bitlab_add_backend calls of the backend folders (kernels/CMakeLists.txt):
// one BACKEND(name, built 0|1, "reason when not built", cpu|gpu) per backend,
// in registration order. A backend named `x` that is built provides:
//   std::unique_ptr<Backend> make_x_backend(const BackendOptions&);
//   BackendProbe probe_x_backend();   // usable on this machine? if not, why
//   std::vector<KernelVariant> variants_x_backend();  // its kernels, probed here

// Declarations of the compiled-in backends' entry points.
#define BITLAB_DECLARE_1(name)                                                \
  std::unique_ptr<Backend> make_##name##_backend(const BackendOptions& opts); \
  BackendProbe probe_##name##_backend();                                      \
  std::vector<KernelVariant> variants_##name##_backend();
#define BITLAB_DECLARE_0(name)
#define BITLAB_DECLARE(name, have) BITLAB_DECLARE_##have(name)
#define BACKEND(name, have, why, where) BITLAB_DECLARE(name, have)
#include "kernels/backends.def"
#undef BACKEND

namespace {
struct Registered {
  const char* name;
  bool cpu;
  const char* why_absent;
  std::unique_ptr<Backend> (*make)(const BackendOptions&);
  BackendProbe (*probe)();
  std::vector<KernelVariant> (*variants)();
};

#define BITLAB_IS_CPU_cpu true
#define BITLAB_IS_CPU_gpu false
#define BITLAB_ENTRY_1(name, why, cpu) \
  {#name, cpu, "", &make_##name##_backend, &probe_##name##_backend, &variants_##name##_backend},
#define BITLAB_ENTRY_0(name, why, cpu) {#name, cpu, why, nullptr, nullptr, nullptr},
#define BITLAB_ENTRY(name, have, why, cpu) BITLAB_ENTRY_##have(name, why, cpu)
#define BACKEND(name, have, why, where) BITLAB_ENTRY(name, have, why, BITLAB_IS_CPU_##where)
const Registered kBackends[] = {
#include "kernels/backends.def"
};
#undef BACKEND
}  // namespace

std::vector<BackendEntry> list_backends() {
  std::vector<BackendEntry> out;
  for (const Registered& r : kBackends) {
    BackendEntry e;
    e.name = r.name;
    e.compiled = r.make != nullptr;
    e.probe = e.compiled ? r.probe() : BackendProbe{false, r.why_absent};
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::string> usable_backends() {
  std::vector<std::string> out;
  for (const BackendEntry& e : list_backends())
    if (e.probe.usable) out.push_back(e.name);
  return out;
}

std::string default_backend() {
  // Only the CPU backends are probed: a GPU probe may start a driver, and a GPU
  // backend is chosen by name (with its --device).
  std::string best;
  for (const Registered& r : kBackends)
    if (r.cpu && r.make && r.probe().usable) best = r.name;
  if (best.empty()) throw DeviceError("no CPU backend can run here (see `bitlab info`)");
  return best;
}

namespace {

const Registered& find(const std::string& name) {
  std::vector<std::string> known{"reference"};
  for (const Registered& r : kBackends) {
    if (name == r.name) return r;
    known.emplace_back(r.name);
  }
  throw UsageError(fmt::format("unknown backend '{}' (known: {})", name, fmt::join(known, ", ")));
}

// The pins of `opts` against the backend's list: each names one of its
// variants, usable here, and no two pin the same op.
void check_pins(const std::string& backend, const std::vector<std::string>& pins) {
  if (pins.empty()) return;
  const std::vector<KernelVariant> list = kernel_variants(backend);
  std::vector<std::string> names, pinned_ops;
  for (const KernelVariant& v : list) names.push_back(v.name);
  for (const std::string& pin : pins) {
    const auto it = std::find_if(list.begin(), list.end(), [&](const KernelVariant& v) { return v.name == pin; });
    if (it == list.end())
      throw UsageError(fmt::format("backend '{}' has no kernel variant '{}' ({})", backend, pin,
                                   names.empty() ? std::string("it lists none")
                                                 : fmt::format("its variants: {}", fmt::join(names, ", "))));
    if (!it->usable)
      throw DeviceError(fmt::format("kernel variant '{}' of backend '{}' cannot run here: {}", pin, backend,
                                    it->why_not));
    if (std::find(pinned_ops.begin(), pinned_ops.end(), it->op) != pinned_ops.end())
      throw UsageError(fmt::format("two kernel variants pinned for op '{}' of backend '{}'", it->op, backend));
    pinned_ops.push_back(it->op);
  }
}

// opts.variants plus, when opts.weight_bits asks for a layout and no matmul
// variant is pinned, the backend's first usable matmul variant of those bits.
std::vector<std::string> resolve_weight_bits(const std::string& backend, const BackendOptions& opts) {
  std::vector<std::string> pins = opts.variants;
  if (!opts.weight_bits) return pins;
  const WeightBits want = *opts.weight_bits;
  const std::vector<KernelVariant> list = kernel_variants(backend);
  for (const std::string& pin : pins)
    for (const KernelVariant& v : list)
      if (v.name == pin && v.op == "matmul_w2a8") {
        if (v.weight_bits != want)
          throw UsageError(fmt::format("kernel variant '{}' stores {}-bit weights, but {}-bit weights were asked for",
                                       pin, weight_bits_name(v.weight_bits), weight_bits_name(want)));
        return pins;
      }
  std::vector<std::string> cannot;
  for (const KernelVariant& v : list) {
    if (v.op != "matmul_w2a8" || v.weight_bits != want) continue;
    if (v.usable) {
      pins.push_back(v.name);
      return pins;
    }
    cannot.push_back(fmt::format("{}: {}", v.name, v.why_not));
  }
  if (want == WeightBits::Two && cannot.empty()) return pins;  // a backend that lists no matmul variants
  throw DeviceError(fmt::format("backend '{}' has no {}-bit matmul kernel that runs here{}", backend,
                                weight_bits_name(want),
                                cannot.empty() ? std::string() : fmt::format(" ({})", fmt::join(cannot, "; "))));
}

}  // namespace

std::vector<std::string> resolved_pins(const std::string& backend, const BackendOptions& opts) {
  if (backend == "reference") return opts.variants;
  return resolve_weight_bits(backend, opts);
}

std::vector<KernelVariant> kernel_variants(const std::string& backend) {
  if (backend == "reference") return {};
  const Registered& r = find(backend);
  return r.variants ? r.variants() : std::vector<KernelVariant>{};
}

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& opts) {
  if (name == "reference") {
    if (!opts.variants.empty()) throw UsageError("the reference backend has no kernel variants to pin");
    // The oracle computes from canonical weights; any layout's results are its results.
    return make_reference_backend(opts);
  }
  const Registered& r = find(name);
  if (!r.make) throw DeviceError(fmt::format("backend '{}' is not available: {}", name, r.why_absent));
  const BackendProbe p = r.probe();
  if (!p.usable) throw DeviceError(fmt::format("backend '{}' cannot run here: {}", name, p.reason));
  BackendOptions resolved = opts;
  resolved.variants = resolve_weight_bits(name, opts);
  check_pins(name, resolved.variants);
  return r.make(resolved);
}

}  // namespace bitlab
