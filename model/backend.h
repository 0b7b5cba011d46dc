// Backend: owns device memory and runs the op set (model/ops.h) on tensors in
// that memory, so a GPU backend runs a whole decode step without host round trips.
//
// The public op methods check shapes and dtypes once (a wrong shape is a
// UsageError naming the op, never a crash) and then call the backend's *_impl.
// Fused ops (rmsnorm_quant, add_rmsnorm_quant, relu2_mul_rmsnorm_quant,
// rope_qk) default to composing the primitives; a backend overrides one where a
// single kernel is faster, and must then give exactly the bits its own
// primitives give (tests/test_backend_ops.cpp holds every backend to that).
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "model/ops.h"
#include "model/tensor.h"
#include "model/weights/canonical.h"

namespace bitlab {

// begin_layer's marks outside the decoder layers.
inline constexpr int64_t kEmbedMark = -1;  // the embedding and layer 0's pre-norm
inline constexpr int64_t kHeadMark = -2;   // the final norm, the LM head and argmax

struct DeviceInfo {
  std::string backend;  // registry name: "scalar", "avx512", "cuda", ...
  std::string kind;     // "cpu" or "gpu"
  std::string name;     // CPU model or GPU name
  std::string variant;  // summary of the kernels in use, e.g. "scalar", "avx512-vnni"
  // The kernel variant running each op: (op, variant name), in model/ops.h order.
  // Ops a backend serves with one kernel and lists no variant for are absent.
  std::vector<std::pair<std::string, std::string>> kernels;
  std::string driver;   // GPU driver / API version, empty on CPU
  size_t memory_bytes = 0;
  int threads = 1;      // CPU threads the backend uses
};

// Measures elapsed time on the backend's own clock (device events on a GPU).
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void start() = 0;
  virtual double stop_seconds() = 0;
};

// How a backend stores ternary weights: 2 bits per weight (four codes per
// byte), or base 3, five weights per byte (3^5 = 243 <= 256, 1.6 bits). The
// matmul's int32 accumulators, and so its output bits, are the same in both.
enum class WeightBits { Two, OnePointSix };
const char* weight_bits_name(WeightBits b);  // "2" or "1.6"
// "2" or "1.6"; anything else is a UsageError.
WeightBits parse_weight_bits(const std::string& s);
// Bits per weight as a number, for bytes-per-token arithmetic.
inline double weight_bits_value(WeightBits b) { return b == WeightBits::Two ? 2.0 : 1.6; }

// One kernel a backend can run for one op. Names follow XNNPACK's pattern,
// <types>_<op>_<tile>__<isa>: t2i8_matmul_r16k16__avx512vnni is ternary 2-bit
// weights x int8 activations, the matmul, 16x16 tiles, AVX-512 VNNI.
struct KernelVariant {
  std::string name;
  std::string op;           // the op of model/ops.h it implements, e.g. "matmul_w2a8"
  bool usable = false;      // can run on this machine
  std::string why_not;      // when not usable
  bool is_default = false;  // what the backend runs for `op` when nothing is pinned
  // For matmul_w2a8 variants, the weight layout's bits per weight. Only 2-bit
  // variants are defaults; a 1.6-bit one runs when pinned or asked for with
  // BackendOptions::weight_bits.
  WeightBits weight_bits = WeightBits::Two;
};

struct BackendOptions {
  int threads = 0;  // CPU threads; 0 = all cores
  int device = 0;   // GPU index
  // Kernel variants pinned by name, at most one per op; the other ops keep
  // their default. make_backend checks the names against the backend's list.
  std::vector<std::string> variants;
  // The weight layout: make_backend pins the backend's first usable matmul
  // variant of these bits (a DeviceError when it has none); unset = the
  // default variant's (2 bits), or a pinned matmul variant's.
  std::optional<WeightBits> weight_bits;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const DeviceInfo& info() const = 0;

  // --- memory -----------------------------------------------------------
  virtual std::shared_ptr<Buffer> alloc(size_t bytes) = 0;
  Tensor new_tensor(DType dtype, Shape shape);
  Tensor upload_tensor(const void* host, DType dtype, Shape shape);
  void download(const Tensor& t, void* host) const;
  // Repacks one matrix, or several fused along N, into this backend's layout.
  virtual TernaryWeight upload(std::span<const CanonicalTernary* const> parts) = 0;
  TernaryWeight upload(const CanonicalTernary& w) { const CanonicalTernary* p = &w; return upload({&p, 1}); }

  // --- ops (shapes: model/ops.h) -----------------------------------------
  void embed(const Tensor& tokens, const Tensor& table, Tensor& out);
  void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& y);
  void quantize_act(const Tensor& x, QuantAct& q);
  void rmsnorm_quant(const Tensor& x, const Tensor& w, float eps, QuantAct& q);
  // h = h + d, then q = rmsnorm_quant(h, w): a residual add and the norm after it.
  void add_rmsnorm_quant(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q);
  // q = rmsnorm_quant(relu2_mul(g, u), w): the FFN gate and its sub-norm; the
  // product itself is not kept.
  void relu2_mul_rmsnorm_quant(const Tensor& g, const Tensor& u, const Tensor& w, float eps, QuantAct& q);
  void matmul_w2a8(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y);
  void rope(Tensor& x, const RopeParams& p);
  // rope(q, pq) and rope(k, pk); the two must share rows, positions, head_dim and theta.
  void rope_qk(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk);
  void attention(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                 Tensor& out);
  void relu2_mul(const Tensor& g, const Tensor& u, Tensor& y);
  void add(const Tensor& a, const Tensor& b, Tensor& y);
  void lm_head(const Tensor& x, const Tensor& table, Tensor& logits);
  // The int8 head (ops.h, HeadTable).
  void lm_head_i8(const QuantAct& x, const HeadTable& table, Tensor& logits);
  void argmax(const Tensor& logits, Tensor& ids);

  virtual void synchronize() {}
  // The Transformer brackets each forward step (embed .. lm_head/argmax) with
  // these. A backend may defer the ops in between and run the step as one unit
  // (the CUDA backend replays a recorded step as a CUDA graph); host copies in
  // between still see every op before them. Default: nothing.
  virtual void begin_step() {}
  virtual void end_step() {}
  // The Transformer marks where each decoder layer starts (its index), and the
  // embedding and head stages (kEmbedMark, kHeadMark), so a wrapping backend
  // (model/forwarding_backend.h) knows which layer an op belongs to. Ops run
  // no differently; a real backend ignores the mark.
  virtual void begin_layer(int64_t /*layer*/) {}
  // Default: host steady clock around synchronize().
  virtual std::unique_ptr<Timer> timer();

 protected:
  virtual void embed_impl(const Tensor& tokens, const Tensor& table, Tensor& out) = 0;
  virtual void rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) = 0;
  virtual void quantize_act_impl(const Tensor& x, QuantAct& q) = 0;
  virtual void rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q);
  virtual void add_rmsnorm_quant_impl(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q);
  virtual void relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                            QuantAct& q);
  virtual void matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) = 0;
  virtual void rope_impl(Tensor& x, const RopeParams& p) = 0;
  virtual void rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk);
  virtual void attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache,
                              const AttentionParams& p, Tensor& out) = 0;
  virtual void relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) = 0;
  virtual void add_impl(const Tensor& a, const Tensor& b, Tensor& y) = 0;
  virtual void lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) = 0;
  virtual void lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) = 0;
  virtual void argmax_impl(const Tensor& logits, Tensor& ids) = 0;

  // A scratch tensor owned by the backend, grown on demand; valid until the
  // next call for the same slot. The default fused ops hold slot 1 while the
  // primitives they call may use slot 0.
  Tensor scratch(DType dtype, Shape shape, int slot = 0);

 private:
  std::shared_ptr<Buffer> scratch_[2];
};

// Checks that fused parts share k and returns the part row counts and scales.
void ternary_parts(std::span<const CanonicalTernary* const> parts, TernaryWeight& w);

}  // namespace bitlab
