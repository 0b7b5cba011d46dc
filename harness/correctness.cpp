#include "harness/correctness.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "harness/e2e_bench.h"
#include "model/reference.h"
#include "model/reference_backend.h"
#include "model/transformer.h"
#include "model/weights/synthetic.h"

namespace bitlab {
namespace {

constexpr double kNmseReordered = 1e-10;  // summation order differs from the reference
constexpr double kNmseExact = 1e-12;      // one or two roundings differ at most
constexpr double kNmseEndToEnd = 1e-8;

double nmse(std::span<const float> a, std::span<const float> b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return den == 0 ? num : num / den;
}

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  SplitMix64 g(seed);
  std::vector<float> v(n);
  for (float& x : v) x = scale * g.normal();
  return v;
}

template <class T>
std::vector<T> fetch(const Backend& be, const Tensor& t) {
  std::vector<T> v(t.bytes() / sizeof(T));
  be.download(t, v.data());
  return v;
}

class OpChecker {
 public:
  OpChecker(Backend& be) : be_(be) {}
  std::vector<CheckRecord> records;

  void exact(const std::string& check, bool ok) {
    CheckRecord r = base(check);
    r.bit_exact = ok;
    r.pass = ok;
    records.push_back(r);
  }
  void close(const std::string& check, std::span<const float> got, std::span<const float> want, double threshold) {
    CheckRecord r = base(check);
    r.nmse = nmse(got, want);
    r.threshold = threshold;
    r.pass = *r.nmse <= threshold;
    records.push_back(r);
  }

  void quantize(int64_t t, int64_t k) {
    const auto x = randn(size_t(t * k), uint64_t(t * 131 + k), 3.0f);
    QuantAct q{be_.new_tensor(DType::I8, {t, k}), be_.new_tensor(DType::F32, {t, 1})};
    be_.quantize_act(be_.upload_tensor(x.data(), DType::F32, {t, k}), q);
    std::vector<int8_t> wq(size_t(t * k));
    std::vector<float> ws(static_cast<size_t>(t));
    ref::quantize_act(x.data(), t, k, wq.data(), ws.data());
    exact(fmt::format("quantize_act/T:{}/K:{}", t, k), fetch<int8_t>(be_, q.q) == wq && fetch<float>(be_, q.scale) == ws);
  }

  void matmul(const std::string& label, const std::vector<int64_t>& rows, int64_t k, int64_t t) {
    std::vector<CanonicalTernary> parts;
    std::vector<const CanonicalTernary*> ptrs;
    for (size_t i = 0; i < rows.size(); ++i)
      parts.push_back(synthetic_ternary(fmt::format("{}.{}", label, i), rows[i], k, stream_key(3, i, uint64_t(k))));
    for (auto& p : parts) ptrs.push_back(&p);
    const auto x = randn(size_t(t * k), uint64_t(k + t));
    std::vector<int8_t> xq(size_t(t * k));
    std::vector<float> s(static_cast<size_t>(t));
    ref::quantize_act(x.data(), t, k, xq.data(), s.data());
    QuantAct qa{be_.upload_tensor(xq.data(), DType::I8, {t, k}), be_.upload_tensor(s.data(), DType::F32, {t, 1})};
    std::vector<Tensor> ys;
    for (int64_t r : rows) ys.push_back(be_.new_tensor(DType::F32, {t, r}));
    be_.matmul_w2a8(qa, be_.upload(ptrs), ys);
    bool ok = true;
    for (size_t i = 0; i < parts.size(); ++i) {
      std::vector<float> want(size_t(t * rows[i]));
      ref::matmul_w2a8(xq.data(), s.data(), t, parts[i].packed.data(), rows[i], k, parts[i].scale, want.data(),
                       rows[i]);
      const auto got = fetch<float>(be_, ys[i]);
      ok = ok && std::memcmp(got.data(), want.data(), want.size() * 4) == 0;
    }
    int64_t n = 0;
    for (int64_t r : rows) n += r;
    exact(fmt::format("matmul_w2a8/{}/N:{}/K:{}/T:{}", label, n, k, t), ok);
  }

  void rmsnorm(int64_t t, int64_t d) {
    const auto x = randn(size_t(t * d), uint64_t(d), 2.0f), w = randn(size_t(d), uint64_t(d) + 1);
    Tensor y = be_.new_tensor(DType::F32, {t, d});
    be_.rmsnorm(be_.upload_tensor(x.data(), DType::F32, {t, d}), be_.upload_tensor(w.data(), DType::F32, {1, d}),
                1e-5f, y);
    std::vector<float> want(size_t(t * d));
    ref::rmsnorm(x.data(), w.data(), t, d, 1e-5f, want.data());
    close(fmt::format("rmsnorm/T:{}/D:{}", t, d), fetch<float>(be_, y), want, kNmseReordered);
  }

  void rope(int64_t heads, int64_t hd, int64_t pos0, double theta) {
    auto x = randn(size_t(3 * heads * hd), uint64_t(pos0 + 5));
    Tensor xt = be_.upload_tensor(x.data(), DType::F32, {3, heads * hd});
    const RopeParams p{heads, hd, pos0, theta};
    be_.rope(xt, p);
    ref::rope(x.data(), 3, p);
    close(fmt::format("rope/heads:{}/pos:{}", heads, pos0), fetch<float>(be_, xt), x, kNmseReordered);
  }

  void attention(const ModelConfig& c) {
    const int64_t qd = c.q_dim(), kvd = c.kv_dim(), max_pos = 12;
    KvLayer cache{be_.new_tensor(DType::F32, {max_pos, kvd}), be_.new_tensor(DType::F32, {max_pos, kvd})};
    std::vector<float> kc(size_t(max_pos * kvd)), vc(size_t(max_pos * kvd));
    int64_t pos = 0;
    for (int64_t t : {9, 1}) {
      const auto q = randn(size_t(t * qd), uint64_t(pos + 1)), k = randn(size_t(t * kvd), uint64_t(pos + 2)),
                 v = randn(size_t(t * kvd), uint64_t(pos + 3));
      Tensor out = be_.new_tensor(DType::F32, {t, qd});
      const AttentionParams p{c.n_heads, c.n_kv_heads, c.head_dim, pos};
      be_.attention(be_.upload_tensor(q.data(), DType::F32, {t, qd}), be_.upload_tensor(k.data(), DType::F32, {t, kvd}),
                    be_.upload_tensor(v.data(), DType::F32, {t, kvd}), cache, p, out);
      std::copy(k.begin(), k.end(), kc.begin() + pos * kvd);
      std::copy(v.begin(), v.end(), vc.begin() + pos * kvd);
      std::vector<float> want(size_t(t * qd));
      ref::attention(q.data(), kc.data(), vc.data(), t, p, want.data());
      close(fmt::format("attention/heads:{}/{}/pos:{}/T:{}", c.n_heads, c.n_kv_heads, pos, t), fetch<float>(be_, out),
            want, kNmseReordered);
      pos += t;
    }
  }

  void elementwise(int64_t n) {
    const auto g = randn(size_t(n), 1), u = randn(size_t(n), 2);
    Tensor gt = be_.upload_tensor(g.data(), DType::F32, {1, n}), ut = be_.upload_tensor(u.data(), DType::F32, {1, n});
    Tensor y = be_.new_tensor(DType::F32, {1, n});
    std::vector<float> want(static_cast<size_t>(n));
    be_.relu2_mul(gt, ut, y);
    ref::relu2_mul(g.data(), u.data(), n, want.data());
    close(fmt::format("relu2_mul/N:{}", n), fetch<float>(be_, y), want, kNmseExact);
    be_.add(gt, ut, y);
    ref::add(g.data(), u.data(), n, want.data());
    exact(fmt::format("add/N:{}", n), fetch<float>(be_, y) == want);
  }

  // The fused ops against the same backend's own unfused ops, bit for bit
  // (backend.h): the residual add + norm, relu²·u + norm, and RoPE on q and k.
  void fused(const ModelConfig& c, int64_t t) {
    const int64_t d = c.hidden, f = c.ffn;
    auto quant = [&](int64_t cols) {
      return QuantAct{be_.new_tensor(DType::I8, {t, cols}), be_.new_tensor(DType::F32, {t, 1})};
    };
    auto same = [&](const QuantAct& a, const QuantAct& b) {
      return fetch<int8_t>(be_, a.q) == fetch<int8_t>(be_, b.q) &&
             fetch<float>(be_, a.scale) == fetch<float>(be_, b.scale);
    };
    const auto h = randn(size_t(t * d), 41, 3.0f), r = randn(size_t(t * d), 42), w = randn(size_t(d), 43);
    Tensor rt = be_.upload_tensor(r.data(), DType::F32, {t, d}), wt = be_.upload_tensor(w.data(), DType::F32, {1, d});
    Tensor h1 = be_.upload_tensor(h.data(), DType::F32, {t, d}), h2 = be_.upload_tensor(h.data(), DType::F32, {t, d});
    QuantAct q1 = quant(d), q2 = quant(d);
    be_.add_rmsnorm_quant(h1, rt, wt, c.norm_eps, q1);
    be_.add(h2, rt, h2);
    be_.rmsnorm_quant(h2, wt, c.norm_eps, q2);
    exact(fmt::format("add_rmsnorm_quant/T:{}/D:{}", t, d),
          fetch<float>(be_, h1) == fetch<float>(be_, h2) && same(q1, q2));

    const auto g = randn(size_t(t * f), 44, 2.0f), u = randn(size_t(t * f), 45, 2.0f), wf = randn(size_t(f), 46);
    Tensor gt = be_.upload_tensor(g.data(), DType::F32, {t, f}), ut = be_.upload_tensor(u.data(), DType::F32, {t, f});
    Tensor wft = be_.upload_tensor(wf.data(), DType::F32, {1, f}), prod = be_.new_tensor(DType::F32, {t, f});
    QuantAct p1 = quant(f), p2 = quant(f);
    be_.relu2_mul_rmsnorm_quant(gt, ut, wft, c.norm_eps, p1);
    be_.relu2_mul(gt, ut, prod);
    be_.rmsnorm_quant(prod, wft, c.norm_eps, p2);
    exact(fmt::format("relu2_mul_rmsnorm_quant/T:{}/D:{}", t, f), same(p1, p2));

    const int64_t pos0 = c.max_pos - t;
    const RopeParams pq{c.n_heads, c.head_dim, pos0, c.rope_theta}, pk{c.n_kv_heads, c.head_dim, pos0, c.rope_theta};
    const auto qv = randn(size_t(t * c.q_dim()), 47), kv = randn(size_t(t * c.kv_dim()), 48);
    Tensor qa = be_.upload_tensor(qv.data(), DType::F32, {t, c.q_dim()});
    Tensor ka = be_.upload_tensor(kv.data(), DType::F32, {t, c.kv_dim()});
    Tensor qb = be_.upload_tensor(qv.data(), DType::F32, {t, c.q_dim()});
    Tensor kb = be_.upload_tensor(kv.data(), DType::F32, {t, c.kv_dim()});
    be_.rope_qk(qa, pq, ka, pk);
    be_.rope(qb, pq);
    be_.rope(kb, pk);
    exact(fmt::format("rope_qk/T:{}/pos:{}", t, pos0),
          fetch<float>(be_, qa) == fetch<float>(be_, qb) && fetch<float>(be_, ka) == fetch<float>(be_, kb));
  }

  void head(int64_t vocab, int64_t d) {
    std::vector<uint16_t> table(size_t(vocab * d));
    SplitMix64 g(17);
    for (uint16_t& v : table) v = f32_to_bf16(0.05f * g.normal());
    Tensor tab = be_.upload_tensor(table.data(), DType::BF16, {vocab, d});
    const std::vector<int32_t> ids = {0, int32_t(vocab - 1)};
    Tensor e = be_.new_tensor(DType::F32, {2, d});
    be_.embed(be_.upload_tensor(ids.data(), DType::I32, {2, 1}), tab, e);
    std::vector<float> want_e(size_t(2 * d));
    ref::embed(ids.data(), 2, table.data(), vocab, d, want_e.data());
    exact(fmt::format("embed/V:{}/D:{}", vocab, d), fetch<float>(be_, e) == want_e);
    const auto x = randn(size_t(d), 23);
    Tensor logits = be_.new_tensor(DType::F32, {1, vocab});
    be_.lm_head(be_.upload_tensor(x.data(), DType::F32, {1, d}), tab, logits);
    std::vector<float> want(static_cast<size_t>(vocab));
    ref::lm_head(x.data(), 1, table.data(), vocab, d, want.data());
    const auto got = fetch<float>(be_, logits);
    close(fmt::format("lm_head/V:{}/D:{}", vocab, d), got, want, kNmseReordered);
    Tensor am = be_.new_tensor(DType::I32, {1, 1});
    be_.argmax(logits, am);
    int32_t want_am = 0;
    ref::argmax(got.data(), 1, vocab, &want_am);
    exact(fmt::format("argmax/V:{}", vocab), fetch<int32_t>(be_, am)[0] == want_am);
  }

  // The int8 head, bit-exact against the reference.
  void head_i8(int64_t vocab, int64_t d, int64_t t) {
    std::vector<uint16_t> table(size_t(vocab * d));
    SplitMix64 g(19);
    for (uint16_t& v : table) v = f32_to_bf16(0.05f * g.normal());
    std::vector<int8_t> q(size_t(vocab * d)), xq(size_t(t * d));
    std::vector<float> sv(static_cast<size_t>(vocab)), sx(static_cast<size_t>(t));
    ref::quantize_head(table.data(), vocab, d, q.data(), sv.data());
    const auto x = randn(size_t(t * d), 29);
    ref::quantize_act(x.data(), t, d, xq.data(), sx.data());
    const HeadTable ht{be_.upload_tensor(q.data(), DType::I8, {vocab, d}),
                       be_.upload_tensor(sv.data(), DType::F32, {vocab, 1})};
    const QuantAct qa{be_.upload_tensor(xq.data(), DType::I8, {t, d}), be_.upload_tensor(sx.data(), DType::F32, {t, 1})};
    Tensor logits = be_.new_tensor(DType::F32, {t, vocab});
    be_.lm_head_i8(qa, ht, logits);
    std::vector<float> want(size_t(t * vocab));
    ref::lm_head_i8(xq.data(), sx.data(), t, q.data(), sv.data(), vocab, d, want.data());
    const auto got = fetch<float>(be_, logits);
    exact(fmt::format("lm_head_i8/V:{}/D:{}/T:{}", vocab, d, t),
          std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0);
  }

 private:
  CheckRecord base(const std::string& check) const {
    CheckRecord r;
    r.backend = be_.info().backend;
    r.variant = be_.info().variant;
    r.check = check;
    return r;
  }
  Backend& be_;
};

}  // namespace

nlohmann::json to_json(const CheckRecord& r) {
  nlohmann::json j = {{"backend", r.backend}, {"variant", r.variant}, {"check", r.check}, {"pass", r.pass}};
  auto put = [&](const char* k, const std::optional<double>& v) {
    if (v && std::isfinite(*v)) j[k] = *v;
  };
  if (r.bit_exact) j["bit_exact"] = *r.bit_exact;
  put("nmse", r.nmse);
  put("threshold", r.threshold);
  put("cosine", r.cosine);
  put("max_abs_diff", r.max_abs_diff);
  put("kl_divergence", r.kl_divergence);
  put("top1_agreement", r.top1_agreement);
  return j;
}

std::vector<CheckRecord> check_ops(Backend& be, const ModelConfig& c) {
  OpChecker k(be);
  for (int64_t t : {1, 3})
    for (int64_t kk : {int64_t(100), c.hidden, c.ffn}) k.quantize(t, kk);
  k.matmul("odd", {17}, 130, 3);
  k.matmul("odd", {1, 3}, 257, 1);
  for (int64_t t : {1, 4}) {
    k.matmul("qkv", {c.q_dim(), c.kv_dim(), c.kv_dim()}, c.hidden, t);
    k.matmul("o", {c.hidden}, c.q_dim(), t);
    k.matmul("gate_up", {c.ffn, c.ffn}, c.hidden, t);
    k.matmul("down", {c.hidden}, c.ffn, t);
  }
  k.rmsnorm(2, c.hidden);
  k.rmsnorm(1, c.ffn);
  k.rope(c.n_heads, c.head_dim, 0, c.rope_theta);
  k.rope(c.n_kv_heads, c.head_dim, c.max_pos - 3, c.rope_theta);
  k.attention(c);
  k.elementwise(c.ffn + 3);
  for (int64_t t : {1, 3}) k.fused(c, t);
  k.head(c.vocab, c.hidden);
  k.head_i8(c.vocab, c.hidden, 1);
  k.head_i8(37, c.hidden + 5, 3);  // odd vocabulary block and width tail
  return k.records;
}

CheckRecord compare_logits(std::span<const float> got, std::span<const float> want, int64_t vocab) {
  CheckRecord r;
  r.nmse = nmse(got, want);
  double dot = 0, ng = 0, nw = 0, maxd = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    dot += double(got[i]) * want[i];
    ng += double(got[i]) * got[i];
    nw += double(want[i]) * want[i];
    maxd = std::max(maxd, std::fabs(double(got[i]) - want[i]));
  }
  r.cosine = dot / std::sqrt(ng * nw);
  r.max_abs_diff = maxd;
  const size_t rows = got.size() / size_t(vocab);
  double kl = 0;
  size_t agree = 0;
  for (size_t row = 0; row < rows; ++row) {
    const float* g = got.data() + row * size_t(vocab);
    const float* w = want.data() + row * size_t(vocab);
    // KL(reference || backend) of the softmax distributions, in nats.
    const double mg = *std::max_element(g, g + vocab), mw = *std::max_element(w, w + vocab);
    double zg = 0, zw = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      zg += std::exp(double(g[i]) - mg);
      zw += std::exp(double(w[i]) - mw);
    }
    double k = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      const double lw = double(w[i]) - mw - std::log(zw), lg = double(g[i]) - mg - std::log(zg);
      k += std::exp(lw) * (lw - lg);
    }
    kl += k;
    agree += (std::max_element(g, g + vocab) - g) == (std::max_element(w, w + vocab) - w);
  }
  r.kl_divergence = kl / double(rows);
  r.top1_agreement = double(agree) / double(rows);
  r.threshold = kNmseEndToEnd;
  r.pass = *r.nmse <= kNmseEndToEnd && *r.top1_agreement == 1.0;
  return r;
}

CheckRecord check_end_to_end(Backend& be, const ModelWeights& w, int64_t seq_len, HeadKind head) {
  const std::vector<int32_t> tokens = seeded_prompt(w.config, seq_len, 3);
  Transformer m(be, w, seq_len, {}, head);
  const auto got = m.forward(tokens, true);
  auto oracle = make_reference_backend({});
  Transformer r(*oracle, w, seq_len, {}, head);
  const auto want = r.forward(tokens, true);
  CheckRecord rec = compare_logits(got, want, w.config.vocab);
  rec.backend = be.info().backend;
  rec.variant = be.info().variant;
  rec.check = fmt::format("e2e/{}/tokens:{}{}", w.config.name, seq_len, head_key_suffix(head));
  return rec;
}

}  // namespace bitlab
