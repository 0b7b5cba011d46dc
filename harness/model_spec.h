// `--model` specs: "synthetic:<config>" (2b4t, tiny, 2b4t-1layer) builds
// deterministic weights in memory. Files of real checkpoints come later.
#pragma once
#include <cstdint>
#include <string>

#include "model/weights/canonical.h"

namespace bitlab::cli {

extern const char* const kModelSpecHelp;

// The config a spec names, without loading anything. Throws UsageError for a
// spec it does not understand.
ModelConfig model_config(const std::string& spec);
// Loads (or generates) the weights, with a progress line.
ModelWeights load_model(const std::string& spec, uint64_t weight_seed);

}  // namespace bitlab::cli
