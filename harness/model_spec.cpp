#include "harness/model_spec.h"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "harness/progress.h"
#include "model/error.h"
#include "model/weights/gguf_model.h"
#include "model/weights/hf_model.h"
#include "model/weights/synthetic.h"

namespace bitlab::cli {

const char* const kModelSpecHelp =
    "synthetic:2b4t (the full 2B4T shapes), synthetic:2b4t-1layer (full widths, one layer), synthetic:tiny, "
    "or a checkpoint: FILE.gguf, FILE.safetensors (config.json beside it) or a directory with config.json";

namespace {
const std::string kSynthetic = "synthetic:";

std::string human_bytes(double b) {
  if (b >= 1e9) return fmt::format("{:.2f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  return fmt::format("{:.1f} kB", b / 1e3);
}

}  // namespace

bool is_gguf_path(const std::string& spec) { return spec.ends_with(".gguf"); }

bool is_model_path(const std::string& spec) {
  if (spec.rfind(kSynthetic, 0) == 0) return false;
  std::error_code ec;
  return is_gguf_path(spec) || spec.ends_with(".safetensors") || spec.ends_with(".safetensors.index.json") ||
         std::filesystem::is_directory(spec, ec);
}

ModelConfig model_config(const std::string& spec) {
  if (is_model_path(spec)) {
    if (is_gguf_path(spec)) return gguf_model_config(open_gguf(spec));
    return hf_model_config(spec);
  }
  if (spec.rfind(kSynthetic, 0) != 0)
    throw UsageError(fmt::format("unknown model '{}' (expected {})", spec, kModelSpecHelp));
  try {
    return config_by_name(spec.substr(kSynthetic.size()));
  } catch (const UsageError&) {
    throw UsageError(fmt::format("unknown model '{}' (expected {})", spec, kModelSpecHelp));
  }
}

ModelWeights load_model(const std::string& spec, uint64_t weight_seed) {
  if (is_model_path(spec)) {
    Progress progress("weights");
    progress.update(0.0, "reading " + spec);
    const auto t0 = std::chrono::steady_clock::now();
    ModelWeights w = is_gguf_path(spec) ? load_gguf_model(open_gguf(spec)) : load_hf_model(spec);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress.done(fmt::format("{} ({}): {} layers, {} ternary + {} bf16 embedding in {:.1f} s", spec, w.config.name,
                              w.config.n_layers, human_bytes(double(w.ternary_bytes())),
                              human_bytes(double(w.embedding.data.size_bytes())), secs));
    return w;
  }
  const ModelConfig cfg = model_config(spec);
  Progress progress("weights");
  const auto t0 = std::chrono::steady_clock::now();
  ModelWeights w = synthetic_weights(cfg, weight_seed, [&](size_t done, size_t total) {
    progress.update(double(done) / double(total), "generating " + spec);
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  progress.done(fmt::format("{} (seed {}): {} layers, {} ternary + {} bf16 embedding in {:.1f} s", spec, weight_seed,
                            cfg.n_layers, human_bytes(double(w.ternary_bytes())),
                            human_bytes(double(w.embedding.data.size_bytes())), secs));
  return w;
}

}  // namespace bitlab::cli
