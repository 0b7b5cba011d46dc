#include "model/config.h"

#include <cmath>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {

int64_t ModelConfig::ternary_params_per_layer() const {
  return hidden * (q_dim() + 2 * kv_dim()) + q_dim() * hidden + 3 * hidden * ffn;
}

int64_t MatmulShape::n() const {
  int64_t n = 0;
  for (int64_t p : parts) n += p;
  return n;
}

std::vector<MatmulShape> bitlinear_shapes(const ModelConfig& c) {
  return {{"qkv", {c.q_dim(), c.kv_dim(), c.kv_dim()}, c.hidden},
          {"o", {c.hidden}, c.q_dim()},
          {"gate_up", {c.ffn, c.ffn}, c.hidden},
          {"down", {c.hidden}, c.ffn}};
}

void ModelConfig::validate() const {
  auto need = [&](bool ok, const char* what) {
    if (!ok) throw UsageError(fmt::format("model config '{}': {}", name, what));
  };
  need(hidden > 0 && n_layers > 0 && n_heads > 0 && n_kv_heads > 0 && head_dim > 0 && ffn > 0 && vocab > 0,
       "every size must be positive");
  need(head_dim % 2 == 0, "head_dim must be even for rotate-half RoPE");
  need(n_heads % n_kv_heads == 0, "n_heads must be a multiple of n_kv_heads");
  need(n_heads * head_dim == hidden, "n_heads * head_dim must equal hidden (attn_sub_norm and o use both)");
  need(max_pos > 0, "max_pos must be positive");
  need(bos >= 0 && bos < vocab && eos >= 0 && eos < vocab, "bos/eos must be token ids inside the vocabulary");
  need(usable_norm_eps(norm_eps), "norm_eps must be a finite number in (0, 1]");
  need(usable_rope_theta(rope_theta), "rope_theta must be a finite number of at least 1");
}

bool usable_norm_eps(double value) {
  const auto eps = float(value);  // as the forward pass uses it: 1e-50 would become 0
  return std::isfinite(value) && eps > 0 && value <= kMaxNormEps;
}

bool usable_rope_theta(double value) {
  // Finite as fp32 too: the GPU backends compute the rotation in fp32.
  return std::isfinite(value) && value >= 1 && std::isfinite(float(value));
}

float check_norm_eps(const std::string& what, const std::string& field, double value) {
  if (!usable_norm_eps(value))
    throw InputError(fmt::format("{}: {} = {} is not a usable RMS norm epsilon (a finite number in (0, {:g}])", what,
                                 field, value, kMaxNormEps));
  return float(value);
}

double check_rope_theta(const std::string& what, const std::string& field, double value) {
  if (!usable_rope_theta(value))
    throw InputError(fmt::format("{}: {} = {} is not a usable RoPE base (a finite number of at least 1)", what, field,
                                 value));
  return value;
}

void check_config_sizes(const std::string& what, std::initializer_list<ConfigSize> sizes) {
  for (const ConfigSize& s : sizes)
    if (s.value <= 0 || s.value > INT32_MAX)
      throw InputError(fmt::format("{}: {} = {} is out of range", what, s.field, s.value));
}

int32_t check_token_id(const std::string& what, const std::string& field, int64_t value, int64_t vocab) {
  if (value < 0 || value >= vocab)
    throw InputError(fmt::format("{}: {} = {} is outside the {} tokens", what, field, value, vocab));
  return int32_t(value);
}

void validate_file_config(const std::string& what, const ModelConfig& c) {
  try {
    c.validate();
  } catch (const UsageError& e) {
    throw InputError(fmt::format("{}: {}", what, e.what()));
  }
}

ModelConfig bitnet_2b4t() {
  ModelConfig c;
  c.name = "bitnet-2b4t";
  c.hidden = 2560;
  c.n_layers = 30;
  c.n_heads = 20;
  c.n_kv_heads = 5;
  c.head_dim = 128;
  c.ffn = 6912;
  c.vocab = 128256;
  c.max_pos = 4096;
  c.rope_theta = 500000.0;
  c.norm_eps = 1e-5f;
  c.bos = 128000;
  c.eos = 128001;
  return c;
}

ModelConfig tiny_config() {
  ModelConfig c;
  c.name = "tiny";
  c.hidden = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.ffn = 160;
  c.vocab = 512;
  c.max_pos = 256;
  c.rope_theta = 10000.0;
  c.bos = 1;
  c.eos = 2;
  return c;
}

ModelConfig bitnet_2b4t_1layer() {
  ModelConfig c = bitnet_2b4t();
  c.name = "2b4t-1layer";
  c.n_layers = 1;
  c.vocab = 2048;
  c.bos = 1;
  c.eos = 2;
  return c;
}

ModelConfig config_by_name(const std::string& name) {
  if (name == "2b4t" || name == "bitnet-2b4t") return bitnet_2b4t();
  if (name == "tiny") return tiny_config();
  if (name == "2b4t-1layer") return bitnet_2b4t_1layer();
  throw UsageError(fmt::format("unknown model config '{}' (known: 2b4t, tiny, 2b4t-1layer)", name));
}

std::vector<std::string> config_names() { return {"2b4t", "tiny", "2b4t-1layer"}; }

}  // namespace bitlab
