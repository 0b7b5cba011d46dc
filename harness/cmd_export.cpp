// `bitlab export`: writes a model's weights in a peer engine's format, so
// bitnet.cpp, llama.cpp, ik_llama.cpp (the gguf-* formats, gguf_export.h) or
// transformers (safetensors) can run exactly the weights the lab benchmarks:
// the same ternary codes, norms and bf16 embedding, and the same scales
// wherever the format can hold them (the summary says where it cannot).
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
#include "model/weights/gguf_export.h"
#include "model/weights/hf_model.h"

namespace bitlab::cli {
namespace {

constexpr const char* kSafetensors = "safetensors";

struct ExportOptions {
  std::string model = "synthetic:2b4t";
  std::string format;
  std::string arch;
  std::string out;
  std::string vocab;
  uint64_t weight_seed = 1;
};

// Every format, one per line (`sep` before each), for --help.
std::string format_list(const char* sep) {
  std::string s;
  for (const GgufExportFormat& f : gguf_export_formats()) {
    std::string archs;
    for (const GgufExportArch& a : f.archs) archs += (archs.empty() ? "" : " or ") + a.name;
    s += fmt::format("{}{}: {} (arch {}; read by {})", sep, f.name, f.description, archs, f.archs[0].engines);
  }
  return s + fmt::format("{}{}: a directory of config.json + model.safetensors (transformers)", sep, kSafetensors);
}

int run(const ExportOptions& o) {
  const bool gguf = o.format != kSafetensors;
  if (gguf) {
    const GgufExportFormat* f = nullptr;
    try {
      f = &find_gguf_export_format(o.format);
    } catch (const UsageError&) {
      std::string names;
      for (const GgufExportFormat& g : gguf_export_formats()) names += g.name + ", ";
      throw UsageError(fmt::format("unknown --format '{}' (known: {}{})", o.format, names, kSafetensors));
    }
    (void)find_gguf_export_arch(*f, o.arch);  // before the model is built
  }
  if (!gguf && !o.vocab.empty()) throw UsageError("--vocab only applies to the gguf-* formats");
  if (!gguf && !o.arch.empty()) throw UsageError("--arch only applies to the gguf-* formats");
  // Before the model is built: an unwritable target fails in a moment, not after it.
  if (gguf) {
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
  std::string what = "config.json + model.safetensors";
  if (gguf) {
    const GgufExportSummary s = export_gguf(w, o.format, o.out, vocab.get(), o.arch);
    what = s.describe();
    if (!s.exact())
      fmt::print(stderr, "warning: {}: the scales of {} ternary tensors (first '{}') are not representable in fp16; "
                         "the file holds them rounded{}\n",
                 printable(o.out), s.rounded_scales.size(), s.rounded_scales.front(),
                 s.arch != "bitnet" ? " (arch bitnet keeps them exact in .scale tensors)" : "");
  } else {
    export_hf_safetensors(w, o.out);
  }
  p.done(fmt::format("{} in {:.1f} s", o.out,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
  fmt::print("wrote {} ({}, weights digest {:016x})\n", printable(o.out), what, w.digest());
  return 0;
}

}  // namespace

CLI::App* add_export(CLI::App& app, Action& action) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand("export", "Write a model's weights as GGUF for a peer engine or as safetensors");
  add_model(sub, o->model, "model to export");
  sub->add_option("--format", o->format, "one of:" + format_list("\n  "))->required();
  sub->add_option("--arch", o->arch,
                  "general.architecture of a gguf-* export, where the format allows two (default: the first listed)");
  sub->add_option("--vocab", o->vocab, "GGUF file whose tokenizer metadata to copy into a gguf-* export");
  add_seed(sub, "--weight-seed", o->weight_seed, "seed of the synthetic weights");
  sub->add_option("out", o->out, "output file (gguf-*) or directory (safetensors)")->required();
  sub->callback([&action, o] { action = [o] { return run(*o); }; });
  return sub;
}

}  // namespace bitlab::cli
