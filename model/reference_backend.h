// The reference as a Backend: runs the whole network through model/reference,
// single-threaded, so end-to-end results of every other backend can be
// compared with the oracle. Weights stay in canonical layout (parts stacked
// along N). Slow by design; registered as "reference".
#pragma once
#include <memory>

#include "model/backend.h"

namespace bitlab {

std::unique_ptr<Backend> make_reference_backend(const BackendOptions& opts);

}  // namespace bitlab
