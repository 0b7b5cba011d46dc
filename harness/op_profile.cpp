#include "harness/op_profile.h"

#include <algorithm>

#include <fmt/format.h>

namespace bitlab {

void OpProfiler::start() {
  times_.clear();
  if (!timer_) timer_ = inner().timer();
  timing_ = true;
}

void OpProfiler::begin_layer(int64_t layer) {
  matmuls_in_layer_ = 0;
  ForwardingBackend::begin_layer(layer);
}

void OpProfiler::begin_step() {
  if (!timing_) ForwardingBackend::begin_step();
}

void OpProfiler::end_step() {
  if (!timing_) ForwardingBackend::end_step();
}

template <class Op>
void OpProfiler::timed(std::string_view name, Op&& op) {
  if (!timing_) {
    op();
    return;
  }
  timer_->start();
  op();
  record(name, timer_->stop_seconds());
}

void OpProfiler::record(std::string_view name, double seconds) {
  auto it = std::find_if(times_.begin(), times_.end(),
                         [&](const OpTime& t) { return t.layer == layer() && t.op == name; });
  if (it == times_.end()) it = times_.insert(times_.end(), OpTime{std::string(name), layer(), 0.0, 0});
  it->seconds += seconds;
  ++it->calls;
}

std::vector<OpTime> OpProfiler::per_op() const {
  std::vector<OpTime> out;
  for (const OpTime& t : times_) {
    auto it = std::find_if(out.begin(), out.end(), [&](const OpTime& o) { return o.op == t.op; });
    if (it == out.end()) it = out.insert(out.end(), OpTime{t.op, kEmbedMark, 0.0, 0});
    it->seconds += t.seconds;
    it->calls += t.calls;
  }
  std::stable_sort(out.begin(), out.end(), [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
  return out;
}

void OpProfiler::embed_impl(const Tensor& tokens, const Tensor& table, Tensor& out) {
  timed("embed", [&] { ForwardingBackend::embed_impl(tokens, table, out); });
}
void OpProfiler::rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) {
  timed("rmsnorm", [&] { ForwardingBackend::rmsnorm_impl(x, w, eps, y); });
}
void OpProfiler::quantize_act_impl(const Tensor& x, QuantAct& q) {
  timed("quantize_act", [&] { ForwardingBackend::quantize_act_impl(x, q); });
}
void OpProfiler::rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) {
  timed("rmsnorm_quant", [&] { ForwardingBackend::rmsnorm_quant_impl(x, w, eps, q); });
}
void OpProfiler::add_rmsnorm_quant_impl(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q) {
  timed("add_rmsnorm_quant", [&] { ForwardingBackend::add_rmsnorm_quant_impl(h, d, w, eps, q); });
}
void OpProfiler::relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                              QuantAct& q) {
  timed("relu2_mul_rmsnorm_quant", [&] { ForwardingBackend::relu2_mul_rmsnorm_quant_impl(g, u, w, eps, q); });
}
void OpProfiler::matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) {
  // The weight by its place in a decoder layer (model/transformer.cpp's
  // order), not by TernaryWeight::name: the names carry the layer index and
  // differ between checkpoint formats, and the breakdown sums over layers.
  static const char* const kLayerMatmuls[] = {"qkv", "o", "gate_up", "down"};
  const int n = matmuls_in_layer_++;
  auto op = [&] { ForwardingBackend::matmul_w2a8_impl(x, w, y); };
  if (!timing()) return op();
  timed(layer() >= 0 && n < 4 ? fmt::format("matmul_w2a8/{}", kLayerMatmuls[n]) : fmt::format("matmul_w2a8/{}", w.name),
        op);
}
void OpProfiler::rope_impl(Tensor& x, const RopeParams& p) {
  timed("rope", [&] { ForwardingBackend::rope_impl(x, p); });
}
void OpProfiler::rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) {
  timed("rope_qk", [&] { ForwardingBackend::rope_qk_impl(q, pq, k, pk); });
}
void OpProfiler::attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache,
                                const AttentionParams& p, Tensor& out) {
  timed("attention", [&] { ForwardingBackend::attention_impl(q, k, v, cache, p, out); });
}
void OpProfiler::relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) {
  timed("relu2_mul", [&] { ForwardingBackend::relu2_mul_impl(g, u, y); });
}
void OpProfiler::add_impl(const Tensor& a, const Tensor& b, Tensor& y) {
  timed("add", [&] { ForwardingBackend::add_impl(a, b, y); });
}
void OpProfiler::lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) {
  timed("lm_head", [&] { ForwardingBackend::lm_head_impl(x, table, logits); });
}
void OpProfiler::lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) {
  timed("lm_head_i8", [&] { ForwardingBackend::lm_head_i8_impl(x, table, logits); });
}
void OpProfiler::argmax_impl(const Tensor& logits, Tensor& ids) {
  timed("argmax", [&] { ForwardingBackend::argmax_impl(logits, ids); });
}

std::vector<OpShare> op_breakdown(const std::vector<OpTime>& per_op, double wall_seconds) {
  std::vector<OpShare> out;
  double timed = 0;
  for (const OpTime& t : per_op) timed += t.seconds;
  // The clock around each op and the wall clock around the run are read
  // separately: rounding can put the ops' sum a hair above the wall time.
  const double total = std::max(wall_seconds, timed);
  if (total <= 0) return out;
  for (const OpTime& t : per_op) out.push_back({t.op, t.seconds, t.calls, t.seconds / total});
  out.push_back({"other", total - timed, 0, (total - timed) / total});
  std::stable_sort(out.begin(), out.end(), [](const OpShare& a, const OpShare& b) { return a.seconds > b.seconds; });
  return out;
}

std::string top_ops(const std::vector<OpShare>& breakdown, size_t top) {
  std::string s;
  for (size_t i = 0; i < breakdown.size() && i < top; ++i)
    s += fmt::format("{}{} {:.0f}%", i ? ", " : "", breakdown[i].op, 100.0 * breakdown[i].share);
  return s;
}

}  // namespace bitlab
