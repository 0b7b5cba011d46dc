#include "kernels/cpu/cpu_backend.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "common/sysinfo.h"
#include "kernels/cpu/thread_pool.h"
#include "model/host_tensor.h"

namespace bitlab::cpu {
namespace {

class CpuBackend final : public Backend {
 public:
  CpuBackend(const char* name, const CpuTable& table, const BackendOptions& opts) : k_(table.kernels) {
    threads_ = opts.threads > 0 ? opts.threads : omp_get_num_procs();
    info_.backend = name;
    info_.kind = "cpu";
    info_.name = cpu_model_name();
    info_.variant = k_.variant;
    info_.kernels = table.chosen;
    info_.threads = threads_;
    info_.memory_bytes = total_memory_bytes();
    if (threads_ > 1) pool_ = std::make_unique<ThreadPool>(threads_);
  }
  const DeviceInfo& info() const override { return info_; }
  std::shared_ptr<Buffer> alloc(size_t bytes) override { return std::make_shared<HostBuffer>(bytes); }

  TernaryWeight upload(std::span<const CanonicalTernary* const> parts) override {
    TernaryWeight w;
    ternary_parts(parts, w);
    size_t total = 0;
    for (const CanonicalTernary* p : parts) total += k_.packed_bytes(p->n, p->k);
    w.packed = new_tensor(DType::I8, {1, int64_t(total)});
    uint8_t* dst = host_ptr<uint8_t>(w.packed);
    for (const CanonicalTernary* p : parts) {
      k_.repack(*p, dst);
      dst += k_.packed_bytes(p->n, p->k);
    }
    return w;
  }

 protected:
  // Chunks per thread a parallel loop is cut into: threads take chunks as they
  // come free, so a thread the OS deschedules (another process wants the core)
  // delays only its current chunk, and the others take the rest.
  static constexpr int64_t kChunksPerThread = 4;
  // Token rows per attention work item: with 2B4T's 4 query heads per kv head,
  // 16 queries share each key and value row read (more would only grow the
  // score rows, which the weighted sum reads back from cache).
  static constexpr int64_t kAttentionRows = 4;

  // Runs f(i) for i in [0, n) on the backend's threads. Each i is one call on
  // one thread whatever the split, so the split never changes the bits.
  template <class F>
  void parallel_for(int64_t n, F&& f) {
    if (!pool_ || n <= 1) {
      for (int64_t i = 0; i < n; ++i) f(i);
      return;
    }
    const int64_t chunks = std::min({n, threads_ * kChunksPerThread, ThreadPool::kMaxChunks});
    pool_->run(chunks, [&](int64_t c) {
      for (int64_t i = n * c / chunks, end = n * (c + 1) / chunks; i < end; ++i) f(i);
    });
  }

  void embed_impl(const Tensor& tokens, const Tensor& table, Tensor& out) override {
    const int32_t* ids = host_ptr<int32_t>(tokens);
    const int64_t vocab = table.shape.rows, d = table.shape.cols;
    for (int64_t r = 0; r < tokens.shape.rows; ++r)
      if (ids[r] < 0 || ids[r] >= vocab)
        throw UsageError("embed: token id " + std::to_string(ids[r]) + " outside the vocabulary");
    const uint16_t* tab = host_ptr<uint16_t>(table);
    float* y = host_ptr<float>(out);
    parallel_for(tokens.shape.rows, [&](int64_t r) { k_.embed_row(tab + int64_t(ids[r]) * d, d, y + r * d); });
  }

  void rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) override {
    const int64_t d = x.shape.cols;
    const float *xp = host_ptr<float>(x), *wp = host_ptr<float>(w);
    float* yp = host_ptr<float>(y);
    parallel_for(x.shape.rows, [&](int64_t r) { k_.rmsnorm_row(xp + r * d, wp, d, eps, yp + r * d); });
  }

  void quantize_act_impl(const Tensor& x, QuantAct& q) override {
    const int64_t k = x.shape.cols;
    const float* xp = host_ptr<float>(x);
    int8_t* qp = host_ptr<int8_t>(q.q);
    float* sp = host_ptr<float>(q.scale);
    parallel_for(x.shape.rows, [&](int64_t r) { k_.quantize_row(xp + r * k, k, qp + r * k, sp + r); });
  }

  void rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) override {
    const int64_t d = x.shape.cols;
    const float *xp = host_ptr<float>(x), *wp = host_ptr<float>(w);
    int8_t* qp = host_ptr<int8_t>(q.q);
    float* sp = host_ptr<float>(q.scale);
    parallel_for(x.shape.rows, [&](int64_t r) { k_.rmsnorm_quant_row(xp + r * d, wp, d, eps, qp + r * d, sp + r); });
  }

  // The fused ops run the same row kernels one after the other on each row, in
  // one parallel region instead of two: the same bits as the primitives.
  void add_rmsnorm_quant_impl(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q) override {
    const int64_t n = h.shape.cols;
    float* hp = host_ptr<float>(h);
    const float *dp = host_ptr<float>(d), *wp = host_ptr<float>(w);
    int8_t* qp = host_ptr<int8_t>(q.q);
    float* sp = host_ptr<float>(q.scale);
    parallel_for(h.shape.rows, [&](int64_t r) {
      k_.add(hp + r * n, dp + r * n, n, hp + r * n);
      k_.rmsnorm_quant_row(hp + r * n, wp, n, eps, qp + r * n, sp + r);
    });
  }

  void relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                    QuantAct& q) override {
    const int64_t n = g.shape.cols;
    const float *gp = host_ptr<float>(g), *up = host_ptr<float>(u), *wp = host_ptr<float>(w);
    int8_t* qp = host_ptr<int8_t>(q.q);
    float* sp = host_ptr<float>(q.scale);
    parallel_for(g.shape.rows, [&](int64_t r) {
      thread_local std::vector<float> f;
      f.resize(size_t(n));
      k_.relu2_mul(gp + r * n, up + r * n, n, f.data());
      k_.rmsnorm_quant_row(f.data(), wp, n, eps, qp + r * n, sp + r);
    });
  }

  void matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) override {
    // One work item per (part, block of rows), so fused parts share one parallel region.
    struct Item { size_t part; int64_t n0, n1; };
    std::vector<MatmulArgs> args(y.size());
    std::vector<Item> items;
    const uint8_t* packed = host_ptr<uint8_t>(w.packed);
    const int64_t rb = k_.matmul_row_block;
    const uint8_t* prepared = prepare_activations(x, w.k);
    for (size_t p = 0; p < y.size(); ++p) {
      MatmulArgs& a = args[p];
      a.packed = packed;
      a.n = w.part_rows[p];
      a.k = w.k;
      a.w_scale = w.scales[p];
      a.xq = host_ptr<int8_t>(x.q);
      a.s = host_ptr<float>(x.scale);
      a.t = x.q.shape.rows;
      a.y = host_ptr<float>(y[p]);
      a.ldy = y[p].shape.cols;
      a.prepared = prepared;
      packed += k_.packed_bytes(a.n, a.k);
      for (int64_t n0 = 0; n0 < a.n; n0 += rb) items.push_back({p, n0, std::min(a.n, n0 + rb)});
    }
    // Groups of consecutive items keep each weight stream sequential; a group's
    // items of one part go to the kernel as one call, so per-call work
    // (activation sums, padding) is done once per part per group. A few groups
    // per thread (kChunksPerThread), taken as threads come free, let a running
    // thread take over the work of a descheduled one.
    const auto n_items = int64_t(items.size());
    if (n_items == 0) return;
    const int64_t groups = threads_ * kChunksPerThread;
    const int64_t per = (n_items + groups - 1) / groups;
    parallel_for((n_items + per - 1) / per, [&](int64_t th) {
      const int64_t end = std::min(n_items, (th + 1) * per);
      for (int64_t i = th * per; i < end;) {
        const Item& first = items[size_t(i)];
        int64_t j = i + 1;
        while (j < end && items[size_t(j)].part == first.part) ++j;
        k_.matmul(args[first.part], first.n0, items[size_t(j - 1)].n1);
        i = j;
      }
    });
  }

  void rope_impl(Tensor& x, const RopeParams& p) override {
    float* xp = host_ptr<float>(x);
    const int64_t w = x.shape.cols, stride = RopeAngles::row_stride(p.head_dim);
    const double* cs = rope_angles_.angles(p, x.shape.rows, *this);
    parallel_for(x.shape.rows, [&](int64_t r) { k_.rope_row(xp + r * w, p.n_heads, p.head_dim, cs + r * stride); });
  }

  void rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) override {
    float *qp = host_ptr<float>(q), *kp = host_ptr<float>(k);
    const int64_t wq = q.shape.cols, wk = k.shape.cols, rows = q.shape.rows;
    // One table for both: Backend::rope_qk has checked that q and k share
    // positions, head_dim and theta.
    const int64_t stride = RopeAngles::row_stride(pq.head_dim);
    const double* cs = rope_angles_.angles(pq, rows, *this);
    parallel_for(rows, [&](int64_t r) {
      k_.rope_row(qp + r * wq, pq.n_heads, pq.head_dim, cs + r * stride);
      k_.rope_row(kp + r * wk, pk.n_heads, pk.head_dim, cs + r * stride);
    });
  }

  void attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                      Tensor& out) override {
    const int64_t t = q.shape.rows, hd = p.head_dim, kvd = p.n_kv_heads * hd, qd = p.n_heads * hd;
    float* kc = host_ptr<float>(cache.k);
    float* vc = host_ptr<float>(cache.v);
    std::memcpy(kc + p.pos0 * kvd, host_ptr<float>(k), size_t(t * kvd) * sizeof(float));
    std::memcpy(vc + p.pos0 * kvd, host_ptr<float>(v), size_t(t * kvd) * sizeof(float));
    const float* qp = host_ptr<float>(q);
    float* op = host_ptr<float>(out);
    // Work items are (block of rows, kv head): the GQA group's heads of up to
    // kAttentionRows rows in one attention_group call, which reads each cached
    // key and value row once for all of them. A decode step (one row) has one
    // item per kv head.
    const int64_t group = p.n_heads / p.n_kv_heads;
    const int64_t blocks = (t + kAttentionRows - 1) / kAttentionRows;
    parallel_for(blocks * p.n_kv_heads, [&](int64_t i) {
      // Row r sees pos0 + r + 1 keys: items take row blocks in the order 0,
      // last, 1, last - 1, ... so that each thread's contiguous share of a
      // prefill costs about the same.
      const int64_t jb = i / p.n_kv_heads, kvh = i % p.n_kv_heads;
      const int64_t b = jb % 2 == 0 ? jb / 2 : blocks - 1 - jb / 2;
      const int64_t r0 = b * kAttentionRows, r1 = std::min(t, r0 + kAttentionRows);
      thread_local std::vector<const float*> qs;
      thread_local std::vector<float*> outs;
      thread_local std::vector<int64_t> n_keys;
      thread_local std::vector<float> scratch;
      qs.clear(), outs.clear(), n_keys.clear();
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
          qs.push_back(qp + r * qd + h * hd);
          outs.push_back(op + r * qd + h * hd);
          n_keys.push_back(p.pos0 + r + 1);
        }
      scratch.resize(qs.size() * size_t(p.pos0 + r1));
      k_.attention_group(qs.data(), outs.data(), n_keys.data(), int64_t(qs.size()), kc + kvh * hd, vc + kvh * hd, hd,
                         kvd, scratch.data());
    });
  }

  void relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) override {
    elementwise(g, [&](int64_t off, int64_t n) {
      k_.relu2_mul(host_ptr<float>(g) + off, host_ptr<float>(u) + off, n, host_ptr<float>(y) + off);
    });
  }

  void add_impl(const Tensor& a, const Tensor& b, Tensor& y) override {
    elementwise(a, [&](int64_t off, int64_t n) {
      k_.add(host_ptr<float>(a) + off, host_ptr<float>(b) + off, n, host_ptr<float>(y) + off);
    });
  }

  void lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) override {
    const int64_t d = table.shape.cols;
    const float* xp = host_ptr<float>(x);
    const uint16_t* tp = host_ptr<uint16_t>(table);
    float* lp = host_ptr<float>(logits);
    vocab_blocks(table.shape.rows, [&](int64_t v0, int64_t v1) {
      k_.lm_head(xp, x.shape.rows, d, tp, v0, v1, lp, logits.shape.cols);
    });
  }

  void lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) override {
    const int8_t* xq = host_ptr<int8_t>(x.q);
    const float* sx = host_ptr<float>(x.scale);
    const int8_t* q = host_ptr<int8_t>(table.q);
    const float* sv = host_ptr<float>(table.scale);
    float* lp = host_ptr<float>(logits);
    vocab_blocks(table.q.shape.rows, [&](int64_t v0, int64_t v1) {
      k_.lm_head_i8(xq, sx, x.q.shape.rows, table.q.shape.cols, q, sv, v0, v1, lp, logits.shape.cols);
    });
  }

  void argmax_impl(const Tensor& logits, Tensor& ids) override {
    const float* lp = host_ptr<float>(logits);
    int32_t* ip = host_ptr<int32_t>(ids);
    for (int64_t r = 0; r < logits.shape.rows; ++r)
      ip[r] = int32_t(k_.argmax(lp + r * logits.shape.cols, logits.shape.cols));
  }

 private:
  // Runs f(v0, v1) over blocks of 256 vocabulary rows (the heads' work items).
  template <class F>
  void vocab_blocks(int64_t vocab, F&& f) {
    constexpr int64_t kBlock = 256;
    parallel_for((vocab + kBlock - 1) / kBlock,
                 [&](int64_t b) { f(b * kBlock, std::min(vocab, (b + 1) * kBlock)); });
  }

  // The variant's activation preparation for a GEMM (CpuKernels::prepare),
  // once per matmul, token blocks spread over the threads; null where there
  // is none (a GEMV, or a kernel that reads xq as it is). Every row block's
  // kernel call then reads it, instead of each preparing its own copy.
  const uint8_t* prepare_activations(const QuantAct& x, int64_t k) {
    const int64_t t = x.q.shape.rows;
    if (t <= 1 || !k_.prepare) return nullptr;
    const size_t bytes = k_.prepared_bytes(t, k) + 64;
    if (prepared_.size() < bytes) prepared_.resize(bytes);
    const auto base = reinterpret_cast<uintptr_t>(prepared_.data());
    uint8_t* out = prepared_.data() + ((64 - base % 64) % 64);
    const int8_t* xq = host_ptr<int8_t>(x.q);
    constexpr int64_t kBlock = CpuKernels::kPrepareTokens;
    parallel_for((t + kBlock - 1) / kBlock,
                 [&](int64_t b) { k_.prepare(xq, t, k, b * kBlock, std::min(t, (b + 1) * kBlock), out); });
    return out;
  }

  // RoPE's angles for the positions of one call (rope_angles per row), kept
  // while the next call asks for the same positions: every layer of a prefill
  // or decode step rotates the same positions, so the sines and cosines are
  // computed once per step instead of twice per layer.
  class RopeAngles {
   public:
    // Doubles per row: a cosine and a sine for each of the head_dim / 2 pairs.
    static int64_t row_stride(int64_t head_dim) { return head_dim / 2 * 2; }
    const double* angles(const RopeParams& p, int64_t rows, CpuBackend& be) {
      if (rows != rows_ || p.pos0 != pos0_ || p.head_dim != head_dim_ || p.theta != theta_) {
        const int64_t stride = row_stride(p.head_dim);
        table_.resize(size_t(std::max<int64_t>(1, rows * stride)));
        be.parallel_for(rows, [&](int64_t r) { rope_angles(p.pos0 + r, p.head_dim, p.theta, table_.data() + r * stride); });
        rows_ = rows, pos0_ = p.pos0, head_dim_ = p.head_dim, theta_ = p.theta;
      }
      return table_.data();
    }

   private:
    std::vector<double> table_;
    int64_t rows_ = -1, pos0_ = 0, head_dim_ = 0;
    double theta_ = 0;
  };

  // Splits n elements into per-thread chunks of whole cache lines.
  template <class F>
  void elementwise(const Tensor& t, F&& f) {
    const int64_t n = t.shape.numel();
    const int64_t chunk = std::max<int64_t>(4096, (n / threads_ + 15) / 16 * 16);
    parallel_for((n + chunk - 1) / chunk, [&](int64_t c) { f(c * chunk, std::min(chunk, n - c * chunk)); });
  }

  const CpuKernels k_;  // a copy: tables built from pins live no longer than their backend
  int threads_ = 1;
  DeviceInfo info_;
  std::unique_ptr<ThreadPool> pool_;  // none with one thread
  std::vector<uint8_t> prepared_;     // prepare_activations' block (64 bytes of slack to align it)
  RopeAngles rope_angles_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const char* registry_name, const CpuTable& table,
                                          const BackendOptions& opts) {
  return std::make_unique<CpuBackend>(registry_name, table, opts);
}

std::unique_ptr<Backend> make_cpu_backend(const char* registry_name, const CpuKernels& kernels,
                                          const BackendOptions& opts) {
  return make_cpu_backend(registry_name, CpuTable{kernels, {}}, opts);
}

}  // namespace bitlab::cpu
