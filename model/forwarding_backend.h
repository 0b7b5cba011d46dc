// A Backend that forwards everything to an inner backend: memory, uploads,
// every op, the step brackets and the timer. Subclasses override single ops to
// watch or change them (harness/trace.h compares each op with the oracle;
// harness/planted_bugs.h plants known bugs) while the inner backend does the work.
//
// Tensors live in the inner backend's memory (alloc forwards), so the inner
// backend's ops accept them. Each *_impl calls the inner backend's PUBLIC op,
// which checks shapes again and runs the inner's own fused kernels.
#pragma once
#include <cstdint>
#include <memory>

#include "model/backend.h"

namespace bitlab {

class ForwardingBackend : public Backend {
 public:
  explicit ForwardingBackend(Backend& inner) : inner_(&inner) {}
  explicit ForwardingBackend(std::unique_ptr<Backend> inner) : owned_(std::move(inner)), inner_(owned_.get()) {}

  const DeviceInfo& info() const override { return inner_->info(); }
  std::shared_ptr<Buffer> alloc(size_t bytes) override { return inner_->alloc(bytes); }
  using Backend::upload;
  TernaryWeight upload(std::span<const CanonicalTernary* const> parts) override { return inner_->upload(parts); }
  void synchronize() override { inner_->synchronize(); }
  void begin_step() override { inner_->begin_step(); }
  void end_step() override { inner_->end_step(); }
  std::unique_ptr<Timer> timer() override { return inner_->timer(); }
  // Remembers the mark (layer()) and passes it on.
  void begin_layer(int64_t layer) override {
    layer_ = layer;
    inner_->begin_layer(layer);
  }

  Backend& inner() { return *inner_; }
  // The last begin_layer mark: a layer index, kEmbedMark (also before any mark) or kHeadMark.
  int64_t layer() const { return layer_; }

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
  std::unique_ptr<Backend> owned_;
  Backend* inner_;
  int64_t layer_ = kEmbedMark;
};

}  // namespace bitlab
