// The network (docs/design.md §2) as a sequence of ops on any Backend, with a KV cache.
//
// Construction uploads the weights (fusing QKV and gate/up into one
// TernaryWeight each, every part keeping its own scale) and allocates the KV
// cache for `max_seq` positions. forward() runs a chunk of tokens at the next
// positions: many tokens is prefill, one is decode; both append to the cache.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/progress.h"
#include "model/backend.h"
#include "model/certified_head.h"
#include "model/weights/canonical.h"

namespace bitlab {

// Which tied head computes the logits: the bf16 embedding table (the model as
// released), or its per-row int8 quantisation (ops.h HeadTable), which reads
// half the bytes per decode step at a small accuracy cost, or the certified
// head (model/certified_head.h): greedy decoding reads the int8 table and
// rescores with the bf16 rows only the few whose logit could win, giving the
// bf16 head's token exactly. Full logits (forward(), sampling) with the
// certified head are the bf16 head's.
enum class HeadKind { BF16, Int8, Certified };
const char* head_name(HeadKind h);
// "bf16", "int8" or "certified"; anything else is a UsageError.
HeadKind parse_head(const std::string& name);
// ref::quantize_head over blocks of rows on every core (rows are independent,
// so the bits are the reference's): a second or more on one core at 2B4T.
void quantize_head_parallel(const uint16_t* table, int64_t vocab, int64_t d, int8_t* q, float* s);
// Bytes of the head's table that one greedy decode step reads: 2 per bf16
// weight; or 1 per int8 weight plus one fp32 factor per vocabulary row; or,
// certified, the int8 table, its three fp32 norms per row, and the bf16 rows
// rescored (`rescored_rows` a step on average: Transformer::certified_stats()).
inline double head_table_bytes(const ModelConfig& c, HeadKind h, double rescored_rows = 0.0) {
  const double vocab = double(c.vocab), d = double(c.hidden);
  switch (h) {
    case HeadKind::Int8: return vocab * (d + 4.0);
    case HeadKind::Certified: return vocab * (d + 4.0 + 12.0) + rescored_rows * 2.0 * d;
    case HeadKind::BF16: break;
  }
  return 2.0 * vocab * d;
}

class Transformer {
 public:
  Transformer(Backend& backend, const ModelWeights& weights, int64_t max_seq, const ProgressFn& progress = {},
              HeadKind head = HeadKind::BF16);

  // Logits [vocab] of the last token, or [tokens, vocab] row-major when all_logits.
  std::vector<float> forward(std::span<const int32_t> tokens, bool all_logits = false);
  // Greedy next token after `tokens`, computed on the device (only the id comes back).
  int32_t forward_argmax(std::span<const int32_t> tokens);

  void reset() { pos_ = 0; }  // forget the cache contents
  // Back to position `pos` (0 <= pos <= pos()): the cache keeps positions before it,
  // later tokens overwrite the rest. Lets a benchmark repeat decode steps at the same positions.
  void rewind(int64_t pos);
  int64_t pos() const { return pos_; }
  int64_t max_seq() const { return max_seq_; }
  const ModelConfig& config() const { return cfg_; }
  Backend& backend() { return be_; }
  HeadKind head() const { return head_; }
  // Bytes of the decoder layers' ternary weights in the backend's own layout
  // (padding included): what one decode step reads of them.
  int64_t layer_weight_bytes() const;
  // What the certified head did in forward_argmax (rows rescored per step);
  // all zero with another head.
  CertifiedHeadStats certified_stats() const { return certified_ ? certified_->stats() : CertifiedHeadStats{}; }

 private:
  struct Layer {
    Tensor attn_norm, attn_sub_norm, ffn_norm, ffn_sub_norm;
    TernaryWeight qkv, o, gate_up, down;
    KvLayer kv;
  };
  // Activations for up to `cap` tokens at once.
  struct Activations {
    int64_t cap = 0;
    Tensor tokens, h, q, k, v, attn, proj, gate, up, hn, logits, ids;
    QuantAct xq, fq;  // [cap, hidden] and [cap, ffn]
  };
  void ensure_capacity(int64_t t);
  // Runs the decoder over `tokens`; leaves the final-normed last (or all) rows in hn.
  Tensor run_layers(std::span<const int32_t> tokens, bool all_rows);
  // logits = head(hn), with the bf16 or the int8 head.
  void run_head(const Tensor& hn, Tensor& logits);

  Backend& be_;
  ModelConfig cfg_;
  int64_t max_seq_;
  int64_t pos_ = 0;
  HeadKind head_;
  Tensor embedding_, final_norm_;
  HeadTable head_i8_;  // only with HeadKind::Int8
  std::unique_ptr<CertifiedHead> certified_;  // only with HeadKind::Certified
  std::vector<Layer> layers_;
  Activations act_;
};

}  // namespace bitlab
