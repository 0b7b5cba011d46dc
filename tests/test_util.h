// Helpers shared by the tests: seeded random inputs, NMSE, host<->backend
// copies, bit-exact checks of the int8 ops against the reference.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "harness/op_cases/op_case.h"
#include "model/backend.h"
#include "model/reference.h"
#include "model/weights/synthetic.h"

namespace bitlab::test {

// NMSE and seeded normal values: the op cases' own (harness/op_cases/op_case.h).
using opcase::nmse;
inline std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  return opcase::randn(n, seed, scale);
}

inline std::vector<int8_t> random_ternary(size_t n, uint64_t seed) {
  SplitMix64 g(seed);
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = int8_t(int(g.next() % 3) - 1);
  return v;
}

inline CanonicalTernary random_matrix(const char* name, int64_t n, int64_t k, uint64_t seed, float scale) {
  return pack_ternary(name, n, k, random_ternary(size_t(n * k), seed), scale);
}

template <class T>
std::vector<T> download(const Backend& be, const Tensor& t) {
  std::vector<T> v(t.bytes() / sizeof(T));
  be.download(t, v.data());
  return v;
}

template <class T>
Tensor upload(Backend& be, const std::vector<T>& v, DType dtype, Shape shape) {
  return be.upload_tensor(v.data(), dtype, shape);
}

// Fills bf16 values ≈ N(0, 1) from a seed.
inline void fill_bf16(std::vector<uint16_t>& v, uint64_t seed) {
  SplitMix64 g(seed);
  for (uint16_t& x : v) x = f32_to_bf16(g.normal());
}

// ---- bit-exact int8 op checks, shared by the every-backend and GPU tests ----

// An int8 [rows, cols] tensor `offset` bytes into a buffer of 0x55 filler
// bytes, to try every alignment of an operand.
inline Tensor upload_i8_at(Backend& be, const std::vector<int8_t>& v, size_t offset, int64_t cols) {
  std::vector<int8_t> bytes(offset + v.size(), 0x55);
  std::copy(v.begin(), v.end(), bytes.data() + offset);
  Tensor t = be.upload_tensor(bytes.data(), DType::I8, {1, int64_t(bytes.size())});
  t.offset += offset;
  t.shape = {int64_t(v.size()) / cols, cols};
  return t;
}

// How many elements of got differ from want in their bits, and the first of them.
struct BitMismatches {
  size_t count = 0, first = 0;
};
inline BitMismatches bit_mismatches(const std::vector<float>& got, const std::vector<float>& want) {
  EXPECT_EQ(got.size(), want.size());
  BitMismatches m;
  for (size_t j = 0; j < std::min(got.size(), want.size()); ++j)
    if (std::memcmp(&got[j], &want[j], 4) != 0 && m.count++ == 0) m.first = j;
  return m;
}

struct MatmulInput {
  float spread = 1.0f;  // activations ~ N(0, spread²) before quantisation
  size_t x_offset = 0;  // byte offset of the int8 activations in their buffer (0x55 bytes before them)
};

// Runs `parts` fused into one weight at t tokens and checks each part's output
// bit for bit against ref::matmul_w2a8 on that part alone, naming the first
// mismatch. `outs`: where each part's output goes (default: new tensors).
// Returns the outputs.
inline std::vector<std::vector<float>> matmul_exact(Backend& be, const std::vector<CanonicalTernary>& parts,
                                                    int64_t t, uint64_t seed, const MatmulInput& in = {},
                                                    std::vector<Tensor> outs = {}) {
  const int64_t k = parts[0].k;
  std::vector<const CanonicalTernary*> ptrs;
  for (const auto& p : parts) ptrs.push_back(&p);
  const TernaryWeight w = be.upload(ptrs);
  const std::vector<float> x = random_floats(size_t(t * k), seed, in.spread);
  std::vector<int8_t> xq(size_t(t * k));
  std::vector<float> s(static_cast<size_t>(t));
  ref::quantize_act(x.data(), t, k, xq.data(), s.data());
  const QuantAct qa{upload_i8_at(be, xq, in.x_offset, k), be.upload_tensor(s.data(), DType::F32, {t, 1})};
  if (outs.empty())
    for (const auto& p : parts) outs.push_back(be.new_tensor(DType::F32, {t, p.n}));
  be.matmul_w2a8(qa, w, outs);
  std::vector<std::vector<float>> got;
  for (size_t i = 0; i < parts.size(); ++i) {
    const CanonicalTernary& p = parts[i];
    std::vector<float> want(size_t(t * p.n));
    ref::matmul_w2a8(xq.data(), s.data(), t, p.packed.data(), p.n, k, p.scale, want.data(), p.n);
    got.push_back(download<float>(be, outs[i]));
    const std::vector<float>& out = got.back();
    const BitMismatches m = bit_mismatches(out, want);
    if (m.count) {
      const int64_t tok = int64_t(m.first) / p.n, row = int64_t(m.first) % p.n;
      ADD_FAILURE() << p.name << " [" << p.n << "x" << k << "], t=" << t << ", x at byte " << in.x_offset << ": "
                    << m.count << " mismatching outputs, the first at token " << tok << " row " << row << ": got "
                    << out[m.first] << ", want " << want[m.first] << " (acc "
                    << ref::ternary_dot(p.row(row), xq.data() + tok * k, k) << ")";
    }
  }
  return got;
}

struct HeadInput {
  float spread = 1.0f;       // activations ~ N(0, spread²) before quantisation
  size_t x_offset = 0;       // byte offset of the int8 activations in their buffer (0x55 bytes before them)
  size_t table_offset = 0;   // byte offset of the int8 table in its buffer (0x55 bytes before it)
};

// Quantises a bf16 [vocab, d] table ≈ N(0, 1) per row (ref::quantize_head) and
// t tokens, runs lm_head_i8, and checks the logits bit for bit against
// ref::lm_head_i8, naming the first mismatch. `logits`: where they go (default:
// a new tensor).
inline void lm_head_i8_exact(Backend& be, int64_t vocab, int64_t d, int64_t t, uint64_t seed,
                                           const HeadInput& in = {}, Tensor logits = {}) {
  std::vector<uint16_t> table(size_t(vocab * d));
  fill_bf16(table, seed);
  std::vector<int8_t> q(size_t(vocab * d));
  std::vector<float> sv(static_cast<size_t>(vocab));
  ref::quantize_head(table.data(), vocab, d, q.data(), sv.data());
  const std::vector<float> x = random_floats(size_t(t * d), seed + 1, in.spread);
  std::vector<int8_t> xq(size_t(t * d));
  std::vector<float> sx(static_cast<size_t>(t));
  ref::quantize_act(x.data(), t, d, xq.data(), sx.data());
  const HeadTable ht{upload_i8_at(be, q, in.table_offset, d), be.upload_tensor(sv.data(), DType::F32, {vocab, 1})};
  const QuantAct qa{upload_i8_at(be, xq, in.x_offset, d), be.upload_tensor(sx.data(), DType::F32, {t, 1})};
  if (!logits.buf) logits = be.new_tensor(DType::F32, {t, vocab});
  be.lm_head_i8(qa, ht, logits);
  std::vector<float> want(size_t(t * vocab));
  ref::lm_head_i8(xq.data(), sx.data(), t, q.data(), sv.data(), vocab, d, want.data());
  const std::vector<float> got = download<float>(be, logits);
  const BitMismatches m = bit_mismatches(got, want);
  if (m.count) {
    const int64_t tok = int64_t(m.first) / vocab, row = int64_t(m.first) % vocab;
    int64_t acc = 0;
    for (int64_t i = 0; i < d; ++i) acc += int64_t(q[size_t(row * d + i)]) * xq[size_t(tok * d + i)];
    ADD_FAILURE() << "lm_head_i8 [" << vocab << "x" << d << "], t=" << t << ", x at byte " << in.x_offset
                  << ", table at byte " << in.table_offset << ": " << m.count << " mismatching logits, the first at token "
                  << tok << " row " << row << ": got " << got[m.first] << ", want " << want[m.first] << " (acc " << acc
                  << ")";
  }
}

}  // namespace bitlab::test
