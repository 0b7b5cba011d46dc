// Kernel arguments and launchers of the CUDA backend: the one interface between
// the host code (compiled by the C++ compiler) and the kernels (*.cu, nvcc).
//
// Every *Args is a plain value holding device pointers, sizes and constants:
// equal arguments launch identical work. A recorded decode step is a list of
// these, and comparing two lists is how a step finds its cached CUDA graph.
// Token positions are a PosRef, read by the kernels at run time, so that one
// graph serves every position. Launchers throw DeviceError on a launch failure.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <variant>

namespace bitlab::cuda {

// True if p is 16-byte aligned: the vector (uint4/float4) paths need it.
inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// Where kernels go: the stream, and whether each may start while the kernel
// before it still runs (programmatic dependent launch, sm_90 and newer). The
// kernels are written for it (device_common.cuh: wait_for_producers), so the
// launch gap shrinks and a GEMV's weight loads overlap the kernel before it.
struct LaunchTarget {
  cudaStream_t stream = nullptr;
  bool programmatic = false;
};

// A token position: (*dev if dev is set) + add.
struct PosRef {
  const int64_t* dev = nullptr;
  int64_t add = 0;
  bool operator==(const PosRef&) const = default;
};

// out [t, d] = table[ids[r]] as fp32. A bad id writes zeros and, if bad_id
// (int32 [2]) is set, stores 1 and that id there (the host checks after an
// eager launch; a recorded step's ids were checked on the host before).
struct EmbedArgs {
  const int32_t* ids = nullptr;
  const uint16_t* table = nullptr;
  float* out = nullptr;
  int64_t t = 0, vocab = 0, d = 0;
  int32_t* bad_id = nullptr;
  bool operator==(const EmbedArgs&) const = default;
};

// y [t, d] = rmsnorm(x) * w; with q set instead of y, the normed row is
// quantised on the fly to q [t, d] and s [t] (rmsnorm_quant). The input is x
// itself, or (quantising only) one of the ops fused in front of the norm:
//   AddResidual  h = x + r, stored to h (may be x), then normed: add_rmsnorm_quant
//   Relu2Mul     max(x, 0)^2 * r, not stored: relu2_mul_rmsnorm_quant (x = g, r = u)
enum class RmsnormInput : uint8_t { Plain, AddResidual, Relu2Mul };
struct RmsnormArgs {
  const float* x = nullptr;
  const float* w = nullptr;
  float* y = nullptr;
  int8_t* q = nullptr;
  float* s = nullptr;
  int64_t t = 0, d = 0;
  float eps = 0;
  RmsnormInput input = RmsnormInput::Plain;
  const float* r = nullptr;
  float* h = nullptr;
  bool operator==(const RmsnormArgs&) const = default;
};

// q [t, k], s [t] = quantize_act(x [t, k]).
struct QuantizeArgs {
  const float* x = nullptr;
  int8_t* q = nullptr;
  float* s = nullptr;
  int64_t t = 0, k = 0;
  bool operator==(const QuantizeArgs&) const = default;
};

// One part of a fused weight: output rows [row0, row0 + rows) of the stacked
// matrix go to y [t, rows] with their own scale.
struct MatmulPart {
  float* y = nullptr;
  int64_t row0 = 0, rows = 0;
  float scale = 0;
  bool operator==(const MatmulPart&) const = default;
};
constexpr int kMaxPartsPerLaunch = 4;

// y_p = (Σ_k T·xq) / s * scale_p over rows [row_begin, row_end) of the stacked
// w2 matrix. GEMV reads x [1, k] directly; the GEMM reads x with row pitch ldx
// (16-byte aligned, k-tiles padded with zeros) and the per-token Σx in rowsum.
struct MatmulArgs {
  const uint32_t* w = nullptr;
  int64_t row_words = 0;
  const int8_t* x = nullptr;
  int64_t ldx = 0;
  const float* s = nullptr;
  const int32_t* rowsum = nullptr;
  int64_t t = 0, k = 0;
  int64_t row_begin = 0, row_end = 0;
  int nparts = 0;
  MatmulPart parts[kMaxPartsPerLaunch] = {};
  bool operator==(const MatmulArgs&) const = default;
};

// rowsum[r] = Σ_k x[r, k]; with xpad set, also x copied to xpad [t, kpad] with
// zeros past k (the GEMM's 16-byte aligned, k-tile padded operand).
struct ActPrepArgs {
  const int8_t* x = nullptr;
  int64_t t = 0, k = 0;
  int8_t* xpad = nullptr;
  int64_t kpad = 0;
  int32_t* rowsum = nullptr;
  bool operator==(const ActPrepArgs&) const = default;
};

// Rotate-half RoPE in place on x [t, n_heads * head_dim], row r at position
// pos + r; where x2 is set, also on x2 [t, n_heads2 * head_dim] at the same
// positions (rope_qk: q and k in one launch).
struct RopeArgs {
  float* x = nullptr;
  int64_t t = 0, n_heads = 0, head_dim = 0;
  double theta = 0;
  PosRef pos;
  float* x2 = nullptr;
  int64_t n_heads2 = 0;
  bool operator==(const RopeArgs&) const = default;
};

// Causal GQA for rows at positions pos .. pos+t-1; also appends k, v [t, kv_dim]
// to the cache rows pos .. pos+t-1. The chunked path writes per-chunk partial
// softmax states to `partial` [t, n_heads, n_chunks, head_dim + 2] and a second
// kernel merges them; the tiled path merges in registers. Both compute each
// row's result with identical arithmetic (attention.cu).
struct AttentionArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* k_cache = nullptr;
  float* v_cache = nullptr;
  float* out = nullptr;
  float* partial = nullptr;
  int64_t t = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0;
  int64_t n_chunks = 0;  // chunked path: chunks of kAttentionChunk keys in the grid
  float scale = 0;       // 1 / sqrt(head_dim)
  PosRef pos;
  bool operator==(const AttentionArgs&) const = default;
};
constexpr int64_t kAttentionChunk = 32;        // keys per softmax chunk, in every path
constexpr int64_t kAttentionHeadDimMax = 256;  // chunked path
constexpr int64_t kAttentionTiledHeadDimMax = 128;

// y = a + b (fp32), or y = max(g, 0)^2 * u (computed in double, rounded once).
struct ElementwiseArgs {
  enum class Kind : uint8_t { Add, Relu2Mul } kind = Kind::Add;
  const float* a = nullptr;
  const float* b = nullptr;
  float* y = nullptr;
  int64_t n = 0;
  bool operator==(const ElementwiseArgs&) const = default;
};

// logits [t, vocab] = x [t, d] · table [vocab, d]ᵀ, bf16 table, fp32 sums.
struct LmHeadArgs {
  const float* x = nullptr;
  const uint16_t* table = nullptr;
  float* logits = nullptr;
  int64_t t = 0, vocab = 0, d = 0;
  bool operator==(const LmHeadArgs&) const = default;
};

// logits [t, vocab] = float(Σ table·x) / s_x / s_v: the int8 head (ops.h HeadTable).
struct LmHeadI8Args {
  const int8_t* x = nullptr;      // [t, d]
  const float* s_x = nullptr;     // [t]
  const int8_t* table = nullptr;  // [vocab, d]
  const float* s_v = nullptr;     // [vocab]
  float* logits = nullptr;
  int64_t t = 0, vocab = 0, d = 0;
  bool operator==(const LmHeadI8Args&) const = default;
};

// ids [t] = argmax of each logits row (lowest index on ties, NaN never chosen
// over a number); `partial` [t, blocks] holds each block's best as a 64-bit key.
struct ArgmaxArgs {
  const float* logits = nullptr;
  int64_t t = 0, v = 0;
  uint64_t* partial = nullptr;
  int blocks = 0;
  int32_t* ids = nullptr;
  bool operator==(const ArgmaxArgs&) const = default;
};

void launch_embed(const EmbedArgs& a, const LaunchTarget& to);
void launch_rmsnorm(const RmsnormArgs& a, const LaunchTarget& to);
void launch_quantize(const QuantizeArgs& a, const LaunchTarget& to);
void launch_act_prep(const ActPrepArgs& a, const LaunchTarget& to);
void launch_gemv(const MatmulArgs& a, const LaunchTarget& to);
void launch_gemm(const MatmulArgs& a, const LaunchTarget& to);
void launch_rope(const RopeArgs& a, const LaunchTarget& to);
void launch_attention_chunks(const AttentionArgs& a, const LaunchTarget& to);
void launch_attention_merge(const AttentionArgs& a, const LaunchTarget& to);
void launch_attention_tiled(const AttentionArgs& a, const LaunchTarget& to);
void launch_elementwise(const ElementwiseArgs& a, const LaunchTarget& to);
void launch_lm_head(const LmHeadArgs& a, const LaunchTarget& to);
void launch_lm_head_i8(const LmHeadI8Args& a, const LaunchTarget& to);
void launch_argmax(const ArgmaxArgs& a, const LaunchTarget& to);
void launch_set_position(int64_t* dev, int64_t value, const LaunchTarget& to);

// Blocks per row the argmax uses for v logits (sizes ArgmaxArgs::partial).
int argmax_blocks(int64_t v);
// Dynamic shared memory the tiled attention needs for head_dim, in bytes.
size_t attention_tiled_smem(int64_t head_dim);
// Once per device: let the kernels that stage a whole row or tile in shared
// memory (GEMV activations, tiled attention) use up to `bytes` of it.
void init_gemv_kernels(size_t bytes);
void init_attention_kernels(size_t bytes);
// True if this binary holds a kernel image the current device can run.
bool kernel_image_available(cudaError_t* why);
// True if the kernels the current device runs were compiled with their
// programmatic-launch waits (for sm_90 or newer): only then may they be
// launched programmatically.
bool kernels_wait_for_producers();

// One recorded op, and its launch.
using Launch = std::variant<EmbedArgs, RmsnormArgs, QuantizeArgs, ActPrepArgs, MatmulArgs, RopeArgs, AttentionArgs,
                            ElementwiseArgs, LmHeadArgs, LmHeadI8Args, ArgmaxArgs>;
enum class MatmulKernel : uint8_t { Gemv, Gemm };
enum class AttentionKernel : uint8_t { Chunks, Merge, Tiled };
struct Op {
  Launch args;
  uint8_t variant = 0;  // MatmulKernel or AttentionKernel where the args do not say
  bool operator==(const Op&) const = default;
};
void launch(const Op& op, const LaunchTarget& to);
// Kernels launch(op) starts: two for argmax (block bests, then the row's), one otherwise.
int kernel_count(const Op& op);

}  // namespace bitlab::cuda
