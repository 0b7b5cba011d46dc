// ModelConfig: the shape of a BitNet b1.58 network (docs/design.md §2).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace bitlab {

struct ModelConfig {
  std::string name;
  int64_t hidden = 0;      // d_model
  int64_t n_layers = 0;
  int64_t n_heads = 0;     // query heads
  int64_t n_kv_heads = 0;  // key/value heads (grouped-query attention)
  int64_t head_dim = 0;
  int64_t ffn = 0;         // FFN inner size
  int64_t vocab = 0;
  int64_t max_pos = 0;     // longest sequence the positions are defined for
  double rope_theta = 500000.0;
  float norm_eps = 1e-5f;
  int32_t bos = 0, eos = 0;

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  // Ternary weights in one layer (q, k, v, o, gate, up, down).
  int64_t ternary_params_per_layer() const;
  // Throws UsageError naming the first inconsistent field.
  void validate() const;
};

// Checks of a config read from a file: each throws an InputError that starts
// with `what` (the file) and names the field as the file spells it.
//
// Every size must lie in 1..INT32_MAX. No real network comes near 2^31 in any
// size; the cap keeps products of two sizes (shapes, element counts) far from
// overflowing.
struct ConfigSize {
  int64_t value;
  std::string field;
};
void check_config_sizes(const std::string& what, std::initializer_list<ConfigSize> sizes);
// `value` of `field` as a token id; it must be inside the `vocab` tokens.
int32_t check_token_id(const std::string& what, const std::string& field, int64_t value, int64_t vocab);
// The RMS norm epsilon and the RoPE base as read from `field` of a file (any
// number type), checked: epsilon finite, positive as fp32 and at most
// kMaxNormEps; theta finite (also as fp32) and at least 1 (below 1 the
// rotation angles grow past any position's meaning). Throws InputError naming the field.
inline constexpr double kMaxNormEps = 1.0;
bool usable_norm_eps(double value);
bool usable_rope_theta(double value);
float check_norm_eps(const std::string& what, const std::string& field, double value);
double check_rope_theta(const std::string& what, const std::string& field, double value);
// ModelConfig::validate, its UsageError turned into an InputError.
void validate_file_config(const std::string& what, const ModelConfig& c);

// One BitLinear matmul of a layer as the Transformer runs it: parts fused
// along N (q|k|v, gate|up) share the input of width k.
struct MatmulShape {
  std::string label;            // "qkv", "o", "gate_up", "down"
  std::vector<int64_t> parts;   // rows of each fused part
  int64_t k = 0;
  int64_t n() const;            // sum of parts
};
// The four matmuls of one layer of `c`, in the order they run.
std::vector<MatmulShape> bitlinear_shapes(const ModelConfig& c);

// The real network: hidden 2560, 30 layers, 20/5 heads of 128, FFN 6912, vocab 128256.
ModelConfig bitnet_2b4t();
// Two small layers for fast tests: every op, every code path, tiny widths.
ModelConfig tiny_config();
// Full 2B4T widths, one layer, small vocabulary: real kernel shapes at test speed.
ModelConfig bitnet_2b4t_1layer();

// Looks up a built-in config by name ("2b4t", "bitnet-2b4t", "tiny", "2b4t-1layer").
ModelConfig config_by_name(const std::string& name);
std::vector<std::string> config_names();

}  // namespace bitlab
