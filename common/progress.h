// How long-running work (weight generation, uploads) reports how far it got.
#pragma once
#include <cstddef>
#include <functional>

namespace bitlab {

// Called with (bytes done, bytes total) as the work proceeds.
using ProgressFn = std::function<void(size_t, size_t)>;

}  // namespace bitlab
