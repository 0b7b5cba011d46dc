#include "harness/planted_bugs.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "model/error.h"
#include "model/forwarding_backend.h"

namespace bitlab {
namespace {

std::vector<float> fetch(const Tensor& t) {
  std::vector<float> v(size_t(t.shape.numel()));
  t.buf->read(v.data(), t.offset, t.bytes());
  return v;
}
void store(const std::vector<float>& v, const Tensor& t) { t.buf->write(v.data(), t.offset, t.bytes()); }

// The common part: active only inside the chosen layer, and marked in the
// variant so a result file cannot pass for the real backend's.
class Planted : public ForwardingBackend {
 public:
  Planted(std::unique_ptr<Backend> inner, int64_t layer, const std::string& name)
      : ForwardingBackend(std::move(inner)), target_(layer) {
    info_ = ForwardingBackend::info();
    info_.variant += "+planted:" + name;
  }
  const DeviceInfo& info() const override { return info_; }

 protected:
  bool active() const { return layer() == target_; }

 private:
  int64_t target_;
  DeviceInfo info_;
};

// llama.cpp's BitNet graph: a SiLU-gated FFN, silu(g)·u, where 2B4T squares a ReLU.
class SiluFfn final : public Planted {
 public:
  using Planted::Planted;

 protected:
  static std::vector<float> silu_mul(const Tensor& g, const Tensor& u) {
    std::vector<float> gv = fetch(g);
    const std::vector<float> uv = fetch(u);
    for (size_t i = 0; i < gv.size(); ++i) gv[i] = float(double(gv[i]) / (1.0 + std::exp(-double(gv[i]))) * uv[i]);
    return gv;
  }
  void relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) override {
    if (!active()) return Planted::relu2_mul_impl(g, u, y);
    store(silu_mul(g, u), y);
  }
  void relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                    QuantAct& q) override {
    if (!active()) return Planted::relu2_mul_rmsnorm_quant_impl(g, u, w, eps, q);
    Tensor f = scratch(DType::F32, g.shape);
    store(silu_mul(g, u), f);
    inner().rmsnorm_quant(f, w, eps, q);
  }
};

// The official BitNet GPU kernel: the scales of a fused QKV weight assigned to
// N/3 row bands, which is right only when q, k and v have equal rows (2B4T's
// are 2560/640/640). Exact: the inner matmul runs with unit scales, giving
// float(acc)/s, and each row is then multiplied by its band's scale, as the
// kernel's epilogue float(acc)/s*scale would.
class QkvBandScales final : public Planted {
 public:
  using Planted::Planted;

 protected:
  void matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) override {
    const bool unequal =
        w.part_rows.size() == 3 && !(w.part_rows[0] == w.part_rows[1] && w.part_rows[1] == w.part_rows[2]);
    if (!active() || !unequal) return Planted::matmul_w2a8_impl(x, w, y);
    TernaryWeight unit = w;
    std::fill(unit.scales.begin(), unit.scales.end(), 1.0f);
    inner().matmul_w2a8(x, unit, y);
    const int64_t band = w.n / 3;
    for (size_t p = 0; p < y.size(); ++p) {
      std::vector<float> v = fetch(y[p]);
      const int64_t cols = y[p].shape.cols;
      for (int64_t c = 0; c < cols; ++c) {
        const float s = w.scales[size_t(std::min<int64_t>(2, (w.part_offset(p) + c) / band))];
        for (int64_t r = 0; r < y[p].shape.rows; ++r) v[size_t(r * cols + c)] *= s;
      }
      store(v, y[p]);
    }
  }
};

// RoPE with interleaved pairs (2i, 2i+1), the GPT-J layout, where 2B4T (as
// Llama in Hugging Face's layout) rotates halves: pairs (i, i + head_dim/2).
class RopeInterleaved final : public Planted {
 public:
  using Planted::Planted;

 protected:
  static void rotate(const Tensor& x, const RopeParams& p) {
    std::vector<float> v = fetch(x);
    for (int64_t row = 0; row < x.shape.rows; ++row)
      for (int64_t h = 0; h < p.n_heads; ++h) {
        float* head = v.data() + (row * p.n_heads + h) * p.head_dim;
        for (int64_t i = 0; i < p.head_dim / 2; ++i) {
          const double freq = std::pow(p.theta, -2.0 * double(i) / double(p.head_dim));
          const double angle = double(p.pos0 + row) * freq, a = head[2 * i], b = head[2 * i + 1];
          head[2 * i] = float(a * std::cos(angle) - b * std::sin(angle));
          head[2 * i + 1] = float(a * std::sin(angle) + b * std::cos(angle));
        }
      }
    store(v, x);
  }
  void rope_impl(Tensor& x, const RopeParams& p) override {
    if (!active()) return Planted::rope_impl(x, p);
    rotate(x, p);
  }
  void rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) override {
    if (!active()) return Planted::rope_qk_impl(q, pq, k, pk);
    rotate(q, pq);
    rotate(k, pk);
  }
};

// Attention without the causal mask: in a prefill every row sees every
// position of the chunk. Exact: after the real op (which fills the cache),
// each earlier row is recomputed as a query at the chunk's last position.
class NoCausalMask final : public Planted {
 public:
  using Planted::Planted;

 protected:
  void attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                      Tensor& out) override {
    Planted::attention_impl(q, k, v, cache, p, out);
    if (!active()) return;
    const int64_t t = q.shape.rows;
    AttentionParams last = p;
    last.pos0 = p.pos0 + t - 1;
    for (int64_t r = 0; r + 1 < t; ++r) {
      Tensor o = out.rows(r, 1);  // rewrites the last cache row with the same values
      inner().attention(q.rows(r, 1), k.rows(t - 1, 1), v.rows(t - 1, 1), cache, last, o);
    }
  }
};

// A KV position off by one: keys rotated (and so cached) at position pos + 1
// while the queries are at pos.
class KvPositionOffByOne final : public Planted {
 public:
  using Planted::Planted;

 protected:
  void rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) override {
    if (!active()) return Planted::rope_qk_impl(q, pq, k, pk);
    RopeParams shifted = pk;
    shifted.pos0 += 1;
    inner().rope(q, pq);
    inner().rope(k, shifted);
  }
};

// The attention sub-norm run with an all-ones weight (the weight never loaded).
class SubNormOnes final : public Planted {
 public:
  using Planted::Planted;

 protected:
  void rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) override {
    if (!active()) return Planted::rmsnorm_quant_impl(x, w, eps, q);
    Tensor ones = scratch(DType::F32, w.shape);
    store(std::vector<float>(size_t(w.shape.numel()), 1.0f), ones);
    inner().rmsnorm_quant(x, ones, eps, q);
  }
};

template <class T>
std::unique_ptr<Backend> make(std::unique_ptr<Backend> inner, int64_t layer, const std::string& name) {
  return std::make_unique<T>(std::move(inner), layer, name);
}

}  // namespace

const std::vector<PlantedBug>& planted_bugs() {
  static const std::vector<PlantedBug> bugs = {
      {"silu_ffn", "relu2_mul_rmsnorm_quant/ffn_sub_norm", "the FFN gate is silu(g)*u instead of relu(g)^2*u"},
      {"qkv_band_scales", "matmul_w2a8/qkv", "fused QKV scales assigned by N/3 row bands instead of the parts"},
      {"rope_interleaved", "rope_qk", "RoPE pairs (2i, 2i+1) instead of rotate-half (i, i + head_dim/2)"},
      {"no_causal_mask", "attention", "prefill rows attend to later positions of the chunk"},
      {"kv_pos_off_by_one", "rope_qk", "keys rotated and cached at position pos+1"},
      {"attn_sub_norm_ones", "rmsnorm_quant/attn_sub_norm", "the attention sub-norm applied with an all-ones weight"},
  };
  return bugs;
}

std::unique_ptr<Backend> plant_bug(const std::string& name, std::unique_ptr<Backend> inner, int64_t layer) {
  if (name == "silu_ffn") return make<SiluFfn>(std::move(inner), layer, name);
  if (name == "qkv_band_scales") return make<QkvBandScales>(std::move(inner), layer, name);
  if (name == "rope_interleaved") return make<RopeInterleaved>(std::move(inner), layer, name);
  if (name == "no_causal_mask") return make<NoCausalMask>(std::move(inner), layer, name);
  if (name == "kv_pos_off_by_one") return make<KvPositionOffByOne>(std::move(inner), layer, name);
  if (name == "attn_sub_norm_ones") return make<SubNormOnes>(std::move(inner), layer, name);
  std::vector<std::string> known;
  for (const PlantedBug& b : planted_bugs()) known.push_back(b.name);
  throw UsageError(fmt::format("--plant '{}': unknown bug (known: {})", name, fmt::join(known, ", ")));
}

}  // namespace bitlab
