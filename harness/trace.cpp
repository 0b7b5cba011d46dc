#include "harness/trace.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "harness/op_cases/op_case.h"
#include "model/error.h"
#include "model/forwarding_backend.h"
#include "model/reference_backend.h"

namespace bitlab {
namespace {

using opcase::kNmseExact;
using opcase::kNmseReordered;

// A tensor's bytes on the host, to hand to the oracle and to compare.
struct Host {
  std::vector<std::byte> bytes;
  DType dtype = DType::F32;
  Shape shape;
  template <class T>
  std::span<const T> as() const {
    return {reinterpret_cast<const T*>(bytes.data()), bytes.size() / sizeof(T)};
  }
};
Host snap(const Tensor& t) {
  Host h{std::vector<std::byte>(t.bytes()), t.dtype, t.shape};
  t.buf->read(h.bytes.data(), t.offset, t.bytes());
  return h;
}

// The fused norm-then-quantise ops (rmsnorm_quant, add_rmsnorm_quant,
// relu2_mul_rmsnorm_quant) may legally move an int8 code by one step: the
// backend's norm rounds differently from the oracle's double-precision one
// (docs/design.md §5 holds rmsnorm_quant to one step of the reference), and a
// code flips when x·s lands within that rounding of a .5 boundary. That
// rounding is a few fp32 ulps of values up to 127, about 3e-5 absolute, so an
// honest backend flips about 1 code in 10^4 at most; a wrong formula or weight
// moves a large share of the codes, most by several steps. Hence: every code
// within one step, and at most 1 + n/1000 of the n codes moved.
constexpr int kMaxCodeStep = 1;
int64_t allowed_flips(int64_t n) { return 1 + n / 1000; }

constexpr const char* kBitExact = "bit-exact";
constexpr const char* kCodesOneStep = "codes ±1";
std::string within(double bound) { return fmt::format("nmse<={:.0e}", bound); }

void fail(OpDivergence& d, std::string why) {
  if (!d.pass) return;  // the first reason stands
  d.pass = false;
  d.detail = std::move(why);
}

template <class T>
bool same_bits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Float values that must equal the oracle's bit for bit.
void exact_floats(OpDivergence& d, const char* what, std::span<const float> got, std::span<const float> want) {
  int64_t n = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (same_bits(got[i], want[i])) continue;
    ++n;
    const double diff = std::fabs(double(got[i]) - double(want[i]));
    d.max_abs = std::max(d.max_abs, std::isnan(diff) ? INFINITY : diff);
  }
  if (n > 0) {
    const double e = opcase::nmse(got, want);
    d.nmse = std::max(d.nmse, std::isnan(e) ? INFINITY : e);
  }
  d.differing += n;
  d.total += int64_t(got.size());
  if (n > 0) fail(d, fmt::format("{} of {} {} differ", n, got.size(), what));
}

// Integers (codes, ids) that must equal the oracle's.
template <class T>
void exact_ints(OpDivergence& d, const char* what, std::span<const T> got, std::span<const T> want) {
  int64_t n = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i]) continue;
    ++n;
    d.max_code_step = std::max(d.max_code_step, std::abs(int(got[i]) - int(want[i])));
  }
  d.differing += n;
  d.total += int64_t(got.size());
  if (n > 0) fail(d, fmt::format("{} of {} {} differ", n, got.size(), what));
}

// Float values within an NMSE bound; identical NaNs count as equal.
void close_floats(OpDivergence& d, const char* what, std::span<const float> got, std::span<const float> want,
                  double bound) {
  int64_t n = 0;
  bool nan_mismatch = false;
  for (size_t i = 0; i < got.size(); ++i) {
    if (same_bits(got[i], want[i])) continue;
    ++n;
    const double diff = std::fabs(double(got[i]) - double(want[i]));
    nan_mismatch = nan_mismatch || std::isnan(diff);
    d.max_abs = std::max(d.max_abs, std::isnan(diff) ? INFINITY : diff);
  }
  const double e = n == 0 ? 0.0 : nan_mismatch ? INFINITY : opcase::nmse(got, want);
  d.nmse = std::max(d.nmse, e);
  d.differing += n;
  d.total += int64_t(got.size());
  if (!(e <= bound))
    fail(d, fmt::format("{} at NMSE {:.2e}, above {:.0e} ({} of {} differ)", what, e, bound, n, got.size()));
}

// int8 codes of a fused norm-then-quantise op (kMaxCodeStep, allowed_flips above).
void norm_codes(OpDivergence& d, std::span<const int8_t> got, std::span<const int8_t> want) {
  int64_t n = 0;
  int step = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i]) continue;
    ++n;
    step = std::max(step, std::abs(int(got[i]) - int(want[i])));
  }
  d.max_code_step = std::max(d.max_code_step, step);
  d.differing += n;
  d.total += int64_t(got.size());
  const auto total = int64_t(got.size());
  if (step > kMaxCodeStep)
    fail(d, fmt::format("{} of {} int8 codes differ, by up to {} steps", n, total, step));
  else if (n > allowed_flips(total))
    fail(d, fmt::format("{} of {} int8 codes differ (a norm's rounding explains at most {})", n, total,
                        allowed_flips(total)));
}

// Which instance of an op a call is, by its place in a layer as
// model/transformer.cpp runs them; "#n" for anything else.
std::string label_for(const std::string& op, int n, int64_t layer) {
  if (layer >= 0) {
    static const char* const kMatmuls[] = {"qkv", "o", "gate_up", "down"};
    if (op == "matmul_w2a8" && n < 4) return kMatmuls[n];
    if (op == "rmsnorm_quant" && n == 0) return "attn_sub_norm";
    if (op == "add_rmsnorm_quant" && n == 0) return "ffn_norm";
    if (op == "add_rmsnorm_quant" && n == 1) return "next_attn_norm";
    if (op == "relu2_mul_rmsnorm_quant" && n == 0) return "ffn_sub_norm";
  } else if (layer == kEmbedMark) {
    if (op == "rmsnorm_quant" && n == 0) return "attn_norm";
  } else if (layer == kHeadMark) {
    if (op == "rmsnorm" && n == 0) return "final_norm";
  }
  return n == 0 ? std::string() : fmt::format("#{}", n + 1);
}

// How bad a divergence is, for "worst": beyond tolerance first, then NMSE,
// then the share of outputs that differ.
bool worse(const OpDivergence& a, const OpDivergence& b) {
  if (a.pass != b.pass) return !a.pass;
  if (a.nmse != b.nmse) return a.nmse > b.nmse;
  auto share = [](const OpDivergence& d) { return d.total ? double(d.differing) / double(d.total) : 0.0; };
  return share(a) > share(b);
}

class TracingBackend final : public ForwardingBackend {
 public:
  explicit TracingBackend(Backend& be) : ForwardingBackend(be), oracle_(make_reference_backend({})) {}

  using Backend::upload;
  // The oracle gets the same canonical parts, so its matmul runs the same weight.
  TernaryWeight upload(std::span<const CanonicalTernary* const> parts) override {
    TernaryWeight w = ForwardingBackend::upload(parts);
    weights_.insert_or_assign(key(w.packed), oracle_->upload(parts));
    return w;
  }
  void begin_layer(int64_t layer) override {
    ForwardingBackend::begin_layer(layer);
    seen_.clear();
  }
  void set_step(int64_t step) { step_ = step; }
  TraceReport take() { return std::move(report_); }

 protected:
  void embed_impl(const Tensor& tokens, const Tensor& table, Tensor& out) override {
    const Host ht = snap(tokens);
    ForwardingBackend::embed_impl(tokens, table, out);
    Tensor oo = oracle_->new_tensor(DType::F32, out.shape);
    oracle_->embed(put(ht), oracle_table(table), oo);
    OpDivergence d = start("embed", kBitExact);
    exact_floats(d, "fp32 values", snap(out).as<float>(), snap(oo).as<float>());
    record(std::move(d));
  }
  void rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) override {
    const Host hx = snap(x), hw = snap(w);
    ForwardingBackend::rmsnorm_impl(x, w, eps, y);
    Tensor oy = oracle_->new_tensor(DType::F32, y.shape);
    oracle_->rmsnorm(put(hx), put(hw), eps, oy);
    OpDivergence d = start("rmsnorm", within(kNmseReordered));
    close_floats(d, "output", snap(y).as<float>(), snap(oy).as<float>(), kNmseReordered);
    record(std::move(d));
  }
  void quantize_act_impl(const Tensor& x, QuantAct& q) override {
    const Host hx = snap(x);
    ForwardingBackend::quantize_act_impl(x, q);
    QuantAct oq = oracle_quant(q);
    oracle_->quantize_act(put(hx), oq);
    OpDivergence d = start("quantize_act", kBitExact);
    exact_ints(d, "int8 codes", snap(q.q).as<int8_t>(), snap(oq.q).as<int8_t>());
    exact_floats(d, "scales", snap(q.scale).as<float>(), snap(oq.scale).as<float>());
    record(std::move(d));
  }
  void rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) override {
    const Host hx = snap(x), hw = snap(w);
    ForwardingBackend::rmsnorm_quant_impl(x, w, eps, q);
    QuantAct oq = oracle_quant(q);
    oracle_->rmsnorm_quant(put(hx), put(hw), eps, oq);
    OpDivergence d = start("rmsnorm_quant", kCodesOneStep);
    compare_norm_quant(d, q, oq);
    record(std::move(d));
  }
  void add_rmsnorm_quant_impl(Tensor& h, const Tensor& dd, const Tensor& w, float eps, QuantAct& q) override {
    const Host hh = snap(h), hd = snap(dd), hw = snap(w);
    ForwardingBackend::add_rmsnorm_quant_impl(h, dd, w, eps, q);
    Tensor oh = put(hh);
    QuantAct oq = oracle_quant(q);
    oracle_->add_rmsnorm_quant(oh, put(hd), put(hw), eps, oq);
    OpDivergence d = start("add_rmsnorm_quant", kCodesOneStep);
    exact_floats(d, "residual sums", snap(h).as<float>(), snap(oh).as<float>());  // one fp32 add each
    compare_norm_quant(d, q, oq);
    record(std::move(d));
  }
  void relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                    QuantAct& q) override {
    const Host hg = snap(g), hu = snap(u), hw = snap(w);
    ForwardingBackend::relu2_mul_rmsnorm_quant_impl(g, u, w, eps, q);
    QuantAct oq = oracle_quant(q);
    oracle_->relu2_mul_rmsnorm_quant(put(hg), put(hu), put(hw), eps, oq);
    OpDivergence d = start("relu2_mul_rmsnorm_quant", kCodesOneStep);
    compare_norm_quant(d, q, oq);
    record(std::move(d));
  }
  void matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) override {
    const Host hq = snap(x.q), hs = snap(x.scale);
    ForwardingBackend::matmul_w2a8_impl(x, w, y);
    const auto it = weights_.find(key(w.packed));
    if (it == weights_.end())
      throw UsageError(fmt::format("trace: matmul_w2a8 weight '{}' was not uploaded through the trace", w.name));
    std::vector<Tensor> oy;
    for (const Tensor& t : y) oy.push_back(oracle_->new_tensor(DType::F32, t.shape));
    oracle_->matmul_w2a8({put(hq), put(hs)}, it->second, oy);
    std::vector<float> got, want;
    for (size_t p = 0; p < y.size(); ++p) {
      const Host a = snap(y[p]), b = snap(oy[p]);
      got.insert(got.end(), a.as<float>().begin(), a.as<float>().end());
      want.insert(want.end(), b.as<float>().begin(), b.as<float>().end());
    }
    OpDivergence d = start("matmul_w2a8", kBitExact);
    exact_floats(d, "fp32 outputs", got, want);
    record(std::move(d));
  }
  void rope_impl(Tensor& x, const RopeParams& p) override {
    const Host hx = snap(x);
    ForwardingBackend::rope_impl(x, p);
    Tensor ox = put(hx);
    oracle_->rope(ox, p);
    OpDivergence d = start("rope", within(kNmseReordered));
    close_floats(d, "output", snap(x).as<float>(), snap(ox).as<float>(), kNmseReordered);
    record(std::move(d));
  }
  void rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) override {
    const Host hq = snap(q), hk = snap(k);
    ForwardingBackend::rope_qk_impl(q, pq, k, pk);
    Tensor oq = put(hq), ok = put(hk);
    oracle_->rope_qk(oq, pq, ok, pk);
    OpDivergence d = start("rope_qk", within(kNmseReordered));
    close_floats(d, "q", snap(q).as<float>(), snap(oq).as<float>(), kNmseReordered);
    close_floats(d, "k", snap(k).as<float>(), snap(ok).as<float>(), kNmseReordered);
    record(std::move(d));
  }
  void attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                      Tensor& out) override {
    const Host hq = snap(q), hk = snap(k), hv = snap(v);
    // The oracle's cache holds the backend's rows before pos0: the same history.
    KvLayer oc{oracle_->new_tensor(DType::F32, cache.k.shape), oracle_->new_tensor(DType::F32, cache.v.shape)};
    if (p.pos0 > 0) {
      for (auto [from, to] : {std::pair{&cache.k, &oc.k}, std::pair{&cache.v, &oc.v}}) {
        const Host rows = snap(from->rows(0, p.pos0));
        to->buf->write(rows.bytes.data(), to->offset, rows.bytes.size());
      }
    }
    ForwardingBackend::attention_impl(q, k, v, cache, p, out);
    Tensor oo = oracle_->new_tensor(DType::F32, out.shape);
    oracle_->attention(put(hq), put(hk), put(hv), oc, p, oo);
    OpDivergence d = start("attention", within(kNmseReordered));
    close_floats(d, "output", snap(out).as<float>(), snap(oo).as<float>(), kNmseReordered);
    // Earlier rows kept and the new ones appended where they belong, as copies.
    const int64_t filled = p.pos0 + q.shape.rows;
    exact_floats(d, "KV cache k values", snap(cache.k.rows(0, filled)).as<float>(),
                 snap(oc.k.rows(0, filled)).as<float>());
    exact_floats(d, "KV cache v values", snap(cache.v.rows(0, filled)).as<float>(),
                 snap(oc.v.rows(0, filled)).as<float>());
    record(std::move(d));
  }
  void relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) override {
    const Host hg = snap(g), hu = snap(u);
    ForwardingBackend::relu2_mul_impl(g, u, y);
    Tensor oy = oracle_->new_tensor(DType::F32, y.shape);
    oracle_->relu2_mul(put(hg), put(hu), oy);
    OpDivergence d = start("relu2_mul", within(kNmseExact));
    close_floats(d, "output", snap(y).as<float>(), snap(oy).as<float>(), kNmseExact);
    record(std::move(d));
  }
  void add_impl(const Tensor& a, const Tensor& b, Tensor& y) override {
    const Host ha = snap(a), hb = snap(b);
    ForwardingBackend::add_impl(a, b, y);
    Tensor oy = oracle_->new_tensor(DType::F32, y.shape);
    oracle_->add(put(ha), put(hb), oy);
    OpDivergence d = start("add", kBitExact);
    exact_floats(d, "fp32 sums", snap(y).as<float>(), snap(oy).as<float>());
    record(std::move(d));
  }
  void lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) override {
    const Host hx = snap(x);
    ForwardingBackend::lm_head_impl(x, table, logits);
    Tensor ol = oracle_->new_tensor(DType::F32, logits.shape);
    oracle_->lm_head(put(hx), oracle_table(table), ol);
    OpDivergence d = start("lm_head", within(kNmseReordered));
    close_floats(d, "logits", snap(logits).as<float>(), snap(ol).as<float>(), kNmseReordered);
    record(std::move(d));
  }
  void lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) override {
    const Host hq = snap(x.q), hs = snap(x.scale);
    ForwardingBackend::lm_head_i8_impl(x, table, logits);
    Tensor ol = oracle_->new_tensor(DType::F32, logits.shape);
    oracle_->lm_head_i8({put(hq), put(hs)}, {oracle_table(table.q), oracle_table(table.scale)}, ol);
    OpDivergence d = start("lm_head_i8", kBitExact);
    exact_floats(d, "logits", snap(logits).as<float>(), snap(ol).as<float>());
    record(std::move(d));
  }
  void argmax_impl(const Tensor& logits, Tensor& ids) override {
    const Host hl = snap(logits);
    ForwardingBackend::argmax_impl(logits, ids);
    Tensor oi = oracle_->new_tensor(DType::I32, ids.shape);
    oracle_->argmax(put(hl), oi);
    OpDivergence d = start("argmax", kBitExact);
    exact_ints(d, "token ids", snap(ids).as<int32_t>(), snap(oi).as<int32_t>());
    record(std::move(d));
  }

 private:
  using Key = std::pair<const Buffer*, size_t>;
  static Key key(const Tensor& t) { return {t.buf.get(), t.offset}; }

  Tensor put(const Host& h) { return oracle_->upload_tensor(h.bytes.data(), h.dtype, h.shape); }
  QuantAct oracle_quant(const QuantAct& like) {
    return {oracle_->new_tensor(DType::I8, like.q.shape), oracle_->new_tensor(DType::F32, like.scale.shape)};
  }
  // The embedding and head tables are large and constant: copied once.
  const Tensor& oracle_table(const Tensor& t) {
    auto it = tables_.find(key(t));
    if (it == tables_.end()) it = tables_.emplace(key(t), put(snap(t))).first;
    return it->second;
  }
  void compare_norm_quant(OpDivergence& d, const QuantAct& got, const QuantAct& want) {
    norm_codes(d, snap(got.q).as<int8_t>(), snap(want.q).as<int8_t>());
    close_floats(d, "scales", snap(got.scale).as<float>(), snap(want.scale).as<float>(), kNmseReordered);
  }
  OpDivergence start(const std::string& op, std::string tolerance) {
    const int n = seen_[op]++;
    const std::string label = label_for(op, n, layer());
    OpDivergence d;
    d.layer = layer();
    d.op = label.empty() ? op : op + "/" + label;
    d.tolerance = std::move(tolerance);
    d.step = step_;
    d.calls = 1;
    return d;
  }
  void record(OpDivergence d) {
    if (!d.pass && !report_.first_failure) report_.first_failure = d;
    const auto [it, added] = index_.emplace(std::pair{d.layer, d.op}, report_.ops.size());
    if (added) {
      report_.ops.push_back(std::move(d));
      return;
    }
    OpDivergence& worst = report_.ops[it->second];
    const int64_t calls = worst.calls + 1;
    if (worse(d, worst)) worst = std::move(d);
    worst.calls = calls;
  }

  std::unique_ptr<Backend> oracle_;
  std::map<Key, TernaryWeight> weights_;
  std::map<Key, Tensor> tables_;
  std::map<std::string, int> seen_;  // calls of each op since the last layer mark
  std::map<std::pair<int64_t, std::string>, size_t> index_;
  TraceReport report_;
  int64_t step_ = 0;
};

}  // namespace

std::string layer_name(int64_t layer) {
  if (layer == kEmbedMark) return "embed";
  if (layer == kHeadMark) return "head";
  return fmt::format("layer {}", layer);
}

TraceReport trace_backend(Backend& be, const ModelWeights& w, std::span<const int32_t> tokens, HeadKind head) {
  if (tokens.empty()) throw UsageError("trace: no tokens");
  TracingBackend tb(be);
  Transformer m(tb, w, int64_t(tokens.size()), {}, head);
  const size_t prefill = std::max<size_t>(1, tokens.size() / 2);
  m.forward(tokens.first(prefill), true);
  int64_t steps = 1;
  for (size_t i = prefill; i < tokens.size(); ++i, ++steps) {
    tb.set_step(steps);
    m.forward(tokens.subspan(i, 1));
  }
  TraceReport r = tb.take();
  r.steps = steps;
  return r;
}

std::string describe(const OpDivergence& d) {
  const std::string when = d.step == 0 ? "prefill" : fmt::format("decode step {}", d.step);
  return fmt::format("{} {}: {} ({})", layer_name(d.layer), d.op, d.pass ? "within tolerance" : d.detail, when);
}

std::vector<std::string> trace_table(const TraceReport& r) {
  std::vector<int64_t> layers;
  std::map<int64_t, const OpDivergence*> worst;
  std::map<int64_t, int> n_ops;
  for (const OpDivergence& d : r.ops) {
    if (!worst.count(d.layer)) layers.push_back(d.layer);
    const OpDivergence*& w = worst[d.layer];
    if (!w || worse(d, *w)) w = &d;
    ++n_ops[d.layer];
  }
  std::vector<std::string> lines;
  lines.push_back(fmt::format("{:<9} {:>4} {:<36} {:>9} {:>9} {:>13} {}", "stage", "ops", "worst op", "nmse",
                              "max|diff|", "differing", "result"));
  for (int64_t layer : layers) {
    const OpDivergence& d = *worst[layer];
    lines.push_back(fmt::format("{:<9} {:>4} {:<36} {:>9.2e} {:>9.2e} {:>13} {}", layer_name(layer), n_ops[layer], d.op,
                                d.nmse, d.max_abs, fmt::format("{}/{}", d.differing, d.total),
                                d.pass ? "ok" : "BEYOND " + d.tolerance));
  }
  lines.push_back(r.first_failure ? "first op beyond tolerance: " + describe(*r.first_failure)
                                  : fmt::format("trace clean: every op within its tolerance over {} steps", r.steps));
  return lines;
}

nlohmann::json to_json(const TraceReport& r) {
  nlohmann::json a = nlohmann::json::array();
  for (const OpDivergence& d : r.ops) {
    nlohmann::json j = {{"layer", layer_name(d.layer)},
                        {"op", d.op},
                        {"tolerance", d.tolerance},
                        {"calls", d.calls},
                        {"differing", d.differing},
                        {"total", d.total},
                        {"max_code_step", d.max_code_step},
                        {"pass", d.pass},
                        {"step", d.step}};
    if (std::isfinite(d.nmse)) j["nmse"] = d.nmse;
    if (std::isfinite(d.max_abs)) j["max_abs_diff"] = d.max_abs;
    if (!d.pass) j["detail"] = d.detail;
    if (r.first_failure && r.first_failure->layer == d.layer && r.first_failure->op == d.op)
      j["first_failure"] = describe(*r.first_failure);
    a.push_back(std::move(j));
  }
  return a;
}

}  // namespace bitlab
