// Writes the seed corpus for the fuzz targets into OUT/{gguf,safetensors,tokenizer,hf_model,logits_io}:
// small valid files made with the project's own writers (a one-layer model with
// a tiny vocabulary in both formats, a GGUF with every metadata type, a
// vocabulary-only GGUF, config.json), a few texts, and whole Hugging Face
// checkpoints in fuzz_hf_model's split form.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz/tiny_vocab.h"
#include "harness/npy.h"
#include "model/weights/gguf_model.h"
#include "model/weights/hf_model.h"
#include "model/weights/safetensors.h"
#include "model/weights/synthetic.h"

namespace fs = std::filesystem;
using namespace bitlab;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUT\n");
    return 2;
  }
  const fs::path out = argv[1];
  for (const char* d : {"gguf", "safetensors", "tokenizer", "hf_model"}) fs::create_directories(out / d);

  // Vocabulary-only GGUF, which also tells the tiny vocabulary's size.
  GgufWriter vocab;
  vocab.add_string("general.architecture", "llama");
  const int n_tokens = fuzz::add_tiny_vocab(vocab);
  vocab.write((out / "gguf" / "vocab.gguf").string());
  const GgufFile vocab_file = open_gguf((out / "gguf" / "vocab.gguf").string());

  // The smallest model whose matrices all hold multiples of 128 codes.
  ModelConfig c;
  c.name = "micro";
  c.hidden = 16;
  c.n_layers = 1;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.head_dim = 8;
  c.ffn = 32;
  c.vocab = n_tokens;
  c.max_pos = 64;
  c.bos = n_tokens - 2;
  c.eos = n_tokens - 1;
  const ModelWeights w = synthetic_weights(c, 1);
  export_gguf_i2s(w, (out / "gguf" / "micro.gguf").string(), &vocab_file);
  const fs::path hf = out / "hf_tmp";
  export_hf_safetensors(w, hf.string());
  auto slurp = [](const fs::path& p) {
    std::ostringstream s;
    s << std::ifstream(p, std::ios::binary).rdbuf();
    return s.str();
  };
  // fuzz_hf_model: config.json, the split marker, the safetensors bytes and,
  // for the sharded form, the marker again and an index naming the shard.
  const std::string split = "\n#bitlab-part#\n";
  const std::string config = slurp(hf / "config.json"), tensors = slurp(hf / "model.safetensors");
  std::ofstream(out / "hf_model" / "single.bin", std::ios::binary) << config << split << tensors;
  std::string index = "{\"metadata\": {}, \"weight_map\": {";
  const SafetensorsFile st = open_safetensors((hf / "model.safetensors").string());
  for (size_t t = 0; t < st.tensors.size(); ++t)
    index += (t ? ", \"" : "\"") + st.tensors[t].name + "\": \"shard.safetensors\"";
  index += "}}";
  std::ofstream(out / "hf_model" / "sharded.bin", std::ios::binary) << config << split << tensors << split << index;
  fs::rename(hf / "model.safetensors", out / "safetensors" / "micro.safetensors");
  fs::rename(hf / "config.json", out / "safetensors" / "config.json");
  fs::remove_all(hf);

  GgufWriter every;
  every.add_u32("general.alignment", 64);
  every.add_string("s", "text \xc3\xa9");
  every.add_i32("i32", -5);
  every.add_u64("u64", 1ull << 40);
  every.add_f32("f32", 0.5f);
  every.add_bool("b", true);
  every.add_f32_array("fa", {1.0f, -2.0f});
  every.add_string_array("sa", {"a", "", "b c"});
  every.add_tensor("t", {4, 2}, GgmlType::F32, [](const GgufWriter::Emit& e) {
    const float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    e(v, sizeof v);
  });
  every.write((out / "gguf" / "every_type.gguf").string());

  const char* texts[] = {"Hello world", " this is \xf0\x9f\xa6\x99.cpp", "I've 'RE 1234567 ...!!\n\n  x",
                         "<|begin_of_text|>User: hi<|eot_id|>Assistant: ",
                         "\xd0\xbd\xd0\xb5\xd1\x89\xd0\xbe \xe6\x88\x91\xff"};
  int i = 0;
  for (const char* t : texts) std::ofstream(out / "tokenizer" / ("text" + std::to_string(i++) + ".txt")) << t;

  // Result files: the test fixtures (valid bench and GPU results).
  fs::create_directories(out / "result_reader");
  for (const char* f : {"result_a.json", "result_b.json", "result_gpu.json"})
    fs::copy_file(fs::path(BITLAB_SOURCE_DIR) / "tests" / "fixtures" / f, out / "result_reader" / f);
  // fuzz_logits_io: the reader byte, then a small valid file of each kind.
  fs::create_directories(out / "logits_io");
  {
    const fs::path tmp = out / "logits_io" / "tmp.npy";
    const std::vector<float> m{0.5f, -1.0f, 2.0f, 3.25f, -0.0f, 1e-3f};
    write_npy_f32(tmp.string(), m, 2, 3);
    std::ofstream(out / "logits_io" / "matrix.bin", std::ios::binary) << std::string("\x00\x01\x02", 3) << slurp(tmp);
    fs::remove(tmp);
    // llama-perplexity: n_ctx 4, n_vocab 8, one chunk: 4 ids, one scored row of
    // 2 * 4 + 4 uint16 (scale, minimum, 8 quantised log-probabilities).
    std::string llama("\x01_logits_", 9);
    auto put = [&](const void* p, size_t n) { llama.append(static_cast<const char*>(p), n); };
    const int32_t head[3] = {4, 8, 1}, ids[4] = {6, 1, 2, 3};
    put(head, sizeof head);
    put(ids, sizeof ids);
    const float scale = 0.01f, minimum = -16.0f;
    put(&scale, 4);
    put(&minimum, 4);
    for (uint16_t q = 0; q < 8; ++q) {
      const uint16_t v = uint16_t(q * 200);
      put(&v, 2);
    }
    std::ofstream(out / "logits_io" / "llama.bin", std::ios::binary) << llama;
    std::ofstream(out / "logits_io" / "ids.bin", std::ios::binary) << std::string("\x02", 1) << "1, 2,3\n 999\n";
  }
  std::printf("seeds written to %s\n", out.c_str());
  return 0;
}
