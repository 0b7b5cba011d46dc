// The three case sets: unit tests, `bitlab check`, benchmarks.
#include <tuple>

#include "harness/op_cases/families.h"

namespace bitlab::opcase {
namespace {
constexpr double kTheta = 500000.0;
}  // namespace

const std::vector<int64_t>& bench_tokens() {
  static const std::vector<int64_t> tokens{1, 8, 32, 128};
  return tokens;
}

std::vector<std::string> case_ops() {
  return {"embed",         "rmsnorm",  "quantize_act", "rmsnorm_quant", "add_rmsnorm_quant", "relu2_mul_rmsnorm_quant",
          "matmul_w2a8",   "rope",     "rope_qk",      "attention",     "relu2_mul",         "add",
          "lm_head",       "lm_head_i8", "argmax"};
}

std::vector<OpCase> unit_cases() {
  std::vector<OpCase> out;
  for (int64_t t : {1, 3, 8})
    for (int64_t k : {1, 7, 64, 100, 129, 2560, 6912}) out.push_back(quantize_act_case(t, k));
  // Odd widths and row counts around every SIMD step and tail.
  for (int64_t n : {1, 3, 17, 64, 100})
    for (int64_t k : {4, 5, 63, 64, 100, 130, 257, 2564})
      for (int64_t t : {1, 3, 8}) out.push_back(matmul_case("odd", {n}, k, t));
  // QKV-like fusion with unequal parts and very different scales: a scale
  // applied to the wrong rows changes outputs by orders of magnitude.
  for (int64_t t : {1, 5}) out.push_back(matmul_case("fused_scales", {40, 9, 17}, 100, t, {0.01f, 3.0f, 250.0f}));
  // The 2B4T fused QKV and the down projection.
  for (int64_t t : {1, 4}) out.push_back(matmul_case("qkv", {2560, 640, 640}, 2560, t, {0.02f, 0.03f, 0.04f}));
  out.push_back(matmul_case("down", {2560}, 6912, 2));

  for (int64_t t : {1, 3})
    for (int64_t d : {1, 7, 64, 2560, 6912}) out.push_back(rmsnorm_case(t, d));
  for (int64_t t : {1, 4})
    for (int64_t d : {5, 64, 2560, 6912}) out.push_back(rmsnorm_quant_case(t, d));
  for (int64_t t : {1, 4})
    for (int64_t d : {5, 64, 2560, 6912}) out.push_back(add_rmsnorm_quant_case(t, d));
  for (int64_t t : {1, 3})
    for (int64_t d : {7, 64, 6912}) out.push_back(relu2_mul_rmsnorm_quant_case(t, d));
  for (int64_t pos0 : {0, 9, 4000})
    for (auto [hq, hk, hd] : {std::tuple<int64_t, int64_t, int64_t>{4, 2, 16}, {20, 5, 128}, {3, 3, 6}})
      for (int64_t t : {1, 5}) out.push_back(rope_qk_case(hq, hk, hd, pos0, t, kTheta));
  for (int64_t pos0 : {0, 7, 4000})
    for (auto [heads, hd] : {std::pair<int64_t, int64_t>{4, 16}, {20, 128}, {5, 128}})
      out.push_back(rope_case(heads, hd, pos0, 3, kTheta));
  // A prefill, two decode steps and a second chunk, each on the cache the
  // steps before it leave.
  for (auto [heads, kv_heads, hd] : {std::tuple<int64_t, int64_t, int64_t>{4, 2, 16}, {20, 5, 128}, {3, 3, 8}})
    for (auto [pos0, t] : {std::pair<int64_t, int64_t>{0, 37}, {37, 1}, {38, 1}, {39, 5}})
      out.push_back(attention_case(heads, kv_heads, hd, pos0, t));
  for (int64_t n : {1, 15, 4096, 6912 * 3 + 5}) {
    out.push_back(relu2_mul_case(n));
    out.push_back(add_case(n));
  }
  for (auto [vocab, d] : {std::pair<int64_t, int64_t>{1000, 64}, {777, 100}, {300, 2560}}) {
    out.push_back(embed_case(vocab, d));
    out.push_back(lm_head_case(vocab, d, 3));
    out.push_back(argmax_case(vocab, 3));
  }
  // Widths around the 64- and 128-byte steps, vocabularies around the 16-row
  // blocks, and several tokens (the all-logits path).
  for (auto [v, d, t] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {17, 63, 1}, {33, 64, 2}, {16, 127, 3},
                         {300, 2560, 1}, {129, 6912, 1}, {45, 200, 17}})
    out.push_back(lm_head_i8_case(v, d, t));
  return out;
}

std::vector<OpCase> check_cases(const ModelConfig& c) {
  std::vector<OpCase> out;
  for (int64_t t : {1, 3})
    for (int64_t k : {int64_t(100), c.hidden, c.ffn}) out.push_back(quantize_act_case(t, k));
  out.push_back(matmul_case("odd", {17}, 130, 3));
  out.push_back(matmul_case("odd", {1, 3}, 257, 1));
  for (int64_t t : {1, 4})
    for (const MatmulShape& s : bitlinear_shapes(c)) out.push_back(matmul_case(s.label, s.parts, s.k, t));
  out.push_back(rmsnorm_case(2, c.hidden));
  out.push_back(rmsnorm_case(1, c.ffn));
  out.push_back(rope_case(c.n_heads, c.head_dim, 0, 3, c.rope_theta));
  out.push_back(rope_case(c.n_kv_heads, c.head_dim, c.max_pos - 3, 3, c.rope_theta));
  out.push_back(attention_case(c.n_heads, c.n_kv_heads, c.head_dim, 0, 9));
  out.push_back(attention_case(c.n_heads, c.n_kv_heads, c.head_dim, 9, 1));
  out.push_back(relu2_mul_case(c.ffn + 3));
  out.push_back(add_case(c.ffn + 3));
  out.push_back(rmsnorm_quant_case(2, c.hidden));
  for (int64_t t : {1, 3}) {
    out.push_back(add_rmsnorm_quant_case(t, c.hidden));
    out.push_back(relu2_mul_rmsnorm_quant_case(t, c.ffn));
    out.push_back(rope_qk_case(c.n_heads, c.n_kv_heads, c.head_dim, c.max_pos - t, t, c.rope_theta));
  }
  out.push_back(embed_case(c.vocab, c.hidden));
  out.push_back(lm_head_case(c.vocab, c.hidden, 1));
  out.push_back(argmax_case(c.vocab, 1));
  out.push_back(lm_head_i8_case(c.vocab, c.hidden, 1));
  out.push_back(lm_head_i8_case(37, c.hidden + 5, 3));  // odd vocabulary block and width tail
  return out;
}

std::vector<OpCase> bench_cases(const ModelConfig& c, const std::vector<int64_t>& tokens) {
  std::vector<OpCase> out;
  for (int64_t t : tokens)
    for (const MatmulShape& s : bitlinear_shapes(c)) out.push_back(matmul_case(s.label, s.parts, s.k, t));
  out.push_back(lm_head_case(c.vocab, c.hidden, 1));
  out.push_back(lm_head_i8_case(c.vocab, c.hidden, 1));
  return out;
}

}  // namespace bitlab::opcase
