// Where a forward step's time goes, op by op: a ForwardingBackend that times
// every op call on the inner backend's own clock (Backend::timer(), which
// synchronizes: device events on a GPU, a steady clock on a CPU) and adds the
// time up per op, per layer, with call counts.
//
// The Transformer is built on the profiler once (the weights live in the inner
// backend's memory), and timing is switched on only for the runs to profile:
// switched off, each op is forwarded untimed, so the same Transformer serves
// the timed benchmark runs at the cost of one virtual call per op.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "harness/results.h"
#include "model/forwarding_backend.h"

namespace bitlab {

// The time of one op over the profiled calls. `op` is the op's name
// (model/ops.h), a matmul's with the weight it multiplies by its place in a
// decoder layer: matmul_w2a8/qkv, /o, /gate_up, /down.
struct OpTime {
  std::string op;
  int64_t layer = kEmbedMark;  // a layer index, kEmbedMark or kHeadMark; per_op() leaves it unset
  double seconds = 0;
  int64_t calls = 0;
};

class OpProfiler final : public ForwardingBackend {
 public:
  explicit OpProfiler(Backend& inner) : ForwardingBackend(inner) {}

  // Forgets what was timed and times every op from here on.
  void start();
  // Forwards the ops untimed again; what was timed stays readable.
  void stop() { timing_ = false; }
  bool timing() const { return timing_; }

  // Per (layer, op), in the order of their first call.
  const std::vector<OpTime>& per_layer() const { return times_; }
  // Summed over the layers, per op, the most time first.
  std::vector<OpTime> per_op() const;

  void begin_layer(int64_t layer) override;
  // While timing, the step brackets are not passed on: a backend that defers
  // a step's ops and runs them as one unit (a CUDA graph) would leave nothing
  // for a per-op clock to see. The ops run one by one instead.
  void begin_step() override;
  void end_step() override;

 protected:
  void embed_impl(const Tensor& tokens, const Tensor& table, Tensor& out) override;
  void rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) override;
  void quantize_act_impl(const Tensor& x, QuantAct& q) override;
  void rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) override;
  void add_rmsnorm_quant_impl(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q) override;
  void relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps, QuantAct& q) override;
  void matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) override;
  void rope_impl(Tensor& x, const RopeParams& p) override;
  void rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) override;
  void attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                      Tensor& out) override;
  void relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) override;
  void add_impl(const Tensor& a, const Tensor& b, Tensor& y) override;
  void lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) override;
  void lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) override;
  void argmax_impl(const Tensor& logits, Tensor& ids) override;

 private:
  // Runs `op` (the forwarded call), timed when timing is on. A template, not
  // std::function: untimed, an op costs no allocation for its captures.
  template <class Op>
  void timed(std::string_view name, Op&& op);
  void record(std::string_view name, double seconds);

  bool timing_ = false;
  std::unique_ptr<Timer> timer_;  // made once: a GPU timer owns events
  int matmuls_in_layer_ = 0;      // names a matmul by its place in the layer
  std::vector<OpTime> times_;
};

// The breakdown of one profiled run that took `wall_seconds`: each op's time
// and share of the wall time, the most first, and "other" for the wall time
// between ops (host work, thread start-up), so the shares add up to 1.
std::vector<OpShare> op_breakdown(const std::vector<OpTime>& per_op, double wall_seconds);

// "matmul_w2a8/gate_up 41%, matmul_w2a8/down 22%, ...": the `top` largest shares.
std::string top_ops(const std::vector<OpShare>& breakdown, size_t top);

}  // namespace bitlab
