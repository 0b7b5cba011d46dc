// The toy backend of the backend_fixture_configures test: the three entry
// points a backend provides, here answered by the reference oracle. The test
// only configures a build with this folder added; it never compiles it.
#include "kernels/registry.h"
#include "model/reference_backend.h"

namespace bitlab {

std::unique_ptr<Backend> make_toy_backend(const BackendOptions& opts) { return make_reference_backend(opts); }
BackendProbe probe_toy_backend() { return {true, "the reference oracle under another name"}; }
std::vector<KernelVariant> variants_toy_backend() { return {}; }

}  // namespace bitlab
