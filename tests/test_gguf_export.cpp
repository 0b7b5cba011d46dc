// The peer GGUF dialects (gguf_export.h): each ternary layout round-trips and
// sits where the peers' dequantize code looks for it, the fp16 conversion
// rounds as ggml's does, and bad requests fail before anything is written.
// tests/gguf_read_test.py reads the files back with a reader of its own.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/bn_formats.h"
#include "model/weights/f16_formats.h"
#include "model/weights/gguf_export.h"
#include "model/weights/half.h"
#include "model/weights/synthetic.h"
#include "model/weights/tl2_formats.h"
#include "model/weights/tq_formats.h"
#include "tests/io_test_util.h"

namespace bitlab {
namespace {

CanonicalTernary random_ternary(int64_t n, int64_t k, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int8_t> v(size_t(n * k));
  for (int8_t& x : v) x = int8_t(int(rng() % 3) - 1);
  return pack_ternary("m", n, k, v, scale);
}

using Encode = void (*)(const CanonicalTernary&, float, std::span<uint8_t>);
using Decode = CanonicalTernary (*)(std::string, int64_t, int64_t, std::span<const uint8_t>);
struct Codec {
  const char* name;
  Encode encode;
  Decode decode;
  uint64_t (*bytes)(int64_t, int64_t);
};
uint64_t iq2_bytes(int64_t n, int64_t k) { return uint64_t(n) * iq2_bn_row_bytes(k); }
uint64_t iq1_bytes(int64_t n, int64_t k) { return uint64_t(n) * iq1_bn_row_bytes(k); }
const Codec kCodecs[] = {{"TQ2_0", encode_tq2_0, decode_tq2_0, tq2_0_bytes},
                         {"TQ1_0", encode_tq1_0, decode_tq1_0, tq1_0_bytes},
                         {"F16", encode_f16_ternary, decode_f16_ternary, f16_ternary_bytes},
                         {"IQ2_BN", encode_iq2_bn, decode_iq2_bn, iq2_bytes},
                         {"IQ1_BN", encode_iq1_bn, decode_iq1_bn, iq1_bytes}};

TEST(GgufExport, EveryLayoutRoundTrips) {
  for (const Codec& c : kCodecs) {
    SCOPED_TRACE(c.name);
    const CanonicalTernary w = random_ternary(3, 512, 0.375f, 11);  // 0.375 is exact in fp16
    std::vector<uint8_t> bytes(size_t(c.bytes(w.n, w.k)));
    c.encode(w, w.scale, bytes);
    const CanonicalTernary back = c.decode("m", w.n, w.k, bytes);
    EXPECT_EQ(back.packed, w.packed);
    EXPECT_EQ(back.scale, 0.375f);
  }
}

// Positions from the peers' dequantize loops (ggml-quants.c, iqk_quantize.cpp).
TEST(GgufExport, CodesSitWhereThePeersReadThem) {
  auto one = [](int64_t k, int64_t col, int8_t value) {
    std::vector<int8_t> v(size_t(k), 0);
    v[size_t(col)] = value;
    return pack_ternary("m", 1, k, v, 1.0f);
  };
  {  // TQ2_0: element j in byte 32 * (j / 128) + j % 32, shift 2 * ((j % 128) / 32); code 2 = +1
    std::vector<uint8_t> b(66);
    encode_tq2_0(one(256, 165, 1), 1.0f, b);
    EXPECT_EQ(b[32 + 165 % 32], 0x55 ^ (3 << 2));  // zeros are code 1 (0x55 per byte); +1 is code 2 at shift 2
    uint16_t d;
    std::memcpy(&d, &b[64], 2);
    EXPECT_EQ(d, 0x3c00);
  }
  {  // TQ1_0: element 33 is digit 1 (weight 27) of qs[1]; all others 1 (zero)
    std::vector<uint8_t> b(54);
    encode_tq1_0(one(256, 33, -1), 1.0f, b);
    EXPECT_EQ(b[1], (121 - 27) * 256 / 243 + ((121 - 27) * 256 % 243 != 0));  // 11111 base 3 = 121, less one 27
    EXPECT_EQ(b[0], (121 * 256 + 242) / 243);
    EXPECT_EQ(b[48], (120 * 256 + 242) / 243);  // qh: four 1 digits and a 0: 1111 0 = 120
  }
  {  // IQ2_BN: fp32 row scale, then element j in byte j % 16 at shift 2 * (j / 16)
    std::vector<uint8_t> b(iq2_bn_row_bytes(64));
    encode_iq2_bn(one(64, 37, 1), 0.3f, b);
    float s;
    std::memcpy(&s, b.data(), 4);
    EXPECT_EQ(s, 0.3f);
    EXPECT_EQ(b[4 + 37 % 16], 0x55 ^ (3 << 4));
  }
  {  // IQ1_BN: element 16g + 15 is digit g (least significant first) of extra; element 6 digit 1 of ql[1]
    std::vector<uint8_t> b(iq1_bn_row_bytes(64));
    encode_iq1_bn(one(64, 31, 1), 1.0f, b);  // group 1's last element: extra digit 1 -> 1 + 1 = 2
    EXPECT_EQ(b[2 + 12], ((40 + 3) * 256 + 242) / 243);  // 1111 base 3 (lsd first) = 40, digit 1 one more
    encode_iq1_bn(one(64, 6, -1), 1.0f, b);
    EXPECT_EQ(b[2 + 1], ((121 - 3) * 256 + 242) / 243);
  }
}

TEST(GgufExport, Fp16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);                       // the tie past the largest rounds to infinity
  EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f), 0x3c00);                // tie, to even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);            // tie, to even (up)
  EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001);                       // smallest subnormal
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);                       // tie, to even (zero)
  EXPECT_EQ(f32_to_f16(3 * 0x1p-25f), 0x0002);
  EXPECT_EQ(f32_to_f16(0.1f), 0x2e66);
  for (uint32_t h = 0; h < 0x7c00; ++h) ASSERT_EQ(f32_to_f16(f16_to_f32(uint16_t(h))), h) << h;
  EXPECT_TRUE(exact_in_f16(0.0390625f));
  EXPECT_FALSE(exact_in_f16(0.1f));
}

TEST(GgufExport, DecodersRefuseMixedScales) {
  const CanonicalTernary w = random_ternary(2, 256, 1.0f, 3);
  std::vector<uint8_t> b(tq2_0_bytes(2, 256));
  encode_tq2_0(w, 1.0f, b);
  b[66 + 65] ^= 0x01;  // block 1's d
  EXPECT_THROW(decode_tq2_0("m", 2, 256, b), InputError);
  std::vector<uint8_t> q(iq2_bytes(2, 256));
  encode_iq2_bn(w, 0.5f, q);
  q[iq2_bn_row_bytes(256)] ^= 0x01;  // row 1's scale
  EXPECT_THROW(decode_iq2_bn("m", 2, 256, q), InputError);
}

ModelConfig peer_config() {
  ModelConfig c;
  c.name = "peer";
  c.hidden = 256;
  c.n_layers = 1;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 64;
  c.ffn = 512;
  c.vocab = 64;
  c.max_pos = 64;
  c.bos = 1;
  c.eos = 2;
  return c;
}

template <class F>
std::string usage_error(F f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no UsageError)";
}

TEST(GgufExport, BadRequestsNameTheProblemAndWriteNothing) {
  const std::string path = test::temp_path("bad.gguf");
  const ModelWeights tiny = synthetic_weights(config_by_name("tiny"), 1);
  std::string e = usage_error([&] { export_gguf(tiny, "gguf-q4_k", path); });
  for (const GgufExportFormat& f : gguf_export_formats()) EXPECT_NE(e.find(f.name), std::string::npos) << e;
  e = usage_error([&] { export_gguf(tiny, "gguf-tq2_0", path); });
  EXPECT_NE(e.find("'blk.0.attn_q.weight'"), std::string::npos) << e;
  EXPECT_NE(e.find("256"), std::string::npos) << e;
  e = usage_error([&] { export_gguf(tiny, "gguf-iq1_bn", path); });
  EXPECT_NE(e.find("'blk.0.ffn_down.weight'"), std::string::npos) << e;  // k = 160
  const ModelWeights w = synthetic_weights(peer_config(), 1);
  e = usage_error([&] { export_gguf(w, "gguf-tq1_0", path, nullptr, "bitnet-b1.58"); });
  EXPECT_NE(e.find("'bitnet'"), std::string::npos) << e;
  EXPECT_FALSE(std::filesystem::exists(path));
}

// Where the format cannot hold a scale exactly the summary says so; where the
// architecture reads .scale tensors the file carries them and is exact.
TEST(GgufExport, SummaryTellsWhichScalesAreRounded) {
  ModelWeights w = synthetic_weights(peer_config(), 2);
  w.layers[0].q.scale = 0.0390625f;  // exact in fp16; the synthetic others are not
  const std::string path = test::temp_path("peer.gguf");
  GgufExportSummary s = export_gguf(w, "gguf-iq1_bn", path);
  EXPECT_EQ(s.arch, "bitnet-b1.58");
  EXPECT_TRUE(s.scales_f16);
  EXPECT_EQ(s.ternary_tensors, 7);
  EXPECT_EQ(s.rounded_scales.size(), 6u);
  EXPECT_EQ(s.rounded_scales.front(), "blk.0.attn_k.weight");
  EXPECT_GT(s.max_scale_rel_error, 0.0);
  EXPECT_LT(s.max_scale_rel_error, 0x1p-11);
  EXPECT_NE(s.describe().find("WARNING: 6 of 7 scales rounded"), std::string::npos) << s.describe();
  // The file parses (IQ1_BN's row scales counted in its size) and holds the rows' scale.
  GgufFile g = open_gguf(path);
  const GgufTensor* q = g.tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, uint32_t(GgmlType::IQ1_BN));
  EXPECT_EQ(decode_iq1_bn("q", 256, 256, g.read(*q)).packed, w.layers[0].q.packed);

  s = export_gguf(w, "gguf-iq1_bn", path, nullptr, "bitnet");
  EXPECT_TRUE(s.scale_tensors);
  EXPECT_TRUE(s.exact());
  g = open_gguf(path);
  const GgufTensor* ks = g.tensor("blk.0.attn_k.scale");
  ASSERT_NE(ks, nullptr);
  float scale;
  std::memcpy(&scale, g.read(*ks).data(), 4);
  EXPECT_EQ(scale, w.layers[0].k.scale);
  EXPECT_EQ(decode_iq1_bn("k", 128, 256, g.read(*g.tensor("blk.0.attn_k.weight"))).scale, 1.0f);

  s = export_gguf(w, "gguf-tq2_0", path);
  EXPECT_EQ(s.engines, "llama.cpp");
  EXPECT_NE(s.describe().find("exact in fp32 .scale tensors"), std::string::npos) << s.describe();
  s = export_gguf(w, "gguf-iq2_bn", path);
  EXPECT_TRUE(s.exact());
  EXPECT_FALSE(s.scales_f16);
  g = open_gguf(path);
  EXPECT_EQ(decode_iq2_bn("d", 256, 512, g.read(*g.tensor("blk.0.ffn_down.weight"))).scale, w.layers[0].down.scale);
  std::filesystem::remove(path);
}

TEST(GgufExport, BlockTypeSizesFollowTheRows) {
  const uint64_t dims[] = {512, 3};
  EXPECT_EQ(ggml_tensor_bytes(uint32_t(GgmlType::TQ2_0), dims, "t"), 3u * 2 * 66);
  EXPECT_EQ(ggml_tensor_bytes(uint32_t(GgmlType::TQ1_0), dims, "t"), 3u * 2 * 54);
  EXPECT_EQ(ggml_tensor_bytes(uint32_t(GgmlType::IQ2_BN), dims, "t"), 3u * (4 + 8 * 16));
  EXPECT_EQ(ggml_tensor_bytes(uint32_t(GgmlType::IQ1_BN), dims, "t"), 3u * (2 + 8 * 13));
  const uint64_t odd[] = {320, 4};  // 1280 weights: whole blocks overall, not per row
  EXPECT_THROW(ggml_tensor_bytes(uint32_t(GgmlType::TQ2_0), odd, "t"), InputError);
  EXPECT_EQ(ggml_tensor_bytes(uint32_t(GgmlType::IQ2_BN), odd, "t"), 4u * (4 + 5 * 16));
}

// TL2 (tl2_formats.h): every tiling the export picks round-trips, including
// the 2-weight tail (k % 96 != 0) and several row groups and tiles.
TEST(GgufExportTl2, RoundTripsEveryTiling) {
  const int64_t shapes[][3] = {{64, 256, 64}, {96, 288, 96}, {640, 544, 320}, {640, 2560, 160}};
  for (const auto& [n, k, bm] : shapes) {
    SCOPED_TRACE(fmt::format("[{}, {}]", n, k));
    EXPECT_EQ(tl2_tiling("m", n, k).bm_tile, bm);
    const CanonicalTernary w = random_ternary(n, k, 0.0123f, uint32_t(n + k));
    std::vector<uint8_t> bytes(size_t(tl2_bytes(n, k)));
    encode_tl2(w, w.scale, bytes);
    const CanonicalTernary back = decode_tl2("m", n, k, bytes);
    EXPECT_EQ(back.packed, w.packed);
    EXPECT_EQ(back.scale, 0.0123f);
  }
}

// Hand-placed weights in a [64, 256] matrix (BM 64, BK 96: 192 weights in
// triples, a 64-weight tail in pairs), where the kernels read them.
TEST(GgufExportTl2, BytesSitWhereTheKernelsReadThem) {
  std::vector<int8_t> v(64 * 256, 0);
  v[9 * 256 + 4] = 1;           // row 9, triple 1, middle weight: v = 3
  v[20 * 256 + 0] = -1;         // row 20, triple 0, first weight: v = -9
  v[0 * 256 + 192 + 5] = 1;     // row 0, pair 2 of the tail, second weight: 3*1 + 2 = 5
  v[0 * 256 + 192 + 32] = -1;   // row 0, tail block 1, pair 0: 3*0 + 1 = 1
  const CanonicalTernary w = pack_ternary("m", 64, 256, v, 0.5f);
  std::vector<uint8_t> b(size_t(tl2_bytes(64, 256)));
  ASSERT_EQ(b.size(), 4096u + 32);  // (256 - 256)*64/3*5/8 + 256*64/2*4/8, + 32
  encode_tl2(w, 0.5f, b);
  const size_t signs = 64 * 192 / 6, pairs = signs + 64 * 192 / 24;
  // Magnitudes: byte s of a 32-byte run is row s with quarters 1 and 2 swapped;
  // high nibble the even triple, low nibble the odd one.
  EXPECT_EQ(b[17], 0x03);  // row 9 sits at 17
  EXPECT_EQ(b[12], 0x90);  // row 20 sits at 12
  for (size_t i = 0; i < signs; ++i)
    if (i != 17 && i != 12) {
      ASSERT_EQ(b[i], 0) << i;
    }
  // Signs: word l of a run, bit 15 - j: triple j / 2 of row 16 * (j % 2) + l.
  // Row 20, triple 0: j = 1, l = 4: word 4 (bytes 8, 9), bit 14 = byte 9 bit 6.
  EXPECT_EQ(b[signs + 9], 0x40);
  for (size_t i = signs; i < pairs; ++i)
    if (i != signs + 9) {
      ASSERT_EQ(b[i], 0) << i;
    }
  // Pairs: zero weights are 4 (0x44 a byte); runs of 32 bytes hold 2 pairs, 8 runs per row group and 32-weight block.
  EXPECT_EQ(b[pairs + 32 + 0], 0x54);    // pair 2 = high nibble of run 1, row 0 at byte 0
  EXPECT_EQ(b[pairs + 512 + 0], 0x14);   // block 1 (after 2 row groups of 8 runs), pair 0
  for (size_t i = pairs; i < pairs + 64 * 64 / 4; ++i)
    if (i != pairs + 32 && i != pairs + 512) {
      ASSERT_EQ(b[i], 0x44) << i;
    }
  for (size_t i = pairs + 64 * 64 / 4; i < 4096; ++i) ASSERT_EQ(b[i], 0) << i;
  float s;
  std::memcpy(&s, &b[4096], 4);
  EXPECT_EQ(s, 0.5f);
}

TEST(GgufExportTl2, KernelShapesUseTheGeneratedTiling) {
  // 640 and 6912 rows would get 320 and 288 by the rule for other shapes.
  EXPECT_EQ(tl2_tiling("m", 2560, 2560).bm_tile, 320);
  EXPECT_EQ(tl2_tiling("m", 640, 2560).bm_tile, 160);
  EXPECT_EQ(tl2_tiling("m", 6912, 2560).bm_tile, 256);
  EXPECT_EQ(tl2_tiling("m", 2560, 6912).bm_tile, 160);
  // ggml_nbytes of bitnet.cpp's TL2 for the q/o and down shapes.
  const uint64_t qo[] = {2560, 2560}, down[] = {6912, 2560};
  EXPECT_EQ(ggml_tensor_bytes(uint32_t(GgmlType::TL2), qo, "t"), 1228800u + 163840 + 32);
  EXPECT_EQ(ggml_tensor_bytes(uint32_t(GgmlType::TL2), down, "t"), 3713728u + 32);  // 3549866 + 163840, padded to 32
}

TEST(GgufExportTl2, ShapesTheKernelsCannotTileAreRefused) {
  const int64_t bad[][2] = {{48, 256}, {64, 200}, {64, 272}};  // rows % 32, k < 256, (k % 96) % 32 = 80
  for (const auto& shape : bad) {
    const int64_t n = shape[0], k = shape[1];  // not a structured binding: clang 14 cannot capture those
    const std::string e = usage_error([&] { tl2_tiling("blk.3.ffn_up.weight", n, k); });
    EXPECT_NE(e.find(fmt::format("'blk.3.ffn_up.weight' [{}, {}]", n, k)), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  const std::string path = test::temp_path("bad-tl2.gguf");
  const std::string e = usage_error([&] { export_gguf(synthetic_weights(config_by_name("tiny"), 1), "gguf-tl2", path); });
  EXPECT_NE(e.find("'blk.0.attn_q.weight' [64, 64]"), std::string::npos) << e;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(GgufExportTl2, DecodeRefusesBytesNoWeightsMake) {
  const CanonicalTernary w = random_ternary(64, 256, 1.0f, 5);
  std::vector<uint8_t> b(size_t(tl2_bytes(64, 256)));
  encode_tl2(w, 1.0f, b);
  std::vector<uint8_t> c = b;
  c[0] = 0xe0;  // magnitude 14
  EXPECT_THROW(decode_tl2("m", 64, 256, c), InputError);
  c = b;
  c[4000] = 1;  // padding before the scale
  EXPECT_THROW(decode_tl2("m", 64, 256, c), InputError);
  c = b;
  c[64 * 192 / 6 + 64 * 192 / 24] = 0x49;  // a pair of 9
  EXPECT_THROW(decode_tl2("m", 64, 256, c), InputError);
}

TEST(GgufExportTl2, ExportHoldsTheCodesAndTheScale) {
  const ModelWeights w = synthetic_weights(peer_config(), 4);
  const std::string path = test::temp_path("peer-tl2.gguf");
  const GgufExportSummary s = export_gguf(w, "gguf-tl2", path);
  EXPECT_EQ(s.ggml_type, "TL2");
  EXPECT_TRUE(s.exact());
  GgufFile g = open_gguf(path);
  const GgufTensor* d = g.tensor("blk.0.ffn_down.weight");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->type, uint32_t(GgmlType::TL2));
  const CanonicalTernary down = decode_tl2("d", 256, 512, g.read(*d));
  EXPECT_EQ(down.packed, w.layers[0].down.packed);
  EXPECT_EQ(down.scale, w.layers[0].down.scale);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace bitlab
