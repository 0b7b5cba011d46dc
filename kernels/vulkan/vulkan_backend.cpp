// The Vulkan backend's ops: each checks what the shaders need of its tensors
// (alignment, sizes), fills the shader's push constants with device addresses
// and sizes, and records one dispatch (two copies and a dispatch for
// attention). Nothing runs until a host read or synchronize(): see stream.h.
//
// Workgroup sizes are specialisation constants: kRowThreads for the per-row
// reductions and elementwise ops; the GEMV and LM head give each output row
// one subgroup, so their rows per workgroup (constant 1) is kRowThreads over
// the device's subgroup size: 8 rows on NVIDIA (32 lanes), 32 on lavapipe (8).
#include "kernels/vulkan/vulkan_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "kernels/vulkan/buffer.h"
#include "kernels/vulkan/pipelines.h"
#include "kernels/vulkan/stream.h"
#include "kernels/vulkan/weights.h"
#include "model/error.h"

namespace bitlab::vk {
namespace {

constexpr uint32_t kRowThreads = 256;       // rmsnorm, quantize, argmax, elementwise, embed
constexpr uint32_t kGemmThreads = 256;      // fixed by the GEMM shader's tile
constexpr uint32_t kAttentionThreads = 128; // head_dim <= 2 * this
constexpr uint32_t kGemvMaxT = 4, kLmHeadMaxT = 4;  // tokens per pass (MAX_T in the shaders)
constexpr uint32_t kGemmTileRows = 128, kGemmTileTokens = 32;
constexpr uint32_t kMaxStrideGroups = 4096;  // grid-stride shaders

uint32_t ceil_div(int64_t a, int64_t b) { return uint32_t((a + b - 1) / b); }

// Push constants, laid out as the shaders' blocks (std430: addresses first).
struct EmbedArgs { uint64_t tokens, table, y; uint32_t d, vocab; };
struct RmsnormArgs { uint64_t x, r, w, y, q, scale; uint32_t d; float eps; };
struct QuantizeArgs { uint64_t x, q, scale; uint32_t k; };
struct RealignArgs { uint64_t src, dst; uint32_t k, row_words; };
struct MatmulArgs { uint64_t x, s, w, y; uint32_t n, kw, x_stride, t, ldy; float w_scale; };
struct RopeArgs { uint64_t x, x2, table; uint32_t t, n_heads, n_heads2, head_dim, pos0; };
struct AttentionArgs {
  uint64_t q, k_cache, v_cache, y;
  uint32_t pos0, n_heads, group, head_dim, kv_stride;
  float scale;
};
struct ElementwiseArgs { uint64_t lhs, rhs, y; uint32_t n; };
struct LmHeadArgs { uint64_t x, table, logits; uint32_t t, d, vocab, ld; };
struct LmHeadI8Args { uint64_t x, s_x, table, s_v, logits; uint32_t t, d, vocab, ld; };
struct ArgmaxArgs { uint64_t logits, ids; uint32_t v; };

class VulkanTimer final : public Timer {
 public:
  explicit VulkanTimer(std::shared_ptr<Device> dev) : dev_(std::move(dev)) {
    auto ci = make_info<VkQueryPoolCreateInfo>(VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO);
    ci.queryType = VK_QUERY_TYPE_TIMESTAMP;
    ci.queryCount = 2;
    const VkResult r = dev_->api().vkCreateQueryPool(dev_->handle(), &ci, nullptr, &pool_);
    if (r != VK_SUCCESS) throw DeviceError(fmt::format("vulkan: vkCreateQueryPool failed: {}", result_name(r)));
  }
  ~VulkanTimer() override {
    Device* dev = dev_.get();
    VkQueryPool pool = pool_;
    dev->stream().defer([dev, pool] { dev->api().vkDestroyQueryPool(dev->handle(), pool, nullptr); });
  }
  void start() override {
    dev_->stream().timestamp(pool_, 0, 0, 2);
    started_ = true;
  }
  double stop_seconds() override {
    if (!started_) throw UsageError("timer stopped before it was started");
    started_ = false;
    dev_->stream().timestamp(pool_, 1, 0, 0);
    dev_->stream().finish();
    uint64_t ticks[2] = {0, 0};
    const VkResult r = dev_->api().vkGetQueryPoolResults(dev_->handle(), pool_, 0, 2, sizeof ticks, ticks,
                                                         sizeof(uint64_t),
                                                         VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) throw DeviceError(fmt::format("vulkan: reading timestamps failed: {}", result_name(r)));
    const uint64_t mask = dev_->caps().timestamp_mask;
    const uint64_t elapsed = ((ticks[1] & mask) - (ticks[0] & mask)) & mask;
    return double(elapsed) * dev_->caps().timestamp_period_ns * 1e-9;
  }

 private:
  std::shared_ptr<Device> dev_;
  VkQueryPool pool_ = VK_NULL_HANDLE;
  bool started_ = false;
};

// cos/sin per (position, pair) for one (theta, head_dim), in double as the
// reference computes them, rounded once to fp32.
struct RopeTable {
  Tensor table;
  int64_t positions = 0;
};

// Whether `path` runs the integer-dot shaders on a device with `caps`.
bool use_int_dot(DotPath path, const DeviceCaps& caps, const std::string& device) {
  switch (path) {
    case DotPath::Auto: return caps.int_dot;
    case DotPath::Portable: return false;
    case DotPath::IntegerDot: break;
  }
  if (!caps.int_dot)
    throw DeviceError(fmt::format("vulkan: {} has no integer dot product (shaderIntegerDotProduct)", device));
  return true;
}

class VulkanBackend final : public Backend {
 public:
  explicit VulkanBackend(const VulkanOptions& o)
      : dev_(Device::open(o.device, o.map_memory)), gemv_max_tokens_(o.gemv_max_tokens) {
    const DeviceCaps& caps = dev_->caps();
    matmul_int_dot_ = use_int_dot(o.matmul_dot == DotPath::Auto ? o.dot : o.matmul_dot, caps, dev_->name());
    base3_ = o.matmul_bits == WeightBits::OnePointSix;
    head_int_dot_ = use_int_dot(o.lm_head_dot == DotPath::Auto ? o.dot : o.lm_head_dot, caps, dev_->name());
    if (caps.max_workgroup_size < kRowThreads)
      throw DeviceError(fmt::format("vulkan: {} allows workgroups of only {} invocations; bitlab needs {}",
                                    dev_->name(), caps.max_workgroup_size, kRowThreads));
    rows_per_group_ = std::max<uint32_t>(1, kRowThreads / caps.subgroup_size);
    info_.backend = "vulkan";
    info_.kind = "gpu";
    info_.name = dev_->name();
    info_.driver = dev_->driver();
    info_.variant = matmul_int_dot_ == head_int_dot_ ? (matmul_int_dot_ ? "int-dot" : "portable")
                    : matmul_int_dot_                ? "int-dot matmul, portable lm_head_i8"
                                                     : "portable matmul, int-dot lm_head_i8";
    info_.kernels = {{"matmul_w2a8", base3_ ? (matmul_int_dot_ ? kMatmulB3IntDot : kMatmulB3Portable)
                                            : (matmul_int_dot_ ? kMatmulIntDot : kMatmulPortable)},
                     {"lm_head_i8", head_int_dot_ ? kHeadIntDot : kHeadPortable}};
    info_.memory_bytes = caps.device_local_bytes;
    info_.threads = 1;
  }
  ~VulkanBackend() override {
    try {
      dev_->stream().finish();
    } catch (const std::exception&) {
      // Already reported by the op that failed, or by the device's destructor.
    }
  }

  const DeviceInfo& info() const override { return info_; }
  std::shared_ptr<Buffer> alloc(size_t bytes) override { return std::make_shared<VulkanBuffer>(dev_, bytes); }
  void synchronize() override { dev_->stream().finish(); }
  std::unique_ptr<Timer> timer() override {
    if (!dev_->caps().timestamps) return Backend::timer();
    return std::make_unique<VulkanTimer>(dev_);
  }

  TernaryWeight upload(std::span<const CanonicalTernary* const> parts) override {
    TernaryWeight w;
    ternary_parts(parts, w);
    std::vector<uint32_t> words;
    words.reserve(size_t(w.n * row_words(w.k)));
    for (const CanonicalTernary* p : parts) {
      const std::vector<uint32_t> part = base3_ ? repack_b3x80(*p) : repack_t2x16(*p);
      words.insert(words.end(), part.begin(), part.end());
    }
    w.packed = upload_tensor(words.data(), DType::I8, {1, int64_t(words.size() * 4)});
    return w;
  }

 protected:
  void embed_impl(const Tensor& tokens, const Tensor& table, Tensor& out) override {
    const int64_t t = tokens.shape.rows, vocab = table.shape.rows, d = table.shape.cols;
    // Refuse bad ids here, as every backend does. The ids are usually known on
    // the host (written by it, not by a shader), so this costs no wait.
    std::vector<int32_t> ids(static_cast<size_t>(t));
    if (const uint8_t* host = buffer(tokens, "embed").host_copy())
      std::memcpy(ids.data(), host + tokens.offset, ids.size() * sizeof(int32_t));
    else
      download(tokens, ids.data());
    for (int32_t id : ids)
      if (id < 0 || id >= vocab) throw UsageError(fmt::format("embed: token id {} outside [0, {})", id, vocab));
    const EmbedArgs args{address(tokens, 4, "embed"), address(table, 2, "embed"), address(out, 4, "embed"),
                         uint32_t(d), uint32_t(vocab)};
    run("embed", {kRowThreads}, args, std::min(ceil_div(d, kRowThreads), kMaxStrideGroups), uint32_t(t));
    written(out);
  }

  void rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) override {
    const RmsnormArgs args{address(x, 4, "rmsnorm"), 0, address(w, 4, "rmsnorm"), address(y, 4, "rmsnorm"), 0, 0,
                           uint32_t(x.shape.cols), eps};
    run("rmsnorm", {kRowThreads}, args, uint32_t(x.shape.rows));
    written(y);
  }

  void rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) override {
    rmsnorm_quant_variant("rmsnorm_quant", x, nullptr, w, eps, q);
  }

  void add_rmsnorm_quant_impl(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q) override {
    rmsnorm_quant_variant("add_rmsnorm_quant", h, &d, w, eps, q);
    written(h);
  }

  void relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                    QuantAct& q) override {
    rmsnorm_quant_variant("relu2_mul_rmsnorm_quant", g, &u, w, eps, q);
  }

  void quantize_act_impl(const Tensor& x, QuantAct& q) override {
    const QuantizeArgs args{address(x, 4, "quantize_act"), address(q.q, 1, "quantize_act"),
                            address(q.scale, 4, "quantize_act"), uint32_t(x.shape.cols)};
    run("quantize", {kRowThreads}, args, uint32_t(x.shape.rows));
    written(q.q);
    written(q.scale);
  }

  void matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) override {
    const int64_t t = x.q.shape.rows, k = w.k, kw = row_words(k);
    if (t == 0) return;
    // The shaders read activations in 16-byte blocks, row after row. Rows that
    // do not start on a block (odd k, odd offsets) are copied into padded rows
    // first; the model's activations are read in place. The 2-bit shaders read
    // whole rows of weight words (4 * kw activation words); the 1.6-bit ones
    // stop at x_stride, so their padded rows end at the next 16 bytes.
    uint64_t xa = address(x.q, 1, "matmul_w2a8");
    uint32_t x_stride = 0;
    if (xa % 16 == 0 && k % 16 == 0) {
      x_stride = uint32_t(k / 4);
    } else {
      x_stride = uint32_t(base3_ ? (k + 15) / 16 * 4 : 4 * kw);
      Tensor words = scratch(DType::I8, {t, 4 * x_stride});
      const RealignArgs ra{address(x.q, 1, "matmul_w2a8"), address(words, 4, "matmul_w2a8"), uint32_t(k), x_stride};
      run("act_realign", {kRowThreads}, ra, ceil_div(x_stride, kRowThreads), uint32_t(t));
      written(words);
      xa = address(words, 16, "matmul_w2a8");
    }
    const bool gemv = t <= gemv_max_tokens_;
    const char* shader = matmul_shader(gemv);
    const uint64_t wa = address(w.packed, 16, "matmul_w2a8");
    for (size_t p = 0; p < y.size(); ++p) {
      const int64_t n = w.part_rows[p];
      const MatmulArgs args{xa, address(x.scale, 4, "matmul_w2a8"), wa + uint64_t(w.part_offset(p) * kw * 4),
                            address(y[p], 4, "matmul_w2a8"), uint32_t(n), uint32_t(kw), x_stride, uint32_t(t),
                            uint32_t(y[p].shape.cols), w.scales[p]};
      // The parts read the same inputs and write different outputs: no barrier between them.
      const bool after_previous = p == 0;
      if (gemv)
        run(shader, {kRowThreads, rows_per_group_}, args, ceil_div(n, rows_per_group_), ceil_div(t, kGemvMaxT),
            after_previous);
      else
        run(shader, {kGemmThreads}, args, ceil_div(n, kGemmTileRows), ceil_div(t, kGemmTileTokens), after_previous);
      written(y[p]);
    }
  }

  void rope_impl(Tensor& x, const RopeParams& p) override { rope_pair(x, p, nullptr, 0); }

  void rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) override {
    rope_pair(q, pq, &k, pk.n_heads);
  }

  void attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                      Tensor& out) override {
    if (p.head_dim > 2 * int64_t(kAttentionThreads))
      throw UsageError(fmt::format("attention: the Vulkan shader handles head_dim up to {}, not {}",
                                   2 * kAttentionThreads, p.head_dim));
    const int64_t t = q.shape.rows, kvd = p.n_kv_heads * p.head_dim;
    const uint64_t row_bytes = uint64_t(kvd) * 4, at = uint64_t(p.pos0) * row_bytes;
    Stream& s = dev_->stream();
    s.copy(buffer(k, "attention").handle(), k.offset, buffer(cache.k, "attention").handle(), cache.k.offset + at,
           uint64_t(t) * row_bytes);
    s.copy(buffer(v, "attention").handle(), v.offset, buffer(cache.v, "attention").handle(), cache.v.offset + at,
           uint64_t(t) * row_bytes);
    written(cache.k);
    written(cache.v);
    const AttentionArgs args{address(q, 4, "attention"), address(cache.k, 4, "attention"),
                             address(cache.v, 4, "attention"), address(out, 4, "attention"), uint32_t(p.pos0),
                             uint32_t(p.n_heads), uint32_t(p.n_heads / p.n_kv_heads), uint32_t(p.head_dim),
                             uint32_t(kvd), 1.0f / std::sqrt(float(p.head_dim))};
    run("attention", {kAttentionThreads}, args, uint32_t(p.n_heads), uint32_t(t));
    written(out);
  }

  void relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) override {
    elementwise("relu2_mul", g, u, y);
  }
  void add_impl(const Tensor& a, const Tensor& b, Tensor& y) override { elementwise("add", a, b, y); }

  void lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) override {
    const int64_t t = x.shape.rows, d = table.shape.cols, vocab = table.shape.rows;
    const bool vec8 = x.offset % 16 == 0 && table.offset % 16 == 0 && d % 8 == 0;
    const LmHeadArgs args{address(x, 4, "lm_head"), address(table, 2, "lm_head"), address(logits, 4, "lm_head"),
                          uint32_t(t), uint32_t(d), uint32_t(vocab), uint32_t(logits.shape.cols)};
    run(vec8 ? "lm_head_vec8" : "lm_head", {kRowThreads, rows_per_group_}, args, ceil_div(vocab, rows_per_group_),
        ceil_div(t, kLmHeadMaxT));
    written(logits);
  }

  void lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) override {
    const int64_t t = x.q.shape.rows, d = table.q.shape.cols, vocab = table.q.shape.rows;
    const bool words = d % 4 == 0 && x.q.offset % 4 == 0 && table.q.offset % 4 == 0;
    const char* shader = !words          ? "lm_head_i8_bytes"
                         : head_int_dot_ ? "lm_head_i8_int_dot"
                                         : "lm_head_i8_portable";
    const uint64_t align = words ? 4 : 1;
    const LmHeadI8Args args{address(x.q, align, "lm_head_i8"), address(x.scale, 4, "lm_head_i8"),
                            address(table.q, align, "lm_head_i8"), address(table.scale, 4, "lm_head_i8"),
                            address(logits, 4, "lm_head_i8"), uint32_t(t), uint32_t(d), uint32_t(vocab),
                            uint32_t(logits.shape.cols)};
    run(shader, {kRowThreads, rows_per_group_}, args, ceil_div(vocab, rows_per_group_), ceil_div(t, kLmHeadMaxT));
    written(logits);
  }

  void argmax_impl(const Tensor& logits, Tensor& ids) override {
    const ArgmaxArgs args{address(logits, 4, "argmax"), address(ids, 4, "argmax"), uint32_t(logits.shape.cols)};
    run("argmax", {kRowThreads}, args, uint32_t(logits.shape.rows));
    written(ids);
  }

 private:
  VulkanBuffer& buffer(const Tensor& t, const char* op) const {
    auto* b = dynamic_cast<VulkanBuffer*>(t.buf.get());
    if (!b || &b->device() != dev_.get())
      throw UsageError(fmt::format("{}: a tensor does not live in this Vulkan device's memory", op));
    return *b;
  }
  // The tensor's first element as a device address; the shaders' reference
  // types need `align`-byte alignment.
  uint64_t address(const Tensor& t, uint64_t align, const char* op) const {
    // The shaders index elements with 32-bit integers.
    if (t.shape.numel() >= (int64_t(1) << 32))
      throw UsageError(fmt::format("{}: a tensor of shape {} is too large for the Vulkan shaders' 32-bit indices",
                                   op, to_string(t.shape)));
    const uint64_t a = buffer(t, op).address() + t.offset;
    if (a % align)
      throw UsageError(fmt::format("{}: a {} tensor at byte offset {} is not {}-byte aligned", op,
                                   dtype_name(t.dtype), t.offset, align));
    return a;
  }
  void written(const Tensor& t) { buffer(t, "write").written_by_device(); }

  // Words per weight row in this backend's layout (weights.h).
  int64_t row_words(int64_t k) const { return base3_ ? b3_words_per_row(k) : words_per_row(k); }
  const char* matmul_shader(bool gemv) const {
    if (base3_)
      return gemv ? (matmul_int_dot_ ? "matmul_b3_gemv_int_dot" : "matmul_b3_gemv_portable")
                  : (matmul_int_dot_ ? "matmul_b3_gemm_int_dot" : "matmul_b3_gemm_portable");
    return gemv ? (matmul_int_dot_ ? "matmul_gemv_int_dot" : "matmul_gemv_portable")
                : (matmul_int_dot_ ? "matmul_gemm_int_dot" : "matmul_gemm_portable");
  }

  template <class Args>
  void run(std::string_view shader, std::initializer_list<uint32_t> constants, const Args& args, uint32_t gx,
           uint32_t gy = 1, bool after_previous = true) {
    static_assert(sizeof(Args) <= Pipelines::kPushBytes);
    const DeviceCaps& caps = dev_->caps();
    if (gx > caps.max_groups[0] || gy > caps.max_groups[1])
      throw UsageError(fmt::format("{}: a grid of {} x {} workgroups exceeds the device's {} x {}", shader, gx, gy,
                                   caps.max_groups[0], caps.max_groups[1]));
    Pipelines& pl = dev_->pipelines();
    const VkPipeline pipeline = pl.get(shader, std::span<const uint32_t>(constants.begin(), constants.size()));
    dev_->stream().dispatch(pipeline, pl.layout(), &args, sizeof(Args), gx, gy, 1, after_previous);
  }

  // rmsnorm.comp's quantising variants: r is the second input where the shader has one.
  void rmsnorm_quant_variant(const char* shader, const Tensor& x, const Tensor* r, const Tensor& w, float eps,
                             QuantAct& q) {
    const RmsnormArgs args{address(x, 4, shader), r ? address(*r, 4, shader) : 0, address(w, 4, shader), 0,
                           address(q.q, 1, shader), address(q.scale, 4, shader), uint32_t(x.shape.cols), eps};
    run(shader, {kRowThreads}, args, uint32_t(x.shape.rows));
    written(q.q);
    written(q.scale);
  }

  // rope on x and, where x2 is given, on x2 (n_heads2 heads) in the same dispatch.
  void rope_pair(Tensor& x, const RopeParams& p, Tensor* x2, int64_t n_heads2) {
    const int64_t t = x.shape.rows, half = p.head_dim / 2;
    const Tensor& table = rope_table(p.theta, p.head_dim, p.pos0 + t);
    const RopeArgs args{address(x, 4, "rope"), x2 ? address(*x2, 4, "rope") : 0, address(table, 4, "rope"),
                        uint32_t(t), uint32_t(p.n_heads), uint32_t(n_heads2), uint32_t(p.head_dim),
                        uint32_t(p.pos0)};
    run("rope", {kRowThreads}, args, ceil_div(t * (p.n_heads + n_heads2) * half, kRowThreads));
    written(x);
    if (x2) written(*x2);
  }

  void elementwise(const char* shader, const Tensor& a, const Tensor& b, Tensor& y) {
    const int64_t n = a.shape.numel();
    const ElementwiseArgs args{address(a, 4, shader), address(b, 4, shader), address(y, 4, shader), uint32_t(n)};
    run(shader, {kRowThreads}, args, std::clamp(ceil_div(n, kRowThreads), 1u, kMaxStrideGroups));
    written(y);
  }

  const Tensor& rope_table(double theta, int64_t head_dim, int64_t positions) {
    RopeTable& rt = rope_tables_[{theta, head_dim}];
    if (rt.positions >= positions) return rt.table;
    const int64_t half = head_dim / 2, n = (positions + 1023) / 1024 * 1024;
    std::vector<double> freq(static_cast<size_t>(half));
    for (int64_t i = 0; i < half; ++i) freq[size_t(i)] = std::pow(theta, -2.0 * double(i) / double(head_dim));
    std::vector<float> cs(size_t(n * half * 2));
    for (int64_t pos = 0; pos < n; ++pos)
      for (int64_t i = 0; i < half; ++i) {
        const double angle = double(pos) * freq[size_t(i)];
        cs[size_t((pos * half + i) * 2)] = float(std::cos(angle));
        cs[size_t((pos * half + i) * 2 + 1)] = float(std::sin(angle));
      }
    rt.table = upload_tensor(cs.data(), DType::F32, {n, 2 * half});
    rt.positions = n;
    return rt.table;
  }

  std::shared_ptr<Device> dev_;
  DeviceInfo info_;
  // Whether the matmul and the int8 head run their integer-dot-product shaders.
  bool matmul_int_dot_ = false, head_int_dot_ = false;
  bool base3_ = false;  // matmul_w2a8 weights in b3x80 (1.6 bits), else t2x16
  int64_t gemv_max_tokens_ = 4;
  uint32_t rows_per_group_ = 8;  // GEMV and LM head: one subgroup per row
  std::map<std::pair<double, int64_t>, RopeTable> rope_tables_;
};

}  // namespace

std::unique_ptr<Backend> make_backend(const VulkanOptions& options) {
  return std::make_unique<VulkanBackend>(options);
}

std::span<const VulkanVariant> vulkan_variants() {
  static constexpr VulkanVariant kList[] = {
      {kMatmulIntDot, "matmul_w2a8", &VulkanOptions::matmul_dot, DotPath::IntegerDot},
      {kMatmulPortable, "matmul_w2a8", &VulkanOptions::matmul_dot, DotPath::Portable},
      {kMatmulB3IntDot, "matmul_w2a8", &VulkanOptions::matmul_dot, DotPath::IntegerDot, WeightBits::OnePointSix},
      {kMatmulB3Portable, "matmul_w2a8", &VulkanOptions::matmul_dot, DotPath::Portable, WeightBits::OnePointSix},
      {kHeadIntDot, "lm_head_i8", &VulkanOptions::lm_head_dot, DotPath::IntegerDot},
      {kHeadPortable, "lm_head_i8", &VulkanOptions::lm_head_dot, DotPath::Portable},
  };
  return kList;
}

void apply_pins(VulkanOptions& o, const std::vector<std::string>& pins) {
  for (const std::string& pin : pins)
    for (const VulkanVariant& v : vulkan_variants())
      if (pin == v.name) {
        o.*(v.option) = v.path;
        if (std::string_view(v.op) == "matmul_w2a8") o.matmul_bits = v.bits;
      }
}

}  // namespace bitlab::vk
