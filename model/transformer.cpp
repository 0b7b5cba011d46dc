#include "model/transformer.h"

#include <algorithm>

#include <fmt/format.h>

#include "model/error.h"
#include "model/reference.h"

namespace bitlab {
namespace {
Tensor upload_vec(Backend& be, const std::vector<float>& v) {
  return be.upload_tensor(v.data(), DType::F32, {1, int64_t(v.size())});
}
Tensor first(const Tensor& t, int64_t rows) { return t.rows(0, rows); }
QuantAct first(const QuantAct& q, int64_t rows) { return {q.q.rows(0, rows), q.scale.rows(0, rows)}; }
}  // namespace

int64_t Transformer::layer_weight_bytes() const {
  int64_t total = 0;
  for (const Layer& l : layers_)
    for (const TernaryWeight* w : {&l.qkv, &l.o, &l.gate_up, &l.down}) total += int64_t(w->packed.bytes());
  return total;
}

const char* head_name(HeadKind h) {
  switch (h) {
    case HeadKind::Int8: return "int8";
    case HeadKind::Certified: return "certified";
    case HeadKind::BF16: break;
  }
  return "bf16";
}

void quantize_head_parallel(const uint16_t* table, int64_t vocab, int64_t d, int8_t* q, float* s) {
  constexpr int64_t kBlock = 1024;
#pragma omp parallel for schedule(dynamic)
  for (int64_t v0 = 0; v0 < vocab; v0 += kBlock)
    ref::quantize_head(table + v0 * d, std::min(kBlock, vocab - v0), d, q + v0 * d, s + v0);
}

HeadKind parse_head(const std::string& name) {
  if (name == "bf16") return HeadKind::BF16;
  if (name == "int8") return HeadKind::Int8;
  if (name == "certified") return HeadKind::Certified;
  throw UsageError(fmt::format("unknown head '{}' (expected bf16, int8 or certified)", name));
}

Transformer::Transformer(Backend& backend, const ModelWeights& w, int64_t max_seq, const ProgressFn& progress,
                         HeadKind head)
    : be_(backend), cfg_(w.config), max_seq_(max_seq), head_(head) {
  w.validate();
  if (max_seq <= 0 || max_seq > cfg_.max_pos)
    throw UsageError(fmt::format("sequence length {} outside 1..{} (the model's positions)", max_seq, cfg_.max_pos));
  const size_t total = size_t(cfg_.n_layers) + 1;
  embedding_ = be_.upload_tensor(w.embedding.data.data(), DType::BF16, {cfg_.vocab, cfg_.hidden});
  final_norm_ = upload_vec(be_, w.final_norm);
  if (head_ == HeadKind::Int8) {
    // Quantised on the host exactly as the reference defines it, then uploaded.
    std::vector<int8_t> q(size_t(cfg_.vocab * cfg_.hidden));
    std::vector<float> s(static_cast<size_t>(cfg_.vocab));
    quantize_head_parallel(w.embedding.data.data(), cfg_.vocab, cfg_.hidden, q.data(), s.data());
    head_i8_.q = be_.upload_tensor(q.data(), DType::I8, {cfg_.vocab, cfg_.hidden});
    head_i8_.scale = be_.upload_tensor(s.data(), DType::F32, {cfg_.vocab, 1});
  }
  if (head_ == HeadKind::Certified) certified_ = std::make_unique<CertifiedHead>(be_, embedding_, w.embedding.data.data());
  if (progress) progress(1, total);
  layers_.reserve(size_t(cfg_.n_layers));
  for (const LayerWeights& L : w.layers) {
    Layer d;
    d.attn_norm = upload_vec(be_, L.attn_norm);
    d.attn_sub_norm = upload_vec(be_, L.attn_sub_norm);
    d.ffn_norm = upload_vec(be_, L.ffn_norm);
    d.ffn_sub_norm = upload_vec(be_, L.ffn_sub_norm);
    const CanonicalTernary* qkv[] = {&L.q, &L.k, &L.v};
    const CanonicalTernary* gate_up[] = {&L.gate, &L.up};
    d.qkv = be_.upload(qkv);
    d.o = be_.upload(L.o);
    d.gate_up = be_.upload(gate_up);
    d.down = be_.upload(L.down);
    d.kv.k = be_.new_tensor(DType::F32, {max_seq_, cfg_.kv_dim()});
    d.kv.v = be_.new_tensor(DType::F32, {max_seq_, cfg_.kv_dim()});
    layers_.push_back(std::move(d));
    if (progress) progress(layers_.size() + 1, total);
  }
}

void Transformer::rewind(int64_t pos) {
  if (pos < 0 || pos > pos_)
    throw UsageError(fmt::format("rewind to position {} outside 0..{} (the positions filled so far)", pos, pos_));
  pos_ = pos;
}

void Transformer::ensure_capacity(int64_t t) {
  if (t <= act_.cap) return;
  const int64_t d = cfg_.hidden, f = cfg_.ffn;
  Activations a;
  a.cap = t;
  auto f32 = [&](int64_t cols) { return be_.new_tensor(DType::F32, {t, cols}); };
  a.tokens = be_.new_tensor(DType::I32, {t, 1});
  a.h = f32(d);
  a.q = f32(cfg_.q_dim());
  a.k = f32(cfg_.kv_dim());
  a.v = f32(cfg_.kv_dim());
  a.attn = f32(cfg_.q_dim());
  a.proj = f32(d);
  a.gate = f32(f);
  a.up = f32(f);
  a.hn = f32(d);
  a.logits = f32(cfg_.vocab);
  a.ids = be_.new_tensor(DType::I32, {t, 1});
  a.xq = {be_.new_tensor(DType::I8, {t, d}), be_.new_tensor(DType::F32, {t, 1})};
  a.fq = {be_.new_tensor(DType::I8, {t, f}), a.xq.scale};
  act_ = std::move(a);
}

Tensor Transformer::run_layers(std::span<const int32_t> tokens, bool all_rows) {
  const auto t = int64_t(tokens.size());
  if (t == 0) throw UsageError("forward: no tokens");
  if (pos_ + t > max_seq_)
    throw UsageError(fmt::format("forward: {} tokens at position {} exceed the KV cache of {}", t, pos_, max_seq_));
  for (int32_t id : tokens)
    if (id < 0 || id >= cfg_.vocab)
      throw UsageError(fmt::format("token id {} outside the vocabulary [0, {})", id, cfg_.vocab));
  ensure_capacity(t);
  const float eps = cfg_.norm_eps;

  Tensor tok = first(act_.tokens, t);
  tok.buf->write(tokens.data(), tok.offset, tok.bytes());
  be_.begin_step();  // ends in forward() / forward_argmax(), before the result is read
  Tensor h = first(act_.h, t), q = first(act_.q, t), k = first(act_.k, t), v = first(act_.v, t);
  Tensor attn = first(act_.attn, t), proj = first(act_.proj, t);
  Tensor gate = first(act_.gate, t), up = first(act_.up, t);
  QuantAct xq = first(act_.xq, t), fq = first(act_.fq, t);

  const RopeParams rope_q{cfg_.n_heads, cfg_.head_dim, pos_, cfg_.rope_theta};
  const RopeParams rope_k{cfg_.n_kv_heads, cfg_.head_dim, pos_, cfg_.rope_theta};
  const AttentionParams ap{cfg_.n_heads, cfg_.n_kv_heads, cfg_.head_dim, pos_};

  // The residual add after each projection is fused with the norm that
  // follows it, and relu²·u with the FFN sub-norm: fewer launches per layer on
  // a GPU, the same bits everywhere (backend.h).
  be_.begin_layer(kEmbedMark);
  be_.embed(tok, embedding_, h);
  be_.rmsnorm_quant(h, layers_.front().attn_norm, eps, xq);
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& L = layers_[i];
    be_.begin_layer(int64_t(i));
    // Attention block: (pre-norm done), fused QKV, RoPE, GQA, sub-norm, output projection.
    Tensor qkv_out[] = {q, k, v};
    be_.matmul_w2a8(xq, L.qkv, qkv_out);
    be_.rope_qk(q, rope_q, k, rope_k);
    be_.attention(q, k, v, L.kv, ap, attn);
    be_.rmsnorm_quant(attn, L.attn_sub_norm, eps, xq);
    Tensor o_out[] = {proj};
    be_.matmul_w2a8(xq, L.o, o_out);
    // FFN block: residual add + pre-norm, fused gate/up, squared ReLU gate + sub-norm, down projection.
    be_.add_rmsnorm_quant(h, proj, L.ffn_norm, eps, xq);
    Tensor gu_out[] = {gate, up};
    be_.matmul_w2a8(xq, L.gate_up, gu_out);
    be_.relu2_mul_rmsnorm_quant(gate, up, L.ffn_sub_norm, eps, fq);
    Tensor down_out[] = {proj};
    be_.matmul_w2a8(fq, L.down, down_out);
    // Residual add, and the next layer's pre-norm with it.
    if (i + 1 < layers_.size())
      be_.add_rmsnorm_quant(h, proj, layers_[i + 1].attn_norm, eps, xq);
    else
      be_.add(h, proj, h);
  }
  pos_ += t;
  const int64_t rows = all_rows ? t : 1;
  Tensor last = h.rows(t - rows, rows);
  Tensor hn = first(act_.hn, rows);
  be_.begin_layer(kHeadMark);
  be_.rmsnorm(last, final_norm_, eps, hn);
  return hn;
}

void Transformer::run_head(const Tensor& hn, Tensor& logits) {
  if (head_ != HeadKind::Int8) {  // the certified head's full logits are the bf16 head's
    be_.lm_head(hn, embedding_, logits);
    return;
  }
  QuantAct hq = first(act_.xq, hn.shape.rows);
  be_.quantize_act(hn, hq);
  be_.lm_head_i8(hq, head_i8_, logits);
}

std::vector<float> Transformer::forward(std::span<const int32_t> tokens, bool all_logits) {
  Tensor hn = run_layers(tokens, all_logits);
  Tensor logits = first(act_.logits, hn.shape.rows);
  run_head(hn, logits);
  be_.end_step();
  std::vector<float> out(size_t(logits.shape.numel()));
  be_.download(logits, out.data());
  return out;
}

int32_t Transformer::forward_argmax(std::span<const int32_t> tokens) {
  Tensor hn = run_layers(tokens, false);
  Tensor logits = first(act_.logits, 1);
  if (certified_) {
    // Stage 1 ends the step (a CUDA graph records the same ops every step);
    // the rows rescored differ from step to step, so they run after it.
    QuantAct hq = first(act_.xq, 1);
    certified_->approximate(hn, hq, logits);
    be_.end_step();
    return certified_->finish(hn, hq, logits);
  }
  Tensor ids = first(act_.ids, 1);
  run_head(hn, logits);
  be_.argmax(logits, ids);
  be_.end_step();
  int32_t id = 0;
  be_.download(ids, &id);
  return id;
}

}  // namespace bitlab
