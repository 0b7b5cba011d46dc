#include "model/weights/canonical.h"

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/digest.h"

namespace bitlab {

void CanonicalTernary::validate() const {
  if (n <= 0 || k <= 0) throw InputError(fmt::format("ternary matrix '{}': bad shape [{}, {}]", name, n, k));
  if (packed.size() != size_t(n * row_bytes()))
    throw InputError(fmt::format("ternary matrix '{}': {} packed bytes, expected {} for shape [{}, {}]", name,
                                 packed.size(), n * row_bytes(), n, k));
  for (size_t i = 0; i < packed.size(); ++i) {
    const uint8_t b = packed[i];
    if (has_code3(b))
      throw InputError(fmt::format("ternary matrix '{}': invalid code 3 in byte {} (row {})", name, i,
                                   int64_t(i) / row_bytes()));
  }
  if (k % 4 != 0) {
    // Codes past k must be 1 (zero weight) so whole-byte kernels may read them.
    const uint8_t tail_mask = uint8_t(0xff << (2 * (k % 4)));
    for (int64_t r = 0; r < n; ++r)
      if ((row(r)[row_bytes() - 1] & tail_mask) != (kZeroCodeByte & tail_mask))
        throw InputError(fmt::format("ternary matrix '{}': row {} has non-zero codes past column {}", name, r, k));
  }
  if (!(scale == scale) || scale == 0.0f)
    throw InputError(fmt::format("ternary matrix '{}': weight scale {} is not usable", name, scale));
}

CanonicalTernary zero_ternary(std::string name, int64_t n, int64_t k, float scale) {
  CanonicalTernary w;
  w.name = std::move(name);
  w.n = n;
  w.k = k;
  w.scale = scale;
  w.packed.assign(size_t(n * w.row_bytes()), kZeroCodeByte);
  return w;
}

CanonicalTernary pack_ternary(std::string name, int64_t n, int64_t k, std::span<const int8_t> values, float scale) {
  if (values.size() != size_t(n * k))
    throw UsageError(fmt::format("pack_ternary '{}': {} values for shape [{}, {}]", name, values.size(), n, k));
  CanonicalTernary w = zero_ternary(std::move(name), n, k, scale);
  const int64_t rb = w.row_bytes();
  for (int64_t r = 0; r < n; ++r) {
    uint8_t* row = w.packed.data() + r * rb;
    for (int64_t i = 0; i < k; ++i) {
      const int8_t t = values[size_t(r * k + i)];
      if (t < -1 || t > 1)
        throw UsageError(fmt::format("pack_ternary '{}': value {} at [{}, {}] is not ternary", w.name, t, r, i));
      set_code(row, i, unsigned(t + 1));
    }
  }
  return w;
}

std::vector<int8_t> unpack_ternary(const CanonicalTernary& w) {
  std::vector<int8_t> out(static_cast<size_t>(w.n * w.k));
  for (int64_t r = 0; r < w.n; ++r)
    for (int64_t i = 0; i < w.k; ++i) out[size_t(r * w.k + i)] = w.at(r, i);
  return out;
}

void ModelWeights::validate() const {
  const ModelConfig& c = config;
  c.validate();
  if (embedding.data.size() != size_t(c.vocab * c.hidden))
    throw InputError(fmt::format("embedding: {} elements, expected {} x {}", embedding.data.size(), c.vocab, c.hidden));
  if (final_norm.size() != size_t(c.hidden)) throw InputError("final_norm: wrong length");
  if (layers.size() != size_t(c.n_layers))
    throw InputError(fmt::format("{} layers, config says {}", layers.size(), c.n_layers));
  for (size_t l = 0; l < layers.size(); ++l) {
    const LayerWeights& L = layers[l];
    auto vec = [&](const std::vector<float>& v, int64_t len, const char* what) {
      if (v.size() != size_t(len))
        throw InputError(fmt::format("layers.{}.{}: {} elements, expected {}", l, what, v.size(), len));
    };
    vec(L.attn_norm, c.hidden, "attn_norm");
    vec(L.attn_sub_norm, c.hidden, "attn_sub_norm");
    vec(L.ffn_norm, c.hidden, "ffn_norm");
    vec(L.ffn_sub_norm, c.ffn, "ffn_sub_norm");
    auto mat = [&](const CanonicalTernary& w, int64_t n, int64_t k) {
      if (w.n != n || w.k != k)
        throw InputError(fmt::format("{}: shape [{}, {}], expected [{}, {}]", w.name, w.n, w.k, n, k));
      if (w.packed.size() != size_t(n * w.row_bytes()))
        throw InputError(fmt::format("{}: {} packed bytes, expected {}", w.name, w.packed.size(), n * w.row_bytes()));
    };
    mat(L.q, c.q_dim(), c.hidden);
    mat(L.k, c.kv_dim(), c.hidden);
    mat(L.v, c.kv_dim(), c.hidden);
    mat(L.o, c.hidden, c.q_dim());
    mat(L.gate, c.ffn, c.hidden);
    mat(L.up, c.ffn, c.hidden);
    mat(L.down, c.hidden, c.ffn);
  }
}

size_t ModelWeights::ternary_bytes() const {
  size_t b = 0;
  for (const LayerWeights& L : layers)
    for (const CanonicalTernary* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) b += w->packed.size();
  return b;
}

uint64_t ModelWeights::digest() const {
  Digest d;
  d.add(std::as_bytes(embedding.data));
  d.add(std::as_bytes(std::span(final_norm)));
  for (const LayerWeights& L : layers) {
    for (const auto* v : {&L.attn_norm, &L.attn_sub_norm, &L.ffn_norm, &L.ffn_sub_norm})
      d.add(std::as_bytes(std::span(*v)));
    for (const CanonicalTernary* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) {
      d.add(std::as_bytes(std::span(w->packed)));
      d.add(std::as_bytes(std::span(&w->scale, 1)));
    }
  }
  return d.value();
}

}  // namespace bitlab
