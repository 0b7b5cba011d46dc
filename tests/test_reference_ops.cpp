// The oracle itself, on small cases worked by hand from docs/design.md §2.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "model/error.h"
#include "model/reference.h"
#include "model/weights/canonical.h"

namespace bitlab {
namespace {

TEST(ReferenceQuantize, RoundsHalfToEven) {
  // absmax 127 makes s exactly 1, so q = round_half_even(x).
  const std::vector<float> x = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, 3.49f};
  std::vector<int8_t> q(x.size());
  float s = 0;
  ref::quantize_act(x.data(), 1, int64_t(x.size()), q.data(), &s);
  EXPECT_EQ(s, 1.0f);
  EXPECT_EQ(q, (std::vector<int8_t>{127, 0, 2, 2, 0, -2, -2, 126, 3}));
}

TEST(ReferenceQuantize, ScaleComesFromAbsmax) {
  // absmax 2.54 (negative side): s = 127 / 2.54 = 50; 1.0 -> 50, -2.54 -> -127, 0.1 -> 5.
  const std::vector<float> x = {1.0f, -2.54f, 0.1f};
  std::vector<int8_t> q(3);
  float s = 0;
  ref::quantize_act(x.data(), 1, 3, q.data(), &s);
  EXPECT_EQ(s, 127.0f / 2.54f);
  EXPECT_EQ(q, (std::vector<int8_t>{50, -127, 5}));
}

TEST(ReferenceQuantize, AllZeroRowUsesClampedAbsmax) {
  const std::vector<float> zeros(5, 0.0f);
  std::vector<int8_t> q(5, 99);
  float s = 0;
  ref::quantize_act(zeros.data(), 1, 5, q.data(), &s);
  EXPECT_EQ(s, 127.0f / 1e-5f);
  EXPECT_EQ(q, std::vector<int8_t>(5, 0));
  // Below the clamp the scale stays 127/1e-5: 1e-6 * 1.27e7 = 12.7 -> 13, -2e-6 -> -25.4 -> -25.
  const std::vector<float> tiny = {1e-6f, -2e-6f};
  ref::quantize_act(tiny.data(), 1, 2, q.data(), &s);
  EXPECT_EQ(s, 127.0f / 1e-5f);
  EXPECT_EQ(q[0], 13);
  EXPECT_EQ(q[1], -25);
}

TEST(ReferenceQuantize, ClampsAtInt8Range) {
  EXPECT_EQ(ref::quantize_one(200.0f, 1.0f), 127);
  EXPECT_EQ(ref::quantize_one(127.5f, 1.0f), 127);  // rounds to 128, clamps
  EXPECT_EQ(ref::quantize_one(-128.4f, 1.0f), -128);
  EXPECT_EQ(ref::quantize_one(-300.0f, 1.0f), -128);
  EXPECT_EQ(ref::quantize_one(-127.5f, 1.0f), -128);  // half to even: -128 stays in range
}

// The non-finite rule (model/reference.h) that every backend's quantiser shares.
uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

TEST(ReferenceQuantize, NaNRowGetsCanonicalNaNScaleAndZeroCodes) {
  // A NaN of any sign and payload, anywhere, even next to an Inf.
  for (const float nan : {NAN, -NAN, float_of(0xffc00001u), float_of(0x7f800001u)}) {
    for (size_t at : {size_t(0), size_t(2), size_t(4)}) {
      std::vector<float> x = {100.0f, -3.0f, 0.5f, INFINITY, 7.0f};
      x[at] = nan;
      std::vector<int8_t> q(x.size(), 99);
      float s = 1.0f;
      ref::quantize_act(x.data(), 1, int64_t(x.size()), q.data(), &s);
      EXPECT_EQ(bits_of(s), 0x7fc00000u) << "NaN " << std::hex << bits_of(nan) << " at " << at;
      EXPECT_EQ(q, std::vector<int8_t>(x.size(), 0));
      EXPECT_TRUE(std::isnan(ref::act_absmax(x.data(), int64_t(x.size()))));
    }
  }
}

TEST(ReferenceQuantize, InfRowGetsZeroScaleAndZeroCodes) {
  for (const float inf : {INFINITY, -INFINITY}) {
    const std::vector<float> x = {1.0f, inf, -2.0f, 0.0f};
    std::vector<int8_t> q(x.size(), 99);
    float s = 1.0f;
    ref::quantize_act(x.data(), 1, 4, q.data(), &s);
    EXPECT_EQ(bits_of(s), 0u) << "+0, not -0";
    EXPECT_EQ(q, std::vector<int8_t>(4, 0));
    EXPECT_EQ(ref::act_absmax(x.data(), 4), INFINITY);
  }
}

TEST(ReferenceQuantize, NaNProductQuantisesToZero) {
  EXPECT_EQ(ref::quantize_one(NAN, 1.0f), 0);
  EXPECT_EQ(ref::quantize_one(1.0f, NAN), 0);
  EXPECT_EQ(ref::quantize_one(INFINITY, 0.0f), 0);   // Inf * 0 = NaN
  EXPECT_EQ(ref::quantize_one(-5.0f, 0.0f), 0);      // -0
  EXPECT_EQ(ref::quantize_one(INFINITY, 1.0f), 127);  // an infinite product clamps
  EXPECT_EQ(ref::quantize_one(-INFINITY, 1.0f), -128);
}

TEST(ReferenceQuantize, PoisonedRowMakesTheWholeMatmulRowNaN) {
  // Rows: a NaN, an Inf, and a finite one; every output of the first two is NaN.
  const std::vector<float> x = {1.0f, NAN, 2.0f, 3.0f, -INFINITY, 4.0f, 127.0f, -1.0f, 0.0f};
  std::vector<int8_t> xq(9);
  std::vector<float> s(3);
  ref::quantize_act(x.data(), 3, 3, xq.data(), s.data());
  const std::vector<int8_t> t = {1, -1, 0, 0, 1, 1};
  const CanonicalTernary w = pack_ternary("w", 2, 3, t, 0.5f);
  std::vector<float> y(6);
  ref::matmul_w2a8(xq.data(), s.data(), 3, w.packed.data(), 2, 3, w.scale, y.data(), 2);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(std::isnan(y[size_t(i)])) << "output " << i;
  EXPECT_EQ(y[4], 128.0f * 0.5f);  // s = 1: 127 - (-1) = 128
  EXPECT_EQ(y[5], -1.0f * 0.5f);
}

TEST(ReferenceRmsnorm, NonFiniteRowsPoisonTheQuantisedNorm) {
  // A NaN makes every normalised value NaN; an Inf makes itself NaN (Inf * 0)
  // and the rest zero. Either way rmsnorm + quantize_act gives s = NaN, codes 0.
  const std::vector<float> x = {1.0f, NAN, -2.0f, 3.0f, INFINITY, -2.0f}, w = {1.0f, 2.0f, 3.0f};
  std::vector<float> y(6);
  ref::rmsnorm(x.data(), w.data(), 2, 3, 1e-5f, y.data());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(std::isnan(y[size_t(i)])) << i;
  EXPECT_EQ(y[3], 0.0f);
  EXPECT_TRUE(std::isnan(y[4]));
  EXPECT_EQ(y[5], 0.0f);
  std::vector<int8_t> q(6, 99);
  std::vector<float> s(2);
  ref::quantize_act(y.data(), 2, 3, q.data(), s.data());
  EXPECT_EQ(bits_of(s[0]), 0x7fc00000u);
  EXPECT_EQ(bits_of(s[1]), 0x7fc00000u);
  EXPECT_EQ(q, std::vector<int8_t>(6, 0));
}

TEST(ReferenceMatmul, HandWorkedDotAndEpilogue) {
  // T = [1, -1, 0, 1, 1], x = [3, 5, 7, -2, 10]: 3 - 5 + 0 - 2 + 10 = 6.
  const std::vector<int8_t> t = {1, -1, 0, 1, 1};
  const CanonicalTernary w = pack_ternary("w", 1, 5, t, 0.5f);
  const std::vector<int8_t> x = {3, 5, 7, -2, 10};
  EXPECT_EQ(ref::ternary_dot(w.row(0), x.data(), 5), 6);
  const float s = 4.0f;
  float y = 0;
  ref::matmul_w2a8(x.data(), &s, 1, w.packed.data(), 1, 5, w.scale, &y, 1);
  EXPECT_EQ(y, 6.0f / 4.0f * 0.5f);
}

TEST(ReferenceMatmul, ExtremeAccumulatorIsExact) {
  // 6912 weights of +1 against -128 each: -884736, well inside int32 and exact in fp32.
  const int64_t k = 6912;
  const CanonicalTernary w = pack_ternary("w", 1, k, std::vector<int8_t>(size_t(k), 1), 1.0f);
  const std::vector<int8_t> x(size_t(k), -128);
  EXPECT_EQ(ref::ternary_dot(w.row(0), x.data(), k), -884736);
}

TEST(ReferenceRmsnorm, UnitRmsReturnsTheWeight) {
  const std::vector<float> x = {1, -1, 1, -1}, w = {1, 2, 3, 4};
  std::vector<float> y(4);
  ref::rmsnorm(x.data(), w.data(), 1, 4, 0.0f, y.data());
  EXPECT_EQ(y, (std::vector<float>{1, -2, 3, -4}));
  ref::rmsnorm(x.data(), w.data(), 1, 4, 1e-5f, y.data());
  EXPECT_FLOAT_EQ(y[3], float(-4.0 / std::sqrt(1.0 + double(1e-5f))));
}

TEST(ReferenceRope, PositionZeroIsIdentity) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<float> before = x;
  ref::rope(x.data(), 1, RopeParams{2, 4, 0, 10000.0});
  EXPECT_EQ(x, before);
}

TEST(ReferenceRope, LargePositionRotatesPairsIPlusHalf) {
  // head_dim 4, theta 10000: dim 0 pairs with dim 2 at frequency 1, dim 1 with dim 3 at 10000^-0.5.
  std::vector<float> x = {1, 0, 0, 2};
  const int64_t pos = 4000;
  ref::rope(x.data(), 1, RopeParams{1, 4, pos, 10000.0});
  const double a0 = double(pos), a1 = double(pos) * std::pow(10000.0, -0.5);
  EXPECT_FLOAT_EQ(x[0], float(std::cos(a0)));
  EXPECT_FLOAT_EQ(x[2], float(std::sin(a0)));
  EXPECT_FLOAT_EQ(x[1], float(-2.0 * std::sin(a1)));
  EXPECT_FLOAT_EQ(x[3], float(2.0 * std::cos(a1)));
  // A rotation keeps each pair's length.
  EXPECT_NEAR(double(x[0]) * x[0] + double(x[2]) * x[2], 1.0, 1e-6);
  EXPECT_NEAR(double(x[1]) * x[1] + double(x[3]) * x[3], 4.0, 1e-6);
}

TEST(ReferenceAttention, CausalMaskHidesFuturePositions) {
  // One head of dim 2; keys identical, so an unmasked row averages the values.
  const std::vector<float> q = {1, 0, 1, 0};
  const std::vector<float> k = {1, 0, 1, 0};
  const std::vector<float> v = {2, 0, 0, 4};
  std::vector<float> out(4);
  ref::attention(q.data(), k.data(), v.data(), 2, AttentionParams{1, 1, 2, 0}, out.data());
  EXPECT_EQ(out[0], 2.0f);  // row 0 sees only position 0
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[2], 1.0f);  // row 1 sees both, equal weights
  EXPECT_EQ(out[3], 2.0f);
}

TEST(ReferenceAttention, SoftmaxWeightsFollowScores) {
  // Scores q·k/sqrt(2): 0 for key 0, 2/sqrt(2) for key 1; weights e^0 : e^sqrt(2).
  const std::vector<float> q = {2, 0};
  const std::vector<float> k = {0, 1, 1, 0};
  const std::vector<float> v = {1, 0, 0, 1};
  std::vector<float> out(2);
  ref::attention(q.data(), k.data(), v.data(), 1, AttentionParams{1, 1, 2, 1}, out.data());
  const double w1 = std::exp(std::sqrt(2.0)), sum = 1.0 + w1;
  EXPECT_FLOAT_EQ(out[0], float(1.0 / sum));
  EXPECT_FLOAT_EQ(out[1], float(w1 / sum));
}

TEST(ReferenceAttention, GroupedQueryHeadMapping) {
  // 4 query heads over 2 KV heads, head_dim 1, one position: head h reads KV head h / 2.
  const std::vector<float> q = {1, 1, 1, 1}, k = {1, 1}, v = {10, 20};
  std::vector<float> out(4);
  ref::attention(q.data(), k.data(), v.data(), 1, AttentionParams{4, 2, 1, 0}, out.data());
  EXPECT_EQ(out, (std::vector<float>{10, 10, 20, 20}));
}

TEST(ReferenceElementwise, Relu2MulAndAdd) {
  const std::vector<float> g = {-1, 2, 0.5f}, u = {5, 3, 4};
  std::vector<float> y(3);
  ref::relu2_mul(g.data(), u.data(), 3, y.data());
  EXPECT_EQ(y, (std::vector<float>{0, 12, 1}));
  ref::add(g.data(), u.data(), 3, y.data());
  EXPECT_EQ(y, (std::vector<float>{4, 5, 4.5f}));
}

TEST(ReferenceHead, EmbedLmHeadArgmax) {
  // bf16 rows [1,0], [0,1], [1,1]; x = [2,3] -> logits [2, 3, 5].
  const std::vector<uint16_t> table = {f32_to_bf16(1), f32_to_bf16(0), f32_to_bf16(0),
                                       f32_to_bf16(1), f32_to_bf16(1), f32_to_bf16(1)};
  const std::vector<float> x = {2, 3};
  std::vector<float> logits(3);
  ref::lm_head(x.data(), 1, table.data(), 3, 2, logits.data());
  EXPECT_EQ(logits, (std::vector<float>{2, 3, 5}));
  int32_t id = -1;
  ref::argmax(logits.data(), 1, 3, &id);
  EXPECT_EQ(id, 2);
  const int32_t tok = 1;
  std::vector<float> e(2);
  ref::embed(&tok, 1, table.data(), 3, 2, e.data());
  EXPECT_EQ(e, (std::vector<float>{0, 1}));
  const int32_t bad = 3;
  EXPECT_THROW(ref::embed(&bad, 1, table.data(), 3, 2, e.data()), UsageError);
}

TEST(ReferenceHead, Int8HeadHandWorked) {
  // Row [0.5, -1, 0.25]: absmax 1, s_v = 127, q = [63.5 -> 64 (half to even), -127, 31.75 -> 32].
  // x = [2, -1, 0.5]: s_x = 63.5, xq = [127, -63.5 -> -64, 31.75 -> 32].
  const std::vector<uint16_t> table = {f32_to_bf16(0.5f), f32_to_bf16(-1.0f), f32_to_bf16(0.25f)};
  std::vector<int8_t> q(3);
  float sv = 0;
  ref::quantize_head(table.data(), 1, 3, q.data(), &sv);
  EXPECT_EQ(q, (std::vector<int8_t>{64, -127, 32}));
  EXPECT_EQ(sv, 127.0f);
  const std::vector<float> x = {2.0f, -1.0f, 0.5f};
  std::vector<int8_t> xq(3);
  float sx = 0;
  ref::quantize_act(x.data(), 1, 3, xq.data(), &sx);
  EXPECT_EQ(xq, (std::vector<int8_t>{127, -64, 32}));
  // acc = 64*127 + (-127)(-64) + 32*32 = 17280, then two divisions.
  float logit = 0;
  ref::lm_head_i8(xq.data(), &sx, 1, q.data(), &sv, 1, 3, &logit);
  EXPECT_EQ(logit, 17280.0f / 63.5f / 127.0f);
  EXPECT_NEAR(logit, 0.5 * 2 + 1 + 0.125, 0.02);  // close to the float dot product, 2.125
}

TEST(ReferenceHead, ArgmaxTiesAndNaN) {
  const std::vector<float> ties = {1, 3, 3, 2};
  int32_t id = -1;
  ref::argmax(ties.data(), 1, 4, &id);
  EXPECT_EQ(id, 1);
  const std::vector<float> with_nan = {NAN, 1, 2, NAN};
  ref::argmax(with_nan.data(), 1, 4, &id);
  EXPECT_EQ(id, 2);
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f)), 1.0f);
  // 1 + 2^-8 is halfway between bf16 1.0 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 0x1.0p-8f)), 1.0f);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 0x1.8p-8f)), 1.0f + 0x1.0p-7f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

}  // namespace
}  // namespace bitlab
