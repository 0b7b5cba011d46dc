#include "model/forwarding_backend.h"

namespace bitlab {

void ForwardingBackend::embed_impl(const Tensor& tokens, const Tensor& table, Tensor& out) {
  inner_->embed(tokens, table, out);
}
void ForwardingBackend::rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) {
  inner_->rmsnorm(x, w, eps, y);
}
void ForwardingBackend::quantize_act_impl(const Tensor& x, QuantAct& q) { inner_->quantize_act(x, q); }
void ForwardingBackend::rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) {
  inner_->rmsnorm_quant(x, w, eps, q);
}
void ForwardingBackend::add_rmsnorm_quant_impl(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q) {
  inner_->add_rmsnorm_quant(h, d, w, eps, q);
}
void ForwardingBackend::relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                                     QuantAct& q) {
  inner_->relu2_mul_rmsnorm_quant(g, u, w, eps, q);
}
void ForwardingBackend::matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) {
  inner_->matmul_w2a8(x, w, y);
}
void ForwardingBackend::rope_impl(Tensor& x, const RopeParams& p) { inner_->rope(x, p); }
void ForwardingBackend::rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) {
  inner_->rope_qk(q, pq, k, pk);
}
void ForwardingBackend::attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache,
                                       const AttentionParams& p, Tensor& out) {
  inner_->attention(q, k, v, cache, p, out);
}
void ForwardingBackend::relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) { inner_->relu2_mul(g, u, y); }
void ForwardingBackend::add_impl(const Tensor& a, const Tensor& b, Tensor& y) { inner_->add(a, b, y); }
void ForwardingBackend::lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) {
  inner_->lm_head(x, table, logits);
}
void ForwardingBackend::lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) {
  inner_->lm_head_i8(x, table, logits);
}
void ForwardingBackend::argmax_impl(const Tensor& logits, Tensor& ids) { inner_->argmax(logits, ids); }

}  // namespace bitlab
