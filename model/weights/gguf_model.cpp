#include "model/weights/gguf_model.h"

#include <new>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "model/error.h"
#include "model/weights/float_read.h"
#include "model/weights/gguf_export.h"
#include "model/weights/ternary_formats.h"

namespace bitlab {

namespace {

constexpr const char* kArch = "bitnet-b1.58";
// Architectures whose files carry the same tensors and keys.
bool known_arch(std::string_view a) { return a == "bitnet-b1.58" || a == "bitnet" || a == "bitnet-25"; }

// Layer tensor names, in the order the exporter writes them.
struct LayerTensor {
  const char* gguf;  // after "blk.N."
  bool ternary;
};
constexpr LayerTensor kLayerTensors[] = {
    {"attn_norm", false}, {"attn_q", true},    {"attn_k", true},        {"attn_v", true},
    {"attn_output", true}, {"attn_sub_norm", false}, {"ffn_norm", false}, {"ffn_gate", true},
    {"ffn_up", true},      {"ffn_down", true},  {"ffn_sub_norm", false},
};

std::string layer_name(int64_t l, const char* t) { return fmt::format("blk.{}.{}.weight", l, t); }

const GgufTensor& need_tensor(const GgufFile& g, const std::string& name) {
  const GgufTensor* t = g.tensor(name);
  if (t == nullptr) throw InputError(fmt::format("{}: tensor '{}' is missing", g.what, name));
  return *t;
}

void check_dims(const GgufFile& g, const GgufTensor& t, std::initializer_list<int64_t> want) {
  bool ok = t.dims.size() == want.size();
  size_t i = 0;
  for (int64_t d : want) ok = ok && i < t.dims.size() && t.dims[i++] == uint64_t(d);
  if (!ok)
    throw InputError(fmt::format("{}: tensor '{}' at offset {} has dims [{}], the config needs [{}]", g.what, t.name,
                                 t.file_offset, fmt::join(t.dims, ", "), fmt::join(want, ", ")));
}

// How a float tensor (F32, F16 or BF16) stores its values.
FloatFormat float_format(const GgufFile& g, const GgufTensor& t) {
  switch (GgmlType(t.type)) {
    case GgmlType::F32: return FloatFormat::F32;
    case GgmlType::F16: return FloatFormat::F16;
    case GgmlType::BF16: return FloatFormat::BF16;
    default:
      throw InputError(fmt::format("{}: tensor '{}' at offset {} is {}, expected F32, F16 or BF16", g.what, t.name,
                                   t.file_offset, ggml_type_name(t.type)));
  }
}

// A float tensor of `len` values as fp32.
std::vector<float> read_floats(const GgufFile& g, const GgufTensor& t, uint64_t len) {
  return floats_to_f32(g.read(t), float_format(g, t), size_t(len));
}

std::vector<float> read_norm(const GgufFile& g, const std::string& name, int64_t len) {
  const GgufTensor& t = need_tensor(g, name);
  check_dims(g, t, {len});
  std::vector<float> v = read_floats(g, t, uint64_t(len));
  check_weight_values(v, g.what, name);
  return v;
}

// A ternary matrix of shape [n, k] (ggml dims [k, n]).
CanonicalTernary read_ternary(const GgufFile& g, const std::string& name, int64_t n, int64_t k) {
  const GgufTensor& t = need_tensor(g, name);
  check_dims(g, t, {k, n});
  if (t.type == uint32_t(GgmlType::I2_S)) {
    const std::vector<uint8_t> bytes = g.read(t);
    try {
      return decode_i2s(name, n, k, bytes);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: {} (tensor data at file offset {})", g.what, e.what(), t.file_offset));
    }
  }
  const std::vector<float> w = read_floats(g, t, uint64_t(n) * uint64_t(k));
  try {
    return quantize_absmean(name, n, k, w);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {} (tensor data at file offset {})", g.what, e.what(), t.file_offset));
  }
}

}  // namespace

ModelConfig gguf_model_config(const GgufFile& g) {
  const std::string arch(g.get_string("general.architecture"));
  if (!known_arch(arch))
    throw InputError(fmt::format("{}: general.architecture is '{}', not a BitNet b1.58 model ('{}')", g.what, arch,
                                 kArch));
  auto key = [&](const char* k) { return arch + "." + k; };
  ModelConfig c;
  c.name = g.find("general.name") && g.find("general.name")->type == GgufType::String
               ? std::string(g.get_string("general.name"))
               : arch;
  c.hidden = g.get_int(key("embedding_length"));
  c.n_layers = g.get_int(key("block_count"));
  c.n_heads = g.get_int(key("attention.head_count"));
  c.n_kv_heads = g.get_int_or(key("attention.head_count_kv"), c.n_heads);
  c.ffn = g.get_int(key("feed_forward_length"));
  c.max_pos = g.get_int_or(key("context_length"), 4096);
  c.rope_theta = check_rope_theta(g.what, key("rope.freq_base"), g.get_float_or(key("rope.freq_base"), 500000.0));
  c.norm_eps = check_norm_eps(g.what, key("attention.layer_norm_rms_epsilon"),
                              g.get_float_or(key("attention.layer_norm_rms_epsilon"), 1e-5));
  if (c.n_heads <= 0 || c.hidden <= 0 || c.hidden % c.n_heads != 0)
    throw InputError(fmt::format("{}: {} = {} is not a multiple of {} = {}", g.what, key("embedding_length"), c.hidden,
                                 key("attention.head_count"), c.n_heads));
  c.head_dim = g.get_int_or(key("rope.dimension_count"), c.hidden / c.n_heads);
  check_config_sizes(g.what, {{c.hidden, key("embedding_length")},
                              {c.n_layers, key("block_count")},
                              {c.n_heads, key("attention.head_count")},
                              {c.n_kv_heads, key("attention.head_count_kv")},
                              {c.ffn, key("feed_forward_length")},
                              {c.head_dim, key("rope.dimension_count")},
                              {c.max_pos, key("context_length")}});
  // The vocabulary is the embedding's row count; vocab_size, when present, must agree.
  const GgufTensor& emb = need_tensor(g, "token_embd.weight");
  if (emb.dims.size() != 2 || int64_t(emb.dims[0]) != c.hidden)
    throw InputError(fmt::format("{}: tensor 'token_embd.weight' must have dims [{}, vocab]", g.what, c.hidden));
  c.vocab = int64_t(emb.dims[1]);
  if (const int64_t vs = g.get_int_or(key("vocab_size"), c.vocab); vs != c.vocab)
    throw InputError(fmt::format("{}: {} = {} but token_embd.weight has {} rows", g.what, key("vocab_size"), vs,
                                 c.vocab));
  if (c.vocab > INT32_MAX) throw InputError(fmt::format("{}: {} tokens is out of range", g.what, c.vocab));
  for (auto [id, k] :
       {std::pair{&c.bos, "tokenizer.ggml.bos_token_id"}, std::pair{&c.eos, "tokenizer.ggml.eos_token_id"}})
    *id = check_token_id(g.what, k, g.get_int_or(k, 0), c.vocab);
  validate_file_config(g.what, c);
  return c;
}

namespace {

ModelWeights load_weights(const GgufFile& g) {
  const ModelConfig c = gguf_model_config(g);
  // The first missing tensor is reported; the loop stops there, so a huge
  // block_count costs no more than the tensors the file really has.
  std::set<std::string> expected = {"token_embd.weight", "output_norm.weight"};
  for (int64_t l = 0; l < c.n_layers; ++l)
    for (const LayerTensor& lt : kLayerTensors) {
      std::string name = layer_name(l, lt.gguf);
      (void)need_tensor(g, name);
      expected.insert(std::move(name));
    }
  for (const GgufTensor& t : g.tensors)
    if (!expected.count(std::string(t.name)))
      throw InputError(fmt::format("{}: unexpected tensor '{}' at offset {} (the LM head is the tied embedding; "
                                   "{} layers)",
                                   g.what, t.name, t.file_offset, c.n_layers));

  ModelWeights m;
  m.config = c;
  m.source = g.what;
  const GgufTensor& emb = need_tensor(g, "token_embd.weight");
  m.embedding = read_bf16_table(g.source, emb.file_offset, float_format(g, emb),
                                size_t(uint64_t(c.vocab) * uint64_t(c.hidden)));
  check_weight_values(m.embedding.data, g.what, "token_embd.weight");
  m.final_norm = read_norm(g, "output_norm.weight", c.hidden);
  m.layers.resize(size_t(c.n_layers));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = m.layers[size_t(l)];
    auto name = [&](const char* t) { return layer_name(l, t); };
    L.attn_norm = read_norm(g, name("attn_norm"), c.hidden);
    L.attn_sub_norm = read_norm(g, name("attn_sub_norm"), c.hidden);
    L.ffn_norm = read_norm(g, name("ffn_norm"), c.hidden);
    L.ffn_sub_norm = read_norm(g, name("ffn_sub_norm"), c.ffn);
    L.q = read_ternary(g, name("attn_q"), c.q_dim(), c.hidden);
    L.k = read_ternary(g, name("attn_k"), c.kv_dim(), c.hidden);
    L.v = read_ternary(g, name("attn_v"), c.kv_dim(), c.hidden);
    L.o = read_ternary(g, name("attn_output"), c.hidden, c.q_dim());
    L.gate = read_ternary(g, name("ffn_gate"), c.ffn, c.hidden);
    L.up = read_ternary(g, name("ffn_up"), c.ffn, c.hidden);
    L.down = read_ternary(g, name("ffn_down"), c.hidden, c.ffn);
  }
  m.validate();
  return m;
}

}  // namespace

ModelWeights load_gguf_model(const GgufFile& g) {
  try {
    return load_weights(g);
  } catch (const std::bad_alloc&) {
    throw InputError(fmt::format("{}: not enough memory to load its weights", g.what));
  }
}

void export_gguf_i2s(const ModelWeights& w, const std::string& path, const GgufFile* vocab) {
  // One writer for every GGUF dialect (gguf_export.h).
  export_gguf(w, "gguf-i2s", path, vocab);
}

}  // namespace bitlab
