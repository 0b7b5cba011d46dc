// Canonical packing, validation of bad weights, model configs and the
// synthetic generator's determinism and statistics.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "model/config.h"
#include "model/error.h"
#include "model/weights/canonical.h"
#include "model/weights/synthetic.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

TEST(Canonical, PackUnpackRoundTrip) {
  for (int64_t n : {1, 3, 17}) {
    for (int64_t k : {1, 2, 3, 4, 5, 63, 130}) {
      const auto values = test::random_ternary(size_t(n * k), uint64_t(n * 100 + k));
      const CanonicalTernary w = pack_ternary("w", n, k, values, 1.0f);
      EXPECT_EQ(w.packed.size(), size_t(n * ((k + 3) / 4)));
      EXPECT_NO_THROW(w.validate());
      EXPECT_EQ(unpack_ternary(w), values) << "n=" << n << " k=" << k;
      for (int64_t r = 0; r < n; ++r)
        for (int64_t i = 0; i < k; ++i) ASSERT_EQ(w.at(r, i), values[size_t(r * k + i)]);
    }
  }
}

TEST(Canonical, BitPositionsFollowTheFormat) {
  // Element i of a row sits in bits 2*(i%4) of byte i/4 as T+1.
  const CanonicalTernary w = pack_ternary("w", 1, 5, std::vector<int8_t>{-1, 0, 1, 1, 1}, 1.0f);
  ASSERT_EQ(w.packed.size(), 2u);
  EXPECT_EQ(w.packed[0], uint8_t(0 | 1 << 2 | 2 << 4 | 2 << 6));
  EXPECT_EQ(w.packed[1], uint8_t(2 | 1 << 2 | 1 << 4 | 1 << 6));  // tail codes are 1 (zero weights)
}

TEST(Canonical, ValidationNamesTheBrokenMatrix) {
  CanonicalTernary w = pack_ternary("layers.0.attn.q", 2, 6, test::random_ternary(12, 1), 1.0f);
  CanonicalTernary bad = w;
  bad.packed[0] |= 0x03;  // code 3
  try {
    bad.validate();
    FAIL() << "code 3 accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("layers.0.attn.q"), std::string::npos);
  }
  bad = w;
  bad.packed[1] = uint8_t((bad.packed[1] & 0x0f) | 0x80);  // a non-zero code past k = 6
  EXPECT_THROW(bad.validate(), InputError);
  bad = w;
  bad.packed.resize(3);
  EXPECT_THROW(bad.validate(), InputError);
  bad = w;
  bad.scale = NAN;
  EXPECT_THROW(bad.validate(), InputError);
  EXPECT_THROW(pack_ternary("w", 1, 2, std::vector<int8_t>{2, 0}, 1.0f), UsageError);
  EXPECT_THROW(pack_ternary("w", 1, 3, std::vector<int8_t>{0, 0}, 1.0f), UsageError);
}

TEST(Config, Bitnet2b4tMatchesTheRelease) {
  const ModelConfig c = bitnet_2b4t();
  EXPECT_NO_THROW(c.validate());
  EXPECT_EQ(c.hidden, 2560);
  EXPECT_EQ(c.n_layers, 30);
  EXPECT_EQ(c.n_heads, 20);
  EXPECT_EQ(c.n_kv_heads, 5);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.ffn, 6912);
  EXPECT_EQ(c.vocab, 128256);
  EXPECT_EQ(c.max_pos, 4096);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(c.bos, 128000);
  EXPECT_EQ(c.eos, 128001);
  // About 2.08e9 ternary weights: 0.52 GB at 2 bits.
  EXPECT_EQ(c.ternary_params_per_layer() * c.n_layers, int64_t(30) * (2560 * 3840 + 2560 * 2560 + 3 * 2560 * 6912));
}

TEST(Config, SmallConfigsAndLookup) {
  for (const std::string& name : config_names()) EXPECT_NO_THROW(config_by_name(name).validate()) << name;
  const ModelConfig one = bitnet_2b4t_1layer();
  EXPECT_EQ(one.n_layers, 1);
  EXPECT_EQ(one.hidden, 2560);
  EXPECT_EQ(one.ffn, 6912);
  EXPECT_THROW(config_by_name("7b"), UsageError);
  ModelConfig c = tiny_config();
  c.n_kv_heads = 3;  // 4 heads cannot share 3 KV heads
  EXPECT_THROW(c.validate(), UsageError);
}

TEST(Synthetic, SameSeedSameBytesDifferentSeedDifferent) {
  const ModelConfig c = tiny_config();
  const uint64_t a = synthetic_weights(c, 1).digest();
  EXPECT_EQ(a, synthetic_weights(c, 1).digest());
  EXPECT_NE(a, synthetic_weights(c, 2).digest());
}

TEST(Synthetic, BytesDoNotDependOnThreadCount) {
  const ModelConfig c = tiny_config();
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const uint64_t one = synthetic_weights(c, 7).digest();
  omp_set_num_threads(3);
  const uint64_t three = synthetic_weights(c, 7).digest();
  omp_set_num_threads(before);
  EXPECT_EQ(one, three);
}

TEST(Synthetic, ShapesAndStatistics) {
  const ModelConfig c = bitnet_2b4t_1layer();
  const ModelWeights w = synthetic_weights(c, 3);
  EXPECT_NO_THROW(w.validate());
  const LayerWeights& L = w.layers[0];
  for (const CanonicalTernary* m : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) {
    EXPECT_NO_THROW(m->validate());
    int64_t counts[3] = {0, 0, 0};
    for (int64_t r = 0; r < m->n; r += 7)
      for (int64_t i = 0; i < m->k; ++i) ++counts[m->at(r, i) + 1];
    const double total = double(counts[0] + counts[1] + counts[2]);
    for (int64_t cnt : counts) EXPECT_NEAR(double(cnt) / total, 1.0 / 3.0, 0.01) << m->name;
    // weight_scale ≈ 0.8 / sqrt(2k/3), drawn in [0.6, 1.0] / sqrt(2k/3).
    const double unit = std::sqrt(2.0 * double(m->k) / 3.0);
    EXPECT_GE(m->scale * unit, 0.6 - 1e-6) << m->name;
    EXPECT_LE(m->scale * unit, 1.0 + 1e-6) << m->name;
  }
  double sum = 0, sum_sq = 0;
  for (uint16_t b : w.embedding.data) {
    const double x = bf16_to_f32(b);
    sum += x;
    sum_sq += x * x;
  }
  const double n = double(w.embedding.data.size());
  EXPECT_NEAR(sum / n, 0.0, 1e-3);
  EXPECT_NEAR(std::sqrt(sum_sq / n), 0.05, 0.002);
  for (float x : L.attn_norm) {
    EXPECT_GE(x, 0.9f);
    EXPECT_LE(x, 1.1f);
  }
}

TEST(SyntheticFull, FullModelSizes) {
  // The full 2B4T must be generated in seconds; here only its sizes are checked
  // (speed belongs to benchmarks): 0.52 GB ternary + 0.66 GB bf16 embedding.
  const ModelWeights w = synthetic_weights(bitnet_2b4t(), 1);
  EXPECT_EQ(w.ternary_bytes(), size_t(30) * (2560 * 3840 + 2560 * 2560 + 3 * 2560 * 6912) / 4);
  EXPECT_EQ(w.embedding.data.size_bytes(), size_t(128256) * 2560 * 2);
  EXPECT_NO_THROW(w.validate());
}

}  // namespace
}  // namespace bitlab
