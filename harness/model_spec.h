// `--model` specs: "synthetic:<config>" (2b4t, tiny, 2b4t-1layer) builds
// deterministic weights in memory; a path loads a real checkpoint: a .gguf file
// (bitnet.cpp's I2_S), a .safetensors file or .safetensors.index.json with
// config.json beside it, or a directory holding config.json and the weights.
#pragma once
#include <cstdint>
#include <string>

#include "model/weights/canonical.h"

namespace bitlab::cli {

extern const char* const kModelSpecHelp;

// The config a spec names, without loading anything. Throws UsageError for a
// spec it does not understand.
ModelConfig model_config(const std::string& spec);
// Loads (or generates) the weights, with a progress line. `weight_seed` only
// matters for synthetic models.
ModelWeights load_model(const std::string& spec, uint64_t weight_seed);
// True when the spec names a file or directory rather than a synthetic model.
bool is_model_path(const std::string& spec);
// True when the spec names a GGUF file (the one format that carries a tokenizer).
bool is_gguf_path(const std::string& spec);

}  // namespace bitlab::cli
