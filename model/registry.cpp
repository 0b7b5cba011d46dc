#include "model/registry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "model/error.h"
#include "model/reference_backend.h"

namespace bitlab {

// Declarations of the compiled-in backends' entry points.
#define BITLAB_DECLARE_1(name)                                                \
  std::unique_ptr<Backend> make_##name##_backend(const BackendOptions& opts); \
  BackendProbe probe_##name##_backend();
#define BITLAB_DECLARE_0(name)
#define BITLAB_DECLARE(name, have) BITLAB_DECLARE_##have(name)
#define BACKEND(name, have, why, where) BITLAB_DECLARE(name, have)
#include "model/backends.def"
#undef BACKEND

namespace {
struct Registered {
  const char* name;
  bool cpu;
  const char* why_absent;
  std::unique_ptr<Backend> (*make)(const BackendOptions&);
  BackendProbe (*probe)();
};

#define BITLAB_IS_CPU_cpu true
#define BITLAB_IS_CPU_gpu false
#define BITLAB_ENTRY_1(name, why, cpu) {#name, cpu, "", &make_##name##_backend, &probe_##name##_backend},
#define BITLAB_ENTRY_0(name, why, cpu) {#name, cpu, why, nullptr, nullptr},
#define BITLAB_ENTRY(name, have, why, cpu) BITLAB_ENTRY_##have(name, why, cpu)
#define BACKEND(name, have, why, where) BITLAB_ENTRY(name, have, why, BITLAB_IS_CPU_##where)
const Registered kBackends[] = {
#include "model/backends.def"
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

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& opts) {
  if (name == "reference") return make_reference_backend(opts);
  std::vector<std::string> known{"reference"};
  for (const Registered& r : kBackends) {
    known.push_back(r.name);
    if (name != r.name) continue;
    if (!r.make) throw DeviceError(fmt::format("backend '{}' is not available: {}", name, r.why_absent));
    const BackendProbe p = r.probe();
    if (!p.usable) throw DeviceError(fmt::format("backend '{}' cannot run here: {}", name, p.reason));
    return r.make(opts);
  }
  throw UsageError(fmt::format("unknown backend '{}' (known: {})", name, fmt::join(known, ", ")));
}

}  // namespace bitlab
