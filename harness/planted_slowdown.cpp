#include "harness/planted_slowdown.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "model/error.h"
#include "model/forwarding_backend.h"

namespace bitlab {
namespace {

using Clock = std::chrono::steady_clock;

class SlowedBackend final : public ForwardingBackend {
 public:
  SlowedBackend(std::unique_ptr<Backend> inner, std::string op, double fraction)
      : ForwardingBackend(std::move(inner)), op_(std::move(op)), fraction_(fraction) {
    info_ = ForwardingBackend::info();
    // The summary and every op's kernel name: kernel measurements record the
    // op's kernel, end-to-end ones the summary, so every row says it.
    info_.variant += "+planted-slowdown";
    for (auto& [kernel_op, name] : info_.kernels) name += "+planted-slowdown";
    gpu_ = info_.kind == "gpu";
  }
  const DeviceInfo& info() const override { return info_; }

 protected:
  void embed_impl(const Tensor& t, const Tensor& table, Tensor& out) override {
    slowed("embed", [&] { ForwardingBackend::embed_impl(t, table, out); });
  }
  void rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) override {
    slowed("rmsnorm", [&] { ForwardingBackend::rmsnorm_impl(x, w, eps, y); });
  }
  void quantize_act_impl(const Tensor& x, QuantAct& q) override {
    slowed("quantize_act", [&] { ForwardingBackend::quantize_act_impl(x, q); });
  }
  void rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) override {
    slowed("rmsnorm_quant", [&] { ForwardingBackend::rmsnorm_quant_impl(x, w, eps, q); });
  }
  void add_rmsnorm_quant_impl(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q) override {
    slowed("add_rmsnorm_quant", [&] { ForwardingBackend::add_rmsnorm_quant_impl(h, d, w, eps, q); });
  }
  void relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                    QuantAct& q) override {
    slowed("relu2_mul_rmsnorm_quant", [&] { ForwardingBackend::relu2_mul_rmsnorm_quant_impl(g, u, w, eps, q); });
  }
  void matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) override {
    // "gemv" is the one-token case of matmul_w2a8 (x.q is [tokens, k]).
    const char* name = op_ == "gemv" && x.q.shape.rows == 1 ? "gemv" : "matmul_w2a8";
    slowed(name, [&] { ForwardingBackend::matmul_w2a8_impl(x, w, y); });
  }
  void rope_impl(Tensor& x, const RopeParams& p) override {
    slowed("rope", [&] { ForwardingBackend::rope_impl(x, p); });
  }
  void rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) override {
    slowed("rope_qk", [&] { ForwardingBackend::rope_qk_impl(q, pq, k, pk); });
  }
  void attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                      Tensor& out) override {
    slowed("attention", [&] { ForwardingBackend::attention_impl(q, k, v, cache, p, out); });
  }
  void relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) override {
    slowed("relu2_mul", [&] { ForwardingBackend::relu2_mul_impl(g, u, y); });
  }
  void add_impl(const Tensor& a, const Tensor& b, Tensor& y) override {
    slowed("add", [&] { ForwardingBackend::add_impl(a, b, y); });
  }
  void lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) override {
    slowed("lm_head", [&] { ForwardingBackend::lm_head_impl(x, table, logits); });
  }
  void lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) override {
    slowed("lm_head_i8", [&] { ForwardingBackend::lm_head_i8_impl(x, table, logits); });
  }
  void argmax_impl(const Tensor& logits, Tensor& ids) override {
    slowed("argmax", [&] { ForwardingBackend::argmax_impl(logits, ids); });
  }

 private:
  // Runs `call`; when `name` is the planted op, busy-waits fraction × its time
  // afterwards. A busy wait, not a sleep: a sleeping thread frees the core and
  // wakes late by a scheduler tick, which is not what a slower kernel does.
  template <class F>
  void slowed(const char* name, F&& call) {
    if (op_ != name) return call();
    const Clock::time_point start = Clock::now();
    call();
    if (gpu_) inner().synchronize();  // a GPU op returns before it has run
    const Clock::time_point end = Clock::now();
    const auto extra = std::chrono::duration_cast<Clock::duration>((end - start) * fraction_);
    while (Clock::now() - end < extra) {
    }
  }

  std::string op_;
  double fraction_;
  bool gpu_ = false;
  DeviceInfo info_;
};

}  // namespace

const std::vector<std::string>& slowdown_ops() {
  static const std::vector<std::string> ops = {
      "embed",       "rmsnorm", "quantize_act", "rmsnorm_quant", "add_rmsnorm_quant", "relu2_mul_rmsnorm_quant",
      "matmul_w2a8", "gemv",    "rope",         "rope_qk",       "attention",         "relu2_mul",
      "add",         "lm_head", "lm_head_i8",   "argmax"};
  return ops;
}

std::unique_ptr<Backend> plant_slowdown(const std::string& spec, std::unique_ptr<Backend> inner) {
  if (spec.empty()) return inner;
  const size_t colon = spec.rfind(':');
  const std::string op = colon == std::string::npos ? spec : spec.substr(0, colon);
  if (colon == std::string::npos)
    throw UsageError(fmt::format("--plant-slowdown {}: expected OP:FRACTION, e.g. matmul_w2a8:0.10", spec));
  const auto& ops = slowdown_ops();
  if (std::find(ops.begin(), ops.end(), op) == ops.end())
    throw UsageError(fmt::format("--plant-slowdown {}: unknown op '{}' (ops: {})", spec, op, fmt::join(ops, ", ")));
  const std::string num = spec.substr(colon + 1);
  size_t used = 0;
  double fraction = NAN;
  try {
    fraction = std::stod(num, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != num.size() || !(fraction > 0 && fraction <= 10))
    throw UsageError(fmt::format("--plant-slowdown {}: the fraction must be a number in (0, 10], e.g. 0.10", spec));
  return std::make_unique<SlowedBackend>(std::move(inner), op, fraction);
}

}  // namespace bitlab
