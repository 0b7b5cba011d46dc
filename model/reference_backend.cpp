#include "model/reference_backend.h"

#include <cstring>

#include "model/host_tensor.h"
#include "model/reference.h"

namespace bitlab {
namespace {

class ReferenceBackend final : public Backend {
 public:
  ReferenceBackend() {
    info_.backend = "reference";
    info_.kind = "cpu";
    info_.name = "oracle (model/reference)";
    info_.variant = "reference";
    info_.threads = 1;
  }
  const DeviceInfo& info() const override { return info_; }
  std::shared_ptr<Buffer> alloc(size_t bytes) override { return std::make_shared<HostBuffer>(bytes); }

  TernaryWeight upload(std::span<const CanonicalTernary* const> parts) override {
    TernaryWeight w;
    ternary_parts(parts, w);
    const int64_t rb = (w.k + 3) / 4;
    w.packed = new_tensor(DType::I8, {w.n, rb});  // canonical rows, parts stacked along N
    uint8_t* dst = host_ptr<uint8_t>(w.packed);
    for (const CanonicalTernary* p : parts) {
      std::memcpy(dst, p->packed.data(), p->packed.size());
      dst += p->packed.size();
    }
    return w;
  }

 protected:
  void embed_impl(const Tensor& tokens, const Tensor& table, Tensor& out) override {
    ref::embed(host_ptr<int32_t>(tokens), tokens.shape.rows, host_ptr<uint16_t>(table), table.shape.rows,
               table.shape.cols, host_ptr<float>(out));
  }
  void rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) override {
    ref::rmsnorm(host_ptr<float>(x), host_ptr<float>(w), x.shape.rows, x.shape.cols, eps, host_ptr<float>(y));
  }
  void quantize_act_impl(const Tensor& x, QuantAct& q) override {
    ref::quantize_act(host_ptr<float>(x), x.shape.rows, x.shape.cols, host_ptr<int8_t>(q.q),
                      host_ptr<float>(q.scale));
  }
  void matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) override {
    const int64_t rb = (w.k + 3) / 4;
    const uint8_t* packed = host_ptr<uint8_t>(w.packed);
    for (size_t p = 0; p < y.size(); ++p) {
      ref::matmul_w2a8(host_ptr<int8_t>(x.q), host_ptr<float>(x.scale), x.q.shape.rows,
                       packed + w.part_offset(p) * rb, w.part_rows[p], w.k, w.scales[p], host_ptr<float>(y[p]),
                       y[p].shape.cols);
    }
  }
  void rope_impl(Tensor& x, const RopeParams& p) override { ref::rope(host_ptr<float>(x), x.shape.rows, p); }
  void attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                      Tensor& out) override {
    const int64_t kvd = k.shape.cols, t = q.shape.rows;
    std::memcpy(host_ptr<float>(cache.k) + p.pos0 * kvd, host_ptr<float>(k), size_t(t * kvd) * 4);
    std::memcpy(host_ptr<float>(cache.v) + p.pos0 * kvd, host_ptr<float>(v), size_t(t * kvd) * 4);
    ref::attention(host_ptr<float>(q), host_ptr<float>(cache.k), host_ptr<float>(cache.v), t, p,
                   host_ptr<float>(out));
  }
  void relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) override {
    ref::relu2_mul(host_ptr<float>(g), host_ptr<float>(u), g.shape.numel(), host_ptr<float>(y));
  }
  void add_impl(const Tensor& a, const Tensor& b, Tensor& y) override {
    ref::add(host_ptr<float>(a), host_ptr<float>(b), a.shape.numel(), host_ptr<float>(y));
  }
  void lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) override {
    ref::lm_head(host_ptr<float>(x), x.shape.rows, host_ptr<uint16_t>(table), table.shape.rows, table.shape.cols,
                 host_ptr<float>(logits));
  }
  void lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) override {
    ref::lm_head_i8(host_ptr<int8_t>(x.q), host_ptr<float>(x.scale), x.q.shape.rows, host_ptr<int8_t>(table.q),
                    host_ptr<float>(table.scale), table.q.shape.rows, table.q.shape.cols, host_ptr<float>(logits));
  }
  void argmax_impl(const Tensor& logits, Tensor& ids) override {
    ref::argmax(host_ptr<float>(logits), logits.shape.rows, logits.shape.cols, host_ptr<int32_t>(ids));
  }

 private:
  DeviceInfo info_;
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend(const BackendOptions&) { return std::make_unique<ReferenceBackend>(); }

}  // namespace bitlab
