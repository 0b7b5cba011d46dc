// The registry of backends, generated from the backend folders' bitlab_add_backend
// calls (kernels/CMakeLists.txt, cmake/bitlab_add_backend.cmake). The oracle
// ("reference") is listed too but is not part of "every backend" runs.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/backend.h"

namespace bitlab {

struct BackendProbe {
  bool usable = false;
  std::string reason;  // why not usable; or a note on what it will run
};

struct BackendEntry {
  std::string name;
  bool compiled = false;
  BackendProbe probe;  // compiled but not usable here: probe.reason says why
};

// Every registered backend, in order, probed on this machine.
std::vector<BackendEntry> list_backends();
// Names of the backends usable here, oracle excluded.
std::vector<std::string> usable_backends();
// The fastest CPU backend usable here: the last usable CPU backend in
// registration order (avx512 or neon where the CPU has them, else scalar).
std::string default_backend();
// Every kernel variant of a backend, probed on this machine, in the backend's
// list order (per op, the default first where the backend says so). Throws
// UsageError for an unknown backend. Empty for a backend not compiled in.
std::vector<KernelVariant> kernel_variants(const std::string& backend);
// Creates a backend by name ("reference" included). Throws UsageError for an
// unknown name and DeviceError for one that cannot run here, with the reason;
// opts.variants are checked against kernel_variants(name) first: an unknown
// variant or two for one op is a UsageError, one not usable here a DeviceError.
// The variants make_backend pins for `opts`: opts.variants, plus the matmul
// variant opts.weight_bits selects when none is pinned (same errors as make_backend).
std::vector<std::string> resolved_pins(const std::string& backend, const BackendOptions& opts);
std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& opts = {});

}  // namespace bitlab
