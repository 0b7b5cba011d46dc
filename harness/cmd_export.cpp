// `bitlab export`: writes a model's weights in a peer engine's format, so
// bitnet.cpp / llama.cpp (gguf-i2s) or transformers (safetensors) can run
// exactly the weights the lab benchmarks. The readers load the file back
// bit-identically (codes, scales, norms, bf16 embedding).
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "harness/cli_options.h"
#include "harness/commands.h"
#include "harness/terminal_text.h"
#include "harness/model_spec.h"
#include "harness/progress.h"
#include "model/error.h"
#include "model/weights/atomic_write.h"
#include "model/weights/gguf_model.h"
#include "model/weights/hf_model.h"

namespace bitlab::cli {
namespace {

struct ExportOptions {
  std::string model = "synthetic:2b4t";
  std::string format;
  std::string out;
  std::string vocab;
  uint64_t weight_seed = 1;
};

int run(const ExportOptions& o) {
  if (o.format != "gguf-i2s" && o.format != "safetensors")
    throw UsageError(fmt::format("unknown --format '{}' (gguf-i2s or safetensors)", o.format));
  if (!o.vocab.empty() && o.format != "gguf-i2s") throw UsageError("--vocab only applies to --format gguf-i2s");
  // Before the model is built: an unwritable target fails in a moment, not after it.
  if (o.format == "gguf-i2s") {
    refuse_non_regular_target(o.out);
  } else {
    refuse_non_regular_target(o.out + "/model.safetensors");
    refuse_non_regular_target(o.out + "/config.json");
  }
  std::unique_ptr<GgufFile> vocab;
  if (!o.vocab.empty()) vocab = std::make_unique<GgufFile>(open_gguf(o.vocab));
  const ModelWeights w = load_model(o.model, o.weight_seed);
  Progress p("export");
  p.update(0.0, "writing " + o.out);
  const auto t0 = std::chrono::steady_clock::now();
  if (o.format == "gguf-i2s") export_gguf_i2s(w, o.out, vocab.get());
  else export_hf_safetensors(w, o.out);
  p.done(fmt::format("{} in {:.1f} s", o.out,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
  fmt::print("wrote {} ({}, weights digest {:016x})\n", printable(o.out),
             o.format == "gguf-i2s" ? "GGUF v3, I2_S ternary, bitnet-b1.58" : "config.json + model.safetensors",
             w.digest());
  return 0;
}

}  // namespace

CLI::App* add_export(CLI::App& app, Action& action) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand("export", "Write a model's weights as GGUF (bitnet.cpp I2_S) or safetensors");
  add_model(sub, o->model, "model to export");
  sub->add_option("--format", o->format, "gguf-i2s (one .gguf file) or safetensors (a directory: config.json + "
                                         "model.safetensors)")->required();
  sub->add_option("--vocab", o->vocab, "GGUF file whose tokenizer metadata to copy into a gguf-i2s export");
  add_seed(sub, "--weight-seed", o->weight_seed, "seed of the synthetic weights");
  sub->add_option("out", o->out, "output file (gguf-i2s) or directory (safetensors)")->required();
  sub->callback([&action, o] { action = [o] { return run(*o); }; });
  return sub;
}

}  // namespace bitlab::cli
