#include "model/backend.h"

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {

const char* weight_bits_name(WeightBits b) { return b == WeightBits::Two ? "2" : "1.6"; }

WeightBits parse_weight_bits(const std::string& s) {
  if (s == "2") return WeightBits::Two;
  if (s == "1.6") return WeightBits::OnePointSix;
  throw UsageError(fmt::format("unknown weight bits '{}' (expected 2 or 1.6)", s));
}

Tensor Backend::new_tensor(DType dtype, Shape shape) {
  if (shape.rows < 0 || shape.cols < 0) throw UsageError(fmt::format("negative shape {}", to_string(shape)));
  Tensor t;
  t.dtype = dtype;
  t.shape = shape;
  t.buf = alloc(t.bytes());
  return t;
}

Tensor Backend::upload_tensor(const void* host, DType dtype, Shape shape) {
  Tensor t = new_tensor(dtype, shape);
  t.buf->write(host, t.offset, t.bytes());
  return t;
}

void Backend::download(const Tensor& t, void* host) const { t.buf->read(host, t.offset, t.bytes()); }

Tensor Backend::scratch(DType dtype, Shape shape, int slot) {
  const size_t need = dtype_bytes(dtype, shape.numel());
  if (slot < 0 || slot >= int(std::size(scratch_))) throw UsageError(fmt::format("scratch slot {} out of range", slot));
  std::shared_ptr<Buffer>& b = scratch_[slot];
  if (!b || b->bytes() < need) b = alloc(need);
  return Tensor{b, 0, dtype, shape};
}

std::unique_ptr<Timer> Backend::timer() {
  struct HostTimer : Timer {
    Backend* b;
    std::chrono::steady_clock::time_point t0;
    explicit HostTimer(Backend* be) : b(be) {}
    void start() override {
      b->synchronize();
      t0 = std::chrono::steady_clock::now();
    }
    double stop_seconds() override {
      b->synchronize();
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  };
  return std::make_unique<HostTimer>(this);
}

void ternary_parts(std::span<const CanonicalTernary* const> parts, TernaryWeight& w) {
  if (parts.empty()) throw UsageError("upload: no ternary matrices given");
  w.k = parts[0]->k;
  w.n = 0;
  w.name.clear();
  w.scales.clear();
  w.part_rows.clear();
  for (const CanonicalTernary* p : parts) {
    p->validate();
    if (p->k != w.k)
      throw UsageError(fmt::format("upload: cannot fuse '{}' (k = {}) with '{}' (k = {})", p->name, p->k,
                                   parts[0]->name, w.k));
    w.name += (w.name.empty() ? "" : "+") + p->name;
    w.scales.push_back(p->scale);
    w.part_rows.push_back(p->n);
    w.n += p->n;
  }
}

// --- checked entry points ----------------------------------------------------

void Backend::embed(const Tensor& tokens, const Tensor& table, Tensor& out) {
  check::embed(tokens, table, out);
  embed_impl(tokens, table, out);
}

void Backend::rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& y) {
  check::rmsnorm(x, w, y);
  rmsnorm_impl(x, w, eps, y);
}

void Backend::quantize_act(const Tensor& x, QuantAct& q) {
  check::quantize_act(x, q);
  quantize_act_impl(x, q);
}

void Backend::rmsnorm_quant(const Tensor& x, const Tensor& w, float eps, QuantAct& q) {
  check::rmsnorm(x, w, x);
  check::quantize_act(x, q);
  rmsnorm_quant_impl(x, w, eps, q);
}

void Backend::rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) {
  Tensor normed = scratch(DType::F32, x.shape);
  rmsnorm_impl(x, w, eps, normed);
  quantize_act_impl(normed, q);
}

namespace {
// The checks of a fused op: an elementwise op on a and b (same-shaped fp32),
// then rmsnorm_quant with weight w into q.
void check_norm_quant_after(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b,
                            const Tensor& w, const QuantAct& q) {
  check::tensor(op, a_name, a, DType::F32);
  check::tensor(op, b_name, b, DType::F32);
  check::same_shape(op, a, b);
  check::rmsnorm(a, w, a);
  check::quantize_act(a, q);
}
}  // namespace

void Backend::add_rmsnorm_quant(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q) {
  check_norm_quant_after("add_rmsnorm_quant", "h", h, "d", d, w, q);
  check::disjoint("add_rmsnorm_quant", "h", h, "d", d);  // h is written while d is read
  add_rmsnorm_quant_impl(h, d, w, eps, q);
}

void Backend::add_rmsnorm_quant_impl(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q) {
  add_impl(h, d, h);
  rmsnorm_quant_impl(h, w, eps, q);
}

void Backend::relu2_mul_rmsnorm_quant(const Tensor& g, const Tensor& u, const Tensor& w, float eps, QuantAct& q) {
  check_norm_quant_after("relu2_mul_rmsnorm_quant", "g", g, "u", u, w, q);
  relu2_mul_rmsnorm_quant_impl(g, u, w, eps, q);
}

void Backend::relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                           QuantAct& q) {
  Tensor f = scratch(DType::F32, g.shape, 1);
  relu2_mul_impl(g, u, f);
  rmsnorm_quant_impl(f, w, eps, q);
}

void Backend::matmul_w2a8(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) {
  check::matmul_w2a8(x, w, y);
  matmul_w2a8_impl(x, w, y);
}

void Backend::rope(Tensor& x, const RopeParams& p) {
  check::rope(x, p);
  rope_impl(x, p);
}

void Backend::rope_qk(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) {
  check::rope(q, pq);
  check::rope(k, pk);
  check::disjoint("rope_qk", "q", q, "k", k);
  if (q.shape.rows != k.shape.rows || pq.pos0 != pk.pos0 || pq.head_dim != pk.head_dim || pq.theta != pk.theta)
    throw UsageError(fmt::format("rope_qk: q ({} rows, position {}, head_dim {}, theta {}) and k ({}, {}, {}, {}) "
                                 "must share rows, positions, head_dim and theta",
                                 q.shape.rows, pq.pos0, pq.head_dim, pq.theta, k.shape.rows, pk.pos0, pk.head_dim,
                                 pk.theta));
  rope_qk_impl(q, pq, k, pk);
}

void Backend::rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) {
  rope_impl(q, pq);
  rope_impl(k, pk);
}

void Backend::attention(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                        Tensor& out) {
  check::attention(q, k, v, cache, p, out);
  attention_impl(q, k, v, cache, p, out);
}

void Backend::relu2_mul(const Tensor& g, const Tensor& u, Tensor& y) {
  check::tensor("relu2_mul", "g", g, DType::F32);
  check::tensor("relu2_mul", "u", u, DType::F32);
  check::tensor("relu2_mul", "y", y, DType::F32);
  check::same_shape("relu2_mul", g, u);
  check::same_shape("relu2_mul", g, y);
  relu2_mul_impl(g, u, y);
}

void Backend::add(const Tensor& a, const Tensor& b, Tensor& y) {
  check::tensor("add", "a", a, DType::F32);
  check::tensor("add", "b", b, DType::F32);
  check::tensor("add", "y", y, DType::F32);
  check::same_shape("add", a, b);
  check::same_shape("add", a, y);
  add_impl(a, b, y);
}

void Backend::lm_head(const Tensor& x, const Tensor& table, Tensor& logits) {
  check::lm_head(x, table, logits);
  lm_head_impl(x, table, logits);
}

void Backend::lm_head_i8(const QuantAct& x, const HeadTable& table, Tensor& logits) {
  check::lm_head_i8(x, table, logits);
  lm_head_i8_impl(x, table, logits);
}

void Backend::argmax(const Tensor& logits, Tensor& ids) {
  check::argmax(logits, ids);
  argmax_impl(logits, ids);
}

}  // namespace bitlab
