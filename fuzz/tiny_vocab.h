// A tiny byte-level BPE vocabulary for the seeds and for fuzzing the tokenizer
// when the real Llama-3 vocabulary is not beside the checkout: the 256 byte
// symbols, a few merges, and two control tokens (BOS, <|eot_id|>).
#pragma once
#include <string>
#include <vector>

#include "model/tokenizer.h"
#include "model/weights/gguf_writer.h"

namespace bitlab::fuzz {

// Adds tokenizer.* metadata; returns the number of tokens.
inline int add_tiny_vocab(GgufWriter& w) {
  std::vector<std::string> tokens;
  for (unsigned b = 0; b < 256; ++b) tokens.push_back(byte_level_symbol(uint8_t(b)));
  const std::string sp = byte_level_symbol(uint8_t(' '));
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {sp, "w"}, {"o", "r"}, {sp + "w", "or"}, {"l", "d"},
      {sp + "wor", "ld"}, {"1", "2"}};
  std::vector<std::string> merge_text;
  for (const auto& [a, b] : merges) {
    merge_text.push_back(a + " " + b);
    tokens.push_back(a + b);
  }
  tokens.push_back("<|begin_of_text|>");
  tokens.push_back("<|eot_id|>");
  std::vector<int32_t> types(tokens.size(), 1);
  types[types.size() - 2] = types[types.size() - 1] = 3;  // control
  const int n = int(tokens.size());
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", "llama-bpe");
  w.add_string_array("tokenizer.ggml.tokens", std::move(tokens));
  w.add_i32_array("tokenizer.ggml.token_type", std::move(types));
  w.add_string_array("tokenizer.ggml.merges", std::move(merge_text));
  w.add_u32("tokenizer.ggml.bos_token_id", uint32_t(n - 2));
  w.add_u32("tokenizer.ggml.eos_token_id", uint32_t(n - 1));
  return n;
}

}  // namespace bitlab::fuzz
