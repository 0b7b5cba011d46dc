// libFuzzer target: any bytes through the tokenizer. Properties checked on
// every input: the pre-tokenizer's pieces are non-empty and concatenate to the
// text; decode(encode(text)) == text with and without special-token parsing.
// Uses the real Llama-3 vocabulary when ../shared/data/llama3-vocab is beside
// the checkout (or $BITLAB_FUZZ_VOCAB names a GGUF), else a tiny built-in one.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "fuzz/tiny_vocab.h"
#include "model/tokenizer.h"
#include "model/weights/gguf.h"

namespace {

std::unique_ptr<bitlab::Tokenizer> load_tokenizer() {
  std::string path = std::getenv("BITLAB_FUZZ_VOCAB") ? std::getenv("BITLAB_FUZZ_VOCAB") : "";
  if (path.empty()) {
    const std::string shared =
        std::string(BITLAB_SOURCE_DIR) + "/../shared/data/llama3-vocab/ggml-vocab-llama-bpe.gguf";
    if (std::filesystem::exists(shared)) path = shared;
  }
  if (!path.empty()) {
    std::fprintf(stderr, "fuzz_tokenizer: vocabulary %s\n", path.c_str());
    return std::make_unique<bitlab::Tokenizer>(bitlab::Tokenizer::from_gguf(bitlab::open_gguf(path)));
  }
  char tmp[] = "/tmp/bitlab_fuzz_vocab_XXXXXX";
  const int fd = mkstemp(tmp);
  if (fd < 0) std::abort();
  close(fd);
  bitlab::GgufWriter w;
  bitlab::fuzz::add_tiny_vocab(w);
  w.write(tmp);
  auto t = std::make_unique<bitlab::Tokenizer>(bitlab::Tokenizer::from_gguf(bitlab::open_gguf(tmp)));
  std::remove(tmp);  // the mapping stays valid
  std::fprintf(stderr, "fuzz_tokenizer: tiny built-in vocabulary\n");
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<bitlab::Tokenizer> tok = load_tokenizer();
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string joined;
  for (std::string_view p : bitlab::pretokenize_llama3(text)) {
    if (p.empty()) __builtin_trap();
    joined += p;
  }
  if (joined != text) __builtin_trap();
  for (bool special : {false, true})
    if (tok->decode(tok->encode(text, false, special)) != text) __builtin_trap();
  return 0;
}
