// The CUDA backend: each op checks its device pointers, picks a kernel and
// hands the launch to the step recorder (launched now, or recorded for a
// graph). Kernels are in the .cu files, one op family each (launch.h).
#include "kernels/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "kernels/cuda/cuda_error.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/w2_layout.h"
#include "model/error.h"
#include "kernels/registry.h"

namespace bitlab {
namespace cuda {
namespace {

constexpr int64_t kRowPathMaxRows = 4;  // attention over at most this many rows: the chunked kernels


class CudaTimer final : public Timer {
 public:
  explicit CudaTimer(Device& d) : dev_(d) {
    check(cudaEventCreate(&start_), "creating a timer event");
    check(cudaEventCreate(&stop_), "creating a timer event");
  }
  ~CudaTimer() override {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  void start() override {
    dev_.steps().flush();
    check(cudaEventRecord(start_, dev_.stream()), "starting a timer");
  }
  double stop_seconds() override {
    dev_.steps().flush();
    check(cudaEventRecord(stop_, dev_.stream()), "stopping a timer");
    check(cudaEventSynchronize(stop_), "waiting for a timer");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start_, stop_), "reading a timer");
    return double(ms) * 1e-3;
  }

 private:
  Device& dev_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(const BackendOptions& opts, const CudaOptions& cuda) : opts_(cuda) {
    check(cudaSetDevice(opts.device), "selecting the device");  // the kernel attributes below are per device
    cudaDeviceProp p{};
    check(cudaGetDeviceProperties(&p, opts.device), "reading the device properties");
    // griddepcontrol is sm_90's, and graphs capture programmatic launches from
    // CUDA 12.3 on: elsewhere the kernels are launched the plain way.
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    const bool programmatic = cuda.programmatic_launch && p.major >= 9 && runtime >= 12030 && driver >= 12030 &&
                              kernels_wait_for_producers();
    dev_ = std::make_shared<Device>(opts.device, cuda.graphs, programmatic);
    info_.backend = "cuda";
    info_.kind = "gpu";
    info_.name = p.name;
    info_.variant = fmt::format("sm_{}{} w2a8 {}, {}{}", p.major, p.minor,
                                cuda.gemv ? "dp4a gemv + s8 mma gemm" : "s8 mma gemm", cuda.graphs ? "graphs" : "eager",
                                programmatic ? ", programmatic launch" : "");
    info_.kernels = chosen_variants(cuda);
    info_.driver = fmt::format("driver {}.{}, runtime {}.{}", driver / 1000, driver % 1000 / 10, runtime / 1000,
                               runtime % 1000 / 10);
    info_.memory_bytes = p.totalGlobalMem;
    info_.threads = 1;
    max_smem_ = p.sharedMemPerBlockOptin;
    init_gemv_kernels(max_smem_);
    init_attention_kernels(max_smem_);
    bad_id_ = alloc(2 * sizeof(int32_t));
  }
  ~CudaBackend() override {
    try {
      synchronize();
    } catch (...) {  // a sticky device error was already reported by the op that caused it
    }
  }

  const DeviceInfo& info() const override { return info_; }
  const StepStats& stats() const { return dev_->steps().stats(); }

  std::shared_ptr<Buffer> alloc(size_t bytes) override { return std::make_shared<DeviceBuffer>(dev_, bytes); }

  TernaryWeight upload(std::span<const CanonicalTernary* const> parts) override {
    TernaryWeight w;
    ternary_parts(parts, w);  // validates every part's codes
    std::vector<uint32_t> words;
    words.reserve(size_t(w.n * row_words(w.k)));
    for (const CanonicalTernary* p : parts) {
      const std::vector<uint32_t> part = repack_w2(*p);
      words.insert(words.end(), part.begin(), part.end());
    }
    w.packed = upload_tensor(words.data(), DType::I8, {1, int64_t(words.size() * 4)});
    return w;
  }

  void synchronize() override {
    dev_->steps().flush();
    check(cudaStreamSynchronize(dev_->stream()), "synchronising the stream");
    retired_.clear();  // nothing queued can still use them
  }

  std::unique_ptr<Timer> timer() override { return std::make_unique<CudaTimer>(*dev_); }

  void begin_step() override { dev_->steps().begin(); }
  void end_step() override { dev_->steps().end(); }

 protected:
  void embed_impl(const Tensor& tokens, const Tensor& table, Tensor& out) override {
    const bool eager = !dev_->steps().recording();
    int32_t* bad = eager ? ptr<int32_t>(Tensor{bad_id_, 0, DType::I32, {1, 2}}) : nullptr;
    if (eager) check(cudaMemsetAsync(bad, 0, 2 * sizeof(int32_t), dev_->stream()), "clearing the embed check");
    submit(EmbedArgs{ptr<int32_t>(tokens), ptr<uint16_t>(table), ptr<float>(out), tokens.shape.rows, table.shape.rows,
                     table.shape.cols, bad});
    // A recorded step's ids were checked on the host (Transformer); an eager
    // call checks here, at the cost of one wait.
    if (!eager) return;
    int32_t flag[2] = {0, 0};
    bad_id_->read(flag, 0, sizeof(flag));
    if (flag[0]) throw UsageError(fmt::format("embed: token id {} outside [0, {})", flag[1], table.shape.rows));
  }

  void rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) override {
    submit(RmsnormArgs{ptr<float>(x), ptr<float>(w), ptr<float>(y), nullptr, nullptr, x.shape.rows, x.shape.cols, eps});
  }

  void rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) override {
    submit(RmsnormArgs{ptr<float>(x), ptr<float>(w), nullptr, ptr<int8_t>(q.q), ptr<float>(q.scale), x.shape.rows,
                       x.shape.cols, eps});
  }

  void add_rmsnorm_quant_impl(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q) override {
    RmsnormArgs a{ptr<float>(h), ptr<float>(w), nullptr, ptr<int8_t>(q.q), ptr<float>(q.scale), h.shape.rows,
                  h.shape.cols, eps};
    a.input = RmsnormInput::AddResidual;
    a.r = ptr<float>(d);
    a.h = ptr<float>(h);
    submit(a);
  }

  void relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                    QuantAct& q) override {
    RmsnormArgs a{ptr<float>(g), ptr<float>(w), nullptr, ptr<int8_t>(q.q), ptr<float>(q.scale), g.shape.rows,
                  g.shape.cols, eps};
    a.input = RmsnormInput::Relu2Mul;
    a.r = ptr<float>(u);
    submit(a);
  }

  void quantize_act_impl(const Tensor& x, QuantAct& q) override {
    submit(QuantizeArgs{ptr<float>(x), ptr<int8_t>(q.q), ptr<float>(q.scale), x.shape.rows, x.shape.cols});
  }

  void matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) override {
    const int64_t t = x.q.shape.rows, k = w.k;
    if (t == 0) return;
    const int64_t need = w.n * row_words(k) * 4;
    if (w.packed.bytes() != size_t(need))
      throw UsageError(fmt::format("matmul_w2a8: weight '{}' holds {} bytes, not the {} of a cuda upload", w.name,
                                   w.packed.bytes(), need));
    MatmulArgs base;
    base.w = ptr<uint32_t>(w.packed);
    base.row_words = row_words(k);
    base.x = ptr<int8_t>(x.q);
    base.ldx = k;
    base.s = ptr<float>(x.scale);
    base.t = t;
    base.k = k;
    const bool gemv = t == 1 && opts_.gemv;
    if (!gemv) {
      // The GEMM reads x in 16-byte k-tile rows: a padded copy where x is not
      // 16-byte aligned with k a multiple of the tile; Σx per token either way.
      const bool direct = k % kKTile == 0 && aligned16(base.x);
      ActPrepArgs prep{base.x, t, k, nullptr, padded_k(k), scratch("rowsum", size_t(t) * 4).as<int32_t>()};
      if (!direct) prep.xpad = scratch("padded activations", size_t(t * padded_k(k))).as<int8_t>();
      submit(prep);
      base.x = direct ? base.x : prep.xpad;
      base.ldx = direct ? k : padded_k(k);
      base.rowsum = prep.rowsum;
    }
    const auto kernel = uint8_t(gemv ? MatmulKernel::Gemv : MatmulKernel::Gemm);
    for (size_t p0 = 0; p0 < y.size(); p0 += kMaxPartsPerLaunch) {
      MatmulArgs a = base;
      a.row_begin = w.part_offset(p0);
      for (size_t p = p0; p < y.size() && p < p0 + kMaxPartsPerLaunch; ++p)
        a.parts[a.nparts++] = MatmulPart{ptr<float>(y[p]), w.part_offset(p), w.part_rows[p], w.scales[p]};
      a.row_end = a.parts[a.nparts - 1].row0 + a.parts[a.nparts - 1].rows;
      submit(Op{a, kernel});
    }
  }

  void rope_impl(Tensor& x, const RopeParams& p) override {
    submit(RopeArgs{ptr<float>(x), x.shape.rows, p.n_heads, p.head_dim, p.theta, dev_->steps().position(p.pos0)});
  }

  void rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) override {
    RopeArgs a{ptr<float>(q), q.shape.rows, pq.n_heads, pq.head_dim, pq.theta, dev_->steps().position(pq.pos0)};
    a.x2 = ptr<float>(k);
    a.n_heads2 = pk.n_heads;
    submit(a);
  }

  void attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                      Tensor& out) override {
    const int64_t t = q.shape.rows, hd = p.head_dim;
    if (t == 0) return;
    if (hd > kAttentionHeadDimMax)
      throw UsageError(
          fmt::format("attention: the cuda backend supports head_dim up to {}, not {}", kAttentionHeadDimMax, hd));
    AttentionArgs a;
    a.q = ptr<float>(q);
    a.k = ptr<float>(k);
    a.v = ptr<float>(v);
    a.k_cache = ptr<float>(cache.k);
    a.v_cache = ptr<float>(cache.v);
    a.out = ptr<float>(out);
    a.t = t;
    a.n_heads = p.n_heads;
    a.n_kv_heads = p.n_kv_heads;
    a.head_dim = hd;
    a.scale = float(1.0 / std::sqrt(double(hd)));
    const bool recording = dev_->steps().recording();
    a.pos = dev_->steps().position(p.pos0);
    const bool tiled = opts_.tiled_attention && t > kRowPathMaxRows && hd % 4 == 0 && hd <= kAttentionTiledHeadDimMax &&
                       attention_tiled_smem(hd) <= max_smem_ && aligned16(a.q) && aligned16(a.k) && aligned16(a.v) &&
                       aligned16(a.k_cache) && aligned16(a.v_cache) && aligned16(a.out);
    if (tiled) {
      submit(Op{a, uint8_t(AttentionKernel::Tiled)});
      return;
    }
    // A recorded step's grid must not depend on the position: it spans the cache.
    const int64_t keys = recording ? cache.k.shape.rows : p.pos0 + t;
    a.n_chunks = (keys + kAttentionChunk - 1) / kAttentionChunk;
    if (a.n_chunks > 65535 || t > 65535)
      throw UsageError(fmt::format("attention: {} rows over {} keys exceed the cuda launch grid", t, keys));
    a.partial = scratch("attention partials", size_t(t * p.n_heads * a.n_chunks * (hd + 2)) * 4).as<float>();
    submit(Op{a, uint8_t(AttentionKernel::Chunks)});
    submit(Op{a, uint8_t(AttentionKernel::Merge)});
  }

  void relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) override {
    submit(
        ElementwiseArgs{ElementwiseArgs::Kind::Relu2Mul, ptr<float>(g), ptr<float>(u), ptr<float>(y), g.shape.numel()});
  }

  void add_impl(const Tensor& a, const Tensor& b, Tensor& y) override {
    submit(ElementwiseArgs{ElementwiseArgs::Kind::Add, ptr<float>(a), ptr<float>(b), ptr<float>(y), a.shape.numel()});
  }

  void lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) override {
    submit(LmHeadArgs{ptr<float>(x), ptr<uint16_t>(table), ptr<float>(logits), x.shape.rows, table.shape.rows,
                      table.shape.cols});
  }

  void lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) override {
    submit(LmHeadI8Args{ptr<int8_t>(x.q), ptr<float>(x.scale), ptr<int8_t>(table.q), ptr<float>(table.scale),
                        ptr<float>(logits), x.q.shape.rows, table.q.shape.rows, table.q.shape.cols});
  }

  void argmax_impl(const Tensor& logits, Tensor& ids) override {
    ArgmaxArgs a;
    a.logits = ptr<float>(logits);
    a.t = logits.shape.rows;
    a.v = logits.shape.cols;
    a.blocks = argmax_blocks(a.v);
    a.partial = scratch("argmax partials", size_t(a.t * a.blocks) * 8).as<uint64_t>();
    a.ids = ptr<int32_t>(ids);
    submit(a);
  }

 private:
  // A device pointer to t's first element; the tensor must live in this backend's memory.
  template <class T>
  T* ptr(const Tensor& t) const {
    const auto* b = dynamic_cast<const DeviceBuffer*>(t.buf.get());
    if (!b || b->device() != dev_.get())
      throw UsageError(fmt::format("cuda: a {} {} tensor is not in this backend's device memory", dtype_name(t.dtype),
                                   to_string(t.shape)));
    return reinterpret_cast<T*>(b->data() + t.offset);
  }

  // Device memory for one purpose, grown on demand. A recorded step may still
  // point into a smaller block, so replaced blocks live until the next synchronize().
  struct ScratchView {
    uint8_t* p;
    template <class T>
    T* as() const {
      return reinterpret_cast<T*>(p);
    }
  };
  ScratchView scratch(const char* purpose, size_t bytes) {
    std::shared_ptr<DeviceBuffer>& b = scratch_[purpose];
    if (!b || b->bytes() < bytes) {
      if (b) retired_.push_back(b);
      b = std::make_shared<DeviceBuffer>(dev_, std::max<size_t>(bytes, b ? 2 * b->bytes() : bytes));
    }
    return ScratchView{b->data()};
  }

  template <class A>
  void submit(const A& args) {
    dev_->steps().submit(Op{args, 0});
  }
  void submit(const Op& op) { dev_->steps().submit(op); }

  CudaOptions opts_;
  std::shared_ptr<Device> dev_;
  DeviceInfo info_;
  size_t max_smem_ = 0;
  std::shared_ptr<Buffer> bad_id_;
  std::map<std::string, std::shared_ptr<DeviceBuffer>> scratch_;
  std::vector<std::shared_ptr<DeviceBuffer>> retired_;
};

// False where the variable says 0 or off.
bool enabled_by_environment(const char* name) {
  const char* v = std::getenv(name);
  return !(v && (std::strcmp(v, "0") == 0 || std::strcmp(v, "off") == 0));
}

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& opts, const CudaOptions& cuda) {
  return std::make_unique<CudaBackend>(opts, cuda);
}

const StepStats* cuda_step_stats(const Backend& be) {
  const auto* c = dynamic_cast<const CudaBackend*>(&be);
  return c ? &c->stats() : nullptr;
}

CudaOptions cuda_options_from_environment() {
  CudaOptions o;
  o.graphs = enabled_by_environment("BITLAB_CUDA_GRAPHS");
  o.programmatic_launch = enabled_by_environment("BITLAB_CUDA_PDL");
  return o;
}

}  // namespace cuda

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& opts) {
  return cuda::make_cuda_backend(opts, cuda::apply_pins(cuda::cuda_options_from_environment(), opts.variants));
}

BackendProbe probe_cuda_backend() {
  int driver = 0;
  cudaDriverGetVersion(&driver);
  if (driver == 0) return {false, "no CUDA device: no NVIDIA driver is loaded on this machine"};
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return {false, fmt::format("no CUDA device: {}", cudaGetErrorString(e))};
  }
  if (count == 0) return {false, "no CUDA device: the driver sees none"};
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
    cudaGetLastError();
    return {false, "no CUDA device: cannot read the properties of device 0"};
  }
  const std::string sm = fmt::format("sm_{}{}", p.major, p.minor);
  if (p.major < 8)
    return {false, fmt::format("{} is {}; the CUDA backend needs sm_80 or newer (int8 mma.sync m16n8k32)", p.name, sm)};
  cudaError_t why = cudaSuccess;
  if (cudaSetDevice(0) != cudaSuccess || !cuda::kernel_image_available(&why)) {
    cudaGetLastError();
    return {false, fmt::format("this build has no CUDA kernel image for {} ({}): {}; rebuild with "
                               "-DCMAKE_CUDA_ARCHITECTURES={}{}",
                               p.name, sm, cudaGetErrorString(why), p.major, p.minor)};
  }
  return {true, fmt::format("{}, {}, {} SMs, {:.1f} GiB{}", p.name, sm, p.multiProcessorCount,
                            double(p.totalGlobalMem) / double(1ull << 30),
                            count > 1 ? fmt::format(" (device 0 of {})", count) : std::string())};
}

std::vector<KernelVariant> variants_cuda_backend() {
  // Every variant runs wherever the backend does; the probe asks the driver
  // once per process here, as a listing may be asked for many times.
  static const BackendProbe probe = probe_cuda_backend();
  std::vector<KernelVariant> out;
  for (const cuda::CudaVariant& v : cuda::cuda_variants())
    out.push_back({.name = v.name, .op = v.op, .usable = probe.usable, .why_not = probe.usable ? "" : probe.reason,
                   .is_default = v.is_default});
  return out;
}

}  // namespace bitlab
