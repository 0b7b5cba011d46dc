#include "harness/model_spec.h"

#include <chrono>

#include <fmt/format.h>

#include "harness/progress.h"
#include "model/error.h"
#include "model/weights/synthetic.h"

namespace bitlab::cli {

const char* const kModelSpecHelp =
    "synthetic:2b4t (the full 2B4T shapes), synthetic:2b4t-1layer (full widths, one layer), synthetic:tiny";

ModelWeights load_model(const std::string& spec, uint64_t weight_seed) {
  const std::string prefix = "synthetic:";
  if (spec.rfind(prefix, 0) != 0)
    throw UsageError(fmt::format("unknown model '{}' (expected {})", spec, kModelSpecHelp));
  const ModelConfig cfg = config_by_name(spec.substr(prefix.size()));
  Progress progress("weights");
  const auto t0 = std::chrono::steady_clock::now();
  ModelWeights w = synthetic_weights(cfg, weight_seed, [&](size_t done, size_t total) {
    progress.update(double(done) / double(total), "generating " + spec);
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  progress.done(fmt::format("{} (seed {}): {} layers, {:.2f} GB ternary + {:.2f} GB bf16 embedding in {:.1f} s", spec,
                            weight_seed, cfg.n_layers, double(w.ternary_bytes()) / 1e9,
                            double(w.embedding.data.size_bytes()) / 1e9, secs));
  return w;
}

}  // namespace bitlab::cli
