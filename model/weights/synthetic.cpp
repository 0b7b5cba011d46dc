#include "model/weights/synthetic.h"

#include <cmath>

#include <fmt/format.h>

#include "model/tensor.h"

namespace bitlab {

namespace {

// Tensor ids in the stream key: one per tensor of the model.
enum TensorId : uint64_t { kEmbedding = 1, kFinalNorm, kLayerBase = 16 };
constexpr uint64_t kTensorsPerLayer = 16;

}  // namespace

CanonicalTernary synthetic_ternary(std::string name, int64_t n, int64_t k, uint64_t key) {
  CanonicalTernary w;
  w.name = std::move(name);
  w.n = n;
  w.k = k;
  const int64_t rb = w.row_bytes();
  w.packed.resize(size_t(n * rb));
  SplitMix64 sg(stream_key(key, ~0ull));
  w.scale = (0.6f + 0.4f * sg.uniform()) / std::sqrt(2.0f * float(k) / 3.0f);

#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    SplitMix64 g(stream_key(key, uint64_t(r)));
    uint8_t* row = w.packed.data() + r * rb;
    uint64_t bits = 0;
    int left = 0;
    for (int64_t b = 0; b < rb; ++b) {
      uint8_t byte = 0;
      for (int j = 0; j < 4; ++j) {
        if (left == 0) { bits = g.next(); left = 8; }
        // (r * 3) >> 8 maps a uniform byte onto {0, 1, 2} with 86/85/85 of 256.
        const uint8_t code = (4 * b + j < k) ? uint8_t(((bits & 0xff) * 3) >> 8) : uint8_t(1);
        bits >>= 8;
        --left;
        byte = uint8_t(byte | (code << (2 * j)));
      }
      row[b] = byte;
    }
  }
  return w;
}

namespace {

std::vector<float> random_norm(int64_t len, uint64_t key) {
  SplitMix64 g(key);
  std::vector<float> v(static_cast<size_t>(len));
  for (float& x : v) x = 0.9f + 0.2f * g.uniform();
  return v;
}

}  // namespace

ModelWeights synthetic_weights(const ModelConfig& c, uint64_t seed, const ProgressFn& progress) {
  c.validate();
  ModelWeights m;
  m.config = c;
  m.source = fmt::format("synthetic:{} seed {}", c.name, seed);

  const size_t emb_bytes = size_t(c.vocab * c.hidden) * 2;
  const size_t layer_bytes = size_t(c.ternary_params_per_layer() / 4);
  const size_t total = emb_bytes + layer_bytes * size_t(c.n_layers);
  size_t done = 0;
  auto report = [&](size_t add) {
    done += add;
    if (progress) progress(done, total);
  };

  auto emb = std::make_shared<std::vector<uint16_t>>(size_t(c.vocab * c.hidden));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < c.vocab; ++r) {
    SplitMix64 g(stream_key(seed, kEmbedding, uint64_t(r)));
    uint16_t* row = emb->data() + r * c.hidden;
    for (int64_t i = 0; i < c.hidden; ++i) row[i] = f32_to_bf16(0.05f * g.normal());
  }
  m.embedding.data = std::span<const uint16_t>(*emb);
  m.embedding.owner = std::move(emb);
  m.final_norm = random_norm(c.hidden, stream_key(seed, kFinalNorm));
  report(emb_bytes);

  m.layers.resize(size_t(c.n_layers));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = m.layers[size_t(l)];
    const uint64_t base = kLayerBase + uint64_t(l) * kTensorsPerLayer;
    auto key = [&](uint64_t t) { return stream_key(seed, base + t); };
    auto name = [&](const char* t) { return fmt::format("layers.{}.{}", l, t); };
    L.attn_norm = random_norm(c.hidden, key(0));
    L.attn_sub_norm = random_norm(c.hidden, key(1));
    L.ffn_norm = random_norm(c.hidden, key(2));
    L.ffn_sub_norm = random_norm(c.ffn, key(3));
    L.q = synthetic_ternary(name("attn.q"), c.q_dim(), c.hidden, key(4));
    L.k = synthetic_ternary(name("attn.k"), c.kv_dim(), c.hidden, key(5));
    L.v = synthetic_ternary(name("attn.v"), c.kv_dim(), c.hidden, key(6));
    L.o = synthetic_ternary(name("attn.o"), c.hidden, c.q_dim(), key(7));
    L.gate = synthetic_ternary(name("ffn.gate"), c.ffn, c.hidden, key(8));
    L.up = synthetic_ternary(name("ffn.up"), c.ffn, c.hidden, key(9));
    L.down = synthetic_ternary(name("ffn.down"), c.hidden, c.ffn, key(10));
    report(layer_bytes);
  }
  return m;
}

}  // namespace bitlab
