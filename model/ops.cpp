#include "model/ops.h"

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {

int64_t TernaryWeight::part_offset(size_t p) const {
  int64_t off = 0;
  for (size_t i = 0; i < p; ++i) off += part_rows[i];
  return off;
}

namespace check {
namespace {
[[noreturn]] void fail(const char* op, const std::string& what) {
  throw UsageError(fmt::format("{}: {}", op, what));
}
void rows_match(const char* op, const Tensor& a, const char* an, const Tensor& b, const char* bn) {
  if (a.shape.rows != b.shape.rows)
    fail(op, fmt::format("{} has {} rows but {} has {}", an, a.shape.rows, bn, b.shape.rows));
}
}  // namespace

void tensor(const char* op, const char* arg, const Tensor& t, DType dtype) {
  if (!t.buf) fail(op, fmt::format("{} has no buffer", arg));
  if (t.dtype != dtype) fail(op, fmt::format("{} is {}, expected {}", arg, dtype_name(t.dtype), dtype_name(dtype)));
  if (t.shape.rows < 0 || t.shape.cols <= 0) fail(op, fmt::format("{} has bad shape {}", arg, to_string(t.shape)));
  if (t.offset > t.buf->bytes() || t.bytes() > t.buf->bytes() - t.offset)
    fail(op, fmt::format("{} {} at offset {} overruns its {}-byte buffer", arg, to_string(t.shape), t.offset,
                         t.buf->bytes()));
}

void same_shape(const char* op, const Tensor& a, const Tensor& b) {
  if (!(a.shape == b.shape)) fail(op, fmt::format("shapes differ: {} vs {}", to_string(a.shape), to_string(b.shape)));
}

void disjoint(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b) {
  if (a.buf != b.buf) return;
  const size_t a_end = a.offset + a.bytes(), b_end = b.offset + b.bytes();
  if (a.offset < b_end && b.offset < a_end) fail(op, fmt::format("{} and {} overlap in memory", a_name, b_name));
}

void embed(const Tensor& tokens, const Tensor& table, const Tensor& out) {
  tensor("embed", "tokens", tokens, DType::I32);
  tensor("embed", "table", table, DType::BF16);
  tensor("embed", "out", out, DType::F32);
  if (tokens.shape.cols != 1) fail("embed", "tokens must be [t, 1]");
  rows_match("embed", tokens, "tokens", out, "out");
  if (out.shape.cols != table.shape.cols)
    fail("embed", fmt::format("out width {} != table width {}", out.shape.cols, table.shape.cols));
}

void rmsnorm(const Tensor& x, const Tensor& w, const Tensor& y) {
  tensor("rmsnorm", "x", x, DType::F32);
  tensor("rmsnorm", "weight", w, DType::F32);
  tensor("rmsnorm", "y", y, DType::F32);
  if (w.shape.rows != 1 || w.shape.cols != x.shape.cols)
    fail("rmsnorm", fmt::format("weight {} does not fit x {}", to_string(w.shape), to_string(x.shape)));
  same_shape("rmsnorm", x, y);
}

void quantize_act(const Tensor& x, const QuantAct& q) {
  tensor("quantize_act", "x", x, DType::F32);
  tensor("quantize_act", "q", q.q, DType::I8);
  tensor("quantize_act", "scale", q.scale, DType::F32);
  same_shape("quantize_act", x, q.q);
  if (q.scale.shape.cols != 1) fail("quantize_act", "scale must be [t, 1]");
  rows_match("quantize_act", x, "x", q.scale, "scale");
}

void matmul_w2a8(const QuantAct& x, const TernaryWeight& w, std::span<const Tensor> y) {
  tensor("matmul_w2a8", "x", x.q, DType::I8);
  tensor("matmul_w2a8", "scale", x.scale, DType::F32);
  rows_match("matmul_w2a8", x.q, "x", x.scale, "scale");
  if (x.q.shape.cols != w.k)
    fail("matmul_w2a8", fmt::format("x has {} features but weight '{}' has k = {}", x.q.shape.cols, w.name, w.k));
  if (w.scales.size() != w.part_rows.size() || y.size() != w.part_rows.size())
    fail("matmul_w2a8", fmt::format("weight '{}' has {} parts but {} outputs were given", w.name, w.part_rows.size(),
                                    y.size()));
  for (size_t p = 0; p < y.size(); ++p) {
    tensor("matmul_w2a8", "y", y[p], DType::F32);
    rows_match("matmul_w2a8", x.q, "x", y[p], "y");
    if (y[p].shape.cols != w.part_rows[p])
      fail("matmul_w2a8", fmt::format("output {} has {} columns, part {} of '{}' has {} rows", p, y[p].shape.cols, p,
                                      w.name, w.part_rows[p]));
  }
}

void rope(const Tensor& x, const RopeParams& p) {
  tensor("rope", "x", x, DType::F32);
  if (p.head_dim <= 0 || p.head_dim % 2 || p.n_heads <= 0 || x.shape.cols != p.n_heads * p.head_dim)
    fail("rope", fmt::format("x {} does not hold {} heads of {}", to_string(x.shape), p.n_heads, p.head_dim));
  if (p.pos0 < 0) fail("rope", "negative position");
}

void attention(const Tensor& q, const Tensor& k, const Tensor& v, const KvLayer& cache, const AttentionParams& p,
               const Tensor& out) {
  tensor("attention", "q", q, DType::F32);
  tensor("attention", "k", k, DType::F32);
  tensor("attention", "v", v, DType::F32);
  tensor("attention", "out", out, DType::F32);
  tensor("attention", "k cache", cache.k, DType::F32);
  tensor("attention", "v cache", cache.v, DType::F32);
  if (p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads)
    fail("attention", fmt::format("{} heads cannot share {} KV heads", p.n_heads, p.n_kv_heads));
  const int64_t qd = p.n_heads * p.head_dim, kvd = p.n_kv_heads * p.head_dim;
  if (q.shape.cols != qd || out.shape.cols != qd) fail("attention", "q/out width != n_heads * head_dim");
  if (k.shape.cols != kvd || v.shape.cols != kvd) fail("attention", "k/v width != n_kv_heads * head_dim");
  if (cache.k.shape.cols != kvd || !(cache.k.shape == cache.v.shape)) fail("attention", "KV cache has the wrong width");
  rows_match("attention", q, "q", k, "k");
  rows_match("attention", q, "q", v, "v");
  rows_match("attention", q, "q", out, "out");
  if (p.pos0 < 0 || p.pos0 + q.shape.rows > cache.k.shape.rows)
    fail("attention", fmt::format("positions {}..{} do not fit a KV cache of {}", p.pos0, p.pos0 + q.shape.rows,
                                  cache.k.shape.rows));
}

void lm_head(const Tensor& x, const Tensor& table, const Tensor& logits) {
  tensor("lm_head", "x", x, DType::F32);
  tensor("lm_head", "table", table, DType::BF16);
  tensor("lm_head", "logits", logits, DType::F32);
  if (x.shape.cols != table.shape.cols) fail("lm_head", "x width != embedding width");
  rows_match("lm_head", x, "x", logits, "logits");
  if (logits.shape.cols != table.shape.rows) fail("lm_head", "logits width != vocabulary");
}

void lm_head_i8(const QuantAct& x, const HeadTable& table, const Tensor& logits) {
  tensor("lm_head_i8", "x", x.q, DType::I8);
  tensor("lm_head_i8", "x scale", x.scale, DType::F32);
  tensor("lm_head_i8", "table", table.q, DType::I8);
  tensor("lm_head_i8", "table scale", table.scale, DType::F32);
  tensor("lm_head_i8", "logits", logits, DType::F32);
  if (x.scale.shape.cols != 1) fail("lm_head_i8", "x scale must be [t, 1]");
  rows_match("lm_head_i8", x.q, "x", x.scale, "x scale");
  if (table.scale.shape.cols != 1) fail("lm_head_i8", "table scale must be [vocab, 1]");
  rows_match("lm_head_i8", table.q, "table", table.scale, "table scale");
  if (x.q.shape.cols != table.q.shape.cols) fail("lm_head_i8", "x width != table width");
  // (q + 128) * x summed over d stays inside int32 for d <= 65536.
  if (x.q.shape.cols > 65536) fail("lm_head_i8", "width over 65536 would overflow the int32 sums");
  rows_match("lm_head_i8", x.q, "x", logits, "logits");
  if (logits.shape.cols != table.q.shape.rows) fail("lm_head_i8", "logits width != vocabulary");
}

void argmax(const Tensor& logits, const Tensor& ids) {
  tensor("argmax", "logits", logits, DType::F32);
  tensor("argmax", "ids", ids, DType::I32);
  if (ids.shape.cols != 1) fail("argmax", "ids must be [t, 1]");
  rows_match("argmax", logits, "logits", ids, "ids");
}

}  // namespace check
}  // namespace bitlab
