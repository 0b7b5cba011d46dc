// `bitlab generate`: text in, text out. Tokenizes the prompt (optionally in
// the 2B4T chat template), prefills it on one backend and streams the decoded
// text token by token, stopping at EOS / <|eot_id|> or --max-tokens, then
// prints prefill and decode tokens per second.
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "harness/cli_options.h"
#include "harness/commands.h"
#include "harness/ids_file.h"
#include "harness/model_spec.h"
#include "harness/progress.h"
#include "model/error.h"
#include "kernels/registry.h"
#include "model/sampling.h"
#include "model/tokenizer.h"
#include "model/weights/gguf.h"

namespace bitlab::cli {
namespace {

struct GenerateOptions {
  std::string model;
  std::string prompt;
  std::string prompt_ids, prompt_ids_file;  // the prompt as token ids instead of text
  std::string system;
  std::string vocab;
  std::string backend;  // add_backend sets the default
  bool chat = false;
  int64_t max_tokens = 128;
  uint64_t seed = 1;
  uint64_t weight_seed = 1;
  int threads = 0;
  int device = 0;  // GPU index for the cuda and vulkan backends
  float temperature = 0.0f;
  int64_t top_k = 0;
  std::string head = "bf16";
  std::string weight_bits;  // --weight-bits: "" = the backend's default layout
};

// Bytes of `s` that end on a whole UTF-8 character (a token may stop inside one).
size_t complete_utf8_prefix(const std::string& s) {
  size_t i = s.size();
  for (size_t back = 0; back < 4 && i > 0; ++back) {
    const auto c = uint8_t(s[i - 1]);
    if ((c & 0xc0) != 0x80) {  // a lead byte (or ASCII): is its sequence complete?
      const size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
      return (s.size() - (i - 1) >= need) ? s.size() : i - 1;
    }
    --i;
  }
  return s.size();  // not UTF-8 at all: print it as it is
}

int run(const GenerateOptions& o) {
  std::string tok_path = o.vocab;
  if (tok_path.empty()) {
    if (!is_gguf_path(o.model))
      throw UsageError(fmt::format("--model '{}' carries no tokenizer: pass --vocab FILE.gguf", o.model));
    tok_path = o.model;
  }
  const Tokenizer tok = Tokenizer::from_gguf(open_gguf(tok_path));
  const ModelConfig spec_config = model_config(o.model);
  if (tok.size() > spec_config.vocab)
    throw UsageError(fmt::format("the tokenizer has {} tokens, the model only {}", tok.size(), spec_config.vocab));
  const std::vector<int32_t> given = ids_from_options(o.prompt_ids, o.prompt_ids_file, "--prompt-ids", spec_config.vocab);
  const std::vector<int32_t> prompt = !given.empty() ? given
                                      : o.chat       ? chat_prompt(tok, o.system, o.prompt)
                                                     : tok.encode(o.prompt, true);
  if (int64_t(prompt.size()) >= spec_config.max_pos)
    throw UsageError(fmt::format("the prompt is {} tokens, the model has {} positions", prompt.size(),
                                 spec_config.max_pos));
  const int64_t n_gen = std::min<int64_t>(o.max_tokens, spec_config.max_pos - int64_t(prompt.size()));

  std::unique_ptr<Backend> be = make_backend(
      o.backend, BackendOptions{.threads = o.threads, .device = o.device, .weight_bits = weight_bits_option(o.weight_bits)});
  const ModelWeights w = load_model(o.model, o.weight_seed);
  std::unique_ptr<Transformer> model;
  {
    Progress p("upload");
    model = std::make_unique<Transformer>(*be, w, int64_t(prompt.size()) + n_gen, [&](size_t done, size_t total) {
      p.update(double(done) / double(total), "repacking weights for " + be->info().backend);
    }, parse_head(o.head));
    p.done(fmt::format("{} on {}", w.config.name, be->info().backend));
  }

  const int32_t eot = tok.find("<|eot_id|>");
  auto end_of_text = [&](int32_t id) { return id == tok.eos() || id == eot; };
  std::string pending;
  auto emit = [&](int64_t, int32_t id) {
    // End-of-text and other control tokens end or frame the text; they are not printed.
    if (end_of_text(id) || tok.is_special(id)) return;
    pending += tok.token_bytes(id);
    const size_t n = complete_utf8_prefix(pending);
    std::fwrite(pending.data(), 1, n, stdout);
    std::fflush(stdout);
    pending.erase(0, n);
  };

  if (!given.empty()) {  // the prompt's text, as the ids spell it
    for (int32_t id : given)
      if (id < tok.size() && !tok.is_special(id)) {
        const std::string& bytes = tok.token_bytes(id);
        std::fwrite(bytes.data(), 1, bytes.size(), stdout);
      }
    std::fflush(stdout);
  } else if (!o.chat) {
    std::fwrite(o.prompt.data(), 1, o.prompt.size(), stdout);
    std::fflush(stdout);
  }
  const GenerateResult r =
      generate(*model, prompt, n_gen, SamplingParams{o.temperature, o.top_k, o.seed}, emit, end_of_text);
  std::fwrite(pending.data(), 1, pending.size(), stdout);
  double decode_s = 0;
  for (double s : r.decode_seconds) decode_s += s;
  fmt::print("\n\n[{} prompt tokens, {} generated{}: prefill {:.2f} tokens/s, decode {:.2f} tokens/s on {}]\n",
             prompt.size(), r.tokens.size(), r.stopped ? " (stopped at end of text)" : "",
             double(prompt.size()) / r.prefill_seconds,
             r.decode_seconds.empty() ? 0.0 : double(r.decode_seconds.size()) / decode_s, be->info().backend);
  if (model->head() == HeadKind::Certified) {
    const CertifiedHeadStats st = model->certified_stats();
    fmt::print("[certified head: {:.2f} rows rescored per step of {}, over {} greedy steps]\n", st.mean_rows(),
               w.config.vocab, st.steps);
  }
  return 0;
}

}  // namespace

CLI::App* add_generate(CLI::App& app, Action& action) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* sub = app.add_subcommand("generate", "Generate text from a prompt, streaming it, then report tokens/s");
  add_model(sub, o->model, "model")->required();
  CLI::Option* prompt = allow_empty(sub->add_option("--prompt", o->prompt, "the prompt text"));
  CLI::Option* chat =
      sub->add_flag("--chat", o->chat, "wrap the prompt in the 2B4T chat template (User: ...<|eot_id|>Assistant: )");
  CLI::Option* system = allow_empty(sub->add_option("--system", o->system, "system message for --chat"));
  add_prompt_ids(sub, o->prompt_ids, o->prompt_ids_file, {prompt, chat, system});
  sub->add_option("--vocab", o->vocab, "GGUF file to take the tokenizer from (default: the --model .gguf file)");
  add_backend(sub, o->backend);
  add_token_count(sub, "--max-tokens", o->max_tokens, "most tokens to generate (at most the model's positions left)");
  add_real(sub, "--temperature", o->temperature, "sampling temperature (0 = greedy)", 0.0, 100.0);
  add_top_k(sub, o->top_k);
  add_head_option(sub, "--head", o->head);
  add_weight_bits(sub, "--weight-bits", o->weight_bits);
  add_seed(sub, "--seed", o->seed, "sampling seed");
  add_seed(sub, "--weight-seed", o->weight_seed, "seed of synthetic weights");
  add_device(sub, o->device);
  add_threads(sub, o->threads);
  sub->callback([&action, o, sub] {
    if (sub->count("--prompt") + sub->count("--prompt-ids") + sub->count("--prompt-ids-file") == 0)
      throw CLI::RequiredError("one of --prompt, --prompt-ids, --prompt-ids-file");
    action = [o] { return run(*o); };
  });
  return sub;
}

}  // namespace bitlab::cli
