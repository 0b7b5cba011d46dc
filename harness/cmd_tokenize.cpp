// `bitlab tokenize` / `bitlab detokenize`: the model's Llama-3 tokenizer (from
// a GGUF file's metadata) on the command line: text -> ids, ids -> text.
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "harness/cli_options.h"
#include "harness/commands.h"
#include "harness/model_spec.h"
#include "model/error.h"
#include "model/tokenizer.h"
#include "model/weights/gguf.h"

namespace bitlab::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  std::vector<int32_t> ids;
  bool bos = false;
  bool no_special = false;
};

Tokenizer tokenizer_from(const std::string& path) {
  if (!is_gguf_path(path))
    throw UsageError(fmt::format("--model '{}': the tokenizer is read from a GGUF file's metadata (a .gguf model or "
                                 "vocabulary file)", path));
  return Tokenizer::from_gguf(open_gguf(path));
}

}  // namespace

CLI::App* add_tokenize(CLI::App& app, Action& action) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* sub = app.add_subcommand("tokenize", "Print the token ids of a text (Llama-3 BPE from a GGUF file)");
  sub->add_option("--model", o->model, "GGUF file holding the tokenizer (a model or a vocabulary-only file)")
      ->required();
  sub->add_flag("--bos", o->bos, "start with the BOS token");
  sub->add_flag("--no-special", o->no_special, "treat special-token text such as <|eot_id|> as plain text");
  allow_empty(sub->add_option("text", o->text, "the text")->required());
  sub->callback([&action, o] {
    action = [o] {
      const Tokenizer t = tokenizer_from(o->model);
      fmt::print("{}\n", fmt::join(t.encode(o->text, o->bos, !o->no_special), " "));
      return 0;
    };
  });
  return sub;
}

CLI::App* add_detokenize(CLI::App& app, Action& action) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* sub = app.add_subcommand("detokenize", "Print the text of token ids (Llama-3 BPE from a GGUF file)");
  sub->add_option("--model", o->model, "GGUF file holding the tokenizer (a model or a vocabulary-only file)")
      ->required();
  sub->add_option("ids", o->ids, "token ids")->required()->check(integer_in<int32_t>(0, INT32_MAX));
  sub->callback([&action, o] {
    action = [o] {
      const Tokenizer t = tokenizer_from(o->model);
      fmt::print("{}\n", t.decode(o->ids));
      return 0;
    };
  });
  return sub;
}

}  // namespace bitlab::cli
