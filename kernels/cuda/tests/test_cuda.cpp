// The CUDA backend's own contract, beyond the generic op and end-to-end tests
// (which cover "cuda" wherever a device is usable):
//   on the host, no GPU needed — the w2 weight layout round-trips with
//   zero-weight padding and sits at the documented bits; the decode the GEMV
//   runs (dp4a emulated) gives the reference's dot products; the GEMM's
//   per-lane fragment gathering, fed through an MMA emulated from the PTX
//   fragment layout, multiplies every code with its own activation;
//   on a GPU — fused QKV / gate-up parts keep their own scales on the GEMV and
//   the GEMM (many token tiles, more parts than one launch takes, misaligned
//   activations), the GEMM equals the GEMV at one token, attention gives the
//   same bits whichever kernel and batching ran, a graph-replayed decode equals
//   eager execution, and greedy tokens equal the scalar backend's.
// GPU cases skip with the probe's reason where no CUDA device is usable.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include <cuda_runtime_api.h>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/gemm_tile.h"
#include "kernels/cuda/w2_layout.h"
#include "model/error.h"
#include "model/reference.h"
#include "model/reference_backend.h"
#include "kernels/registry.h"
#include "model/sampling.h"
#include "model/transformer.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

using test::download;

std::vector<int8_t> random_int8(size_t n, uint64_t seed) {
  SplitMix64 g(seed);
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = int8_t(int(g.next() % 256) - 128);
  return v;
}

int32_t argmax_of(const std::vector<float>& v) { return int32_t(std::max_element(v.begin(), v.end()) - v.begin()); }

uint32_t le_word(const int8_t* p) {
  uint32_t w = 0;
  for (int b = 0; b < 4; ++b) w |= uint32_t(uint8_t(p[b])) << (8 * b);
  return w;
}

// ---- host side: layout and decode ---------------------------------------------

TEST(CudaLayout, RepackRoundTripsWithZeroWeightPadding) {
  for (auto [n, k] : {std::pair<int64_t, int64_t>{1, 1}, {3, 5}, {7, 127}, {5, 128}, {4, 129}, {2, 300}, {3, 2560}}) {
    SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k);
    const CanonicalTernary w = test::random_matrix("w", n, k, uint64_t(n * 131 + k), 1.0f);
    const std::vector<uint32_t> words = cuda::repack_w2(w);
    ASSERT_EQ(int64_t(words.size()), n * cuda::row_words(k));
    EXPECT_EQ(cuda::row_words(k) % 8, 0) << "rows must start 32-byte aligned";
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t i = 0; i < k; ++i) ASSERT_EQ(cuda::w2_value(words.data(), k, r, i), w.at(r, i)) << r << "," << i;
      for (int64_t i = k; i < cuda::padded_k(k); ++i)
        ASSERT_EQ((words[size_t(r * cuda::row_words(k) + i / 16)] >> cuda::code_shift(int(i % 16))) & 3u, 1u)
            << "padding code at " << i << " is not a zero weight";
    }
  }
}

TEST(CudaLayout, CodesSitAtTheDocumentedBits) {
  // Element 16w + 4j + b of a row sits in bits 8b + 2j of word w.
  EXPECT_EQ(cuda::code_shift(0), 0);
  EXPECT_EQ(cuda::code_shift(1), 8);
  EXPECT_EQ(cuda::code_shift(3), 24);
  EXPECT_EQ(cuda::code_shift(4), 2);
  EXPECT_EQ(cuda::code_shift(5), 10);
  EXPECT_EQ(cuda::code_shift(15), 30);
  // One +1 at element 21 (word 1, j = 1, b = 1) and one -1 at element 2.
  std::vector<int8_t> v(32, 0);
  v[21] = 1;
  v[2] = -1;
  const std::vector<uint32_t> words = cuda::repack_w2(pack_ternary("one", 1, 32, v, 1.0f));
  EXPECT_EQ(words[0], 0x55555555u & ~(3u << 16));                 // element 2: code 0 at bit 16
  EXPECT_EQ(words[1], (0x55555555u & ~(3u << 10)) | (2u << 10));  // element 21: code 2 at bit 10
  // codes_x4 gives elements 4j .. 4j+3, one code per byte.
  EXPECT_EQ(cuda::codes_x4(words[1], 1), 0x01010201u);
  EXPECT_EQ(cuda::codes_x4(words[0], 0), 0x01000101u);
}

TEST(CudaLayout, GemvDecodeGivesTheReferenceDot) {
  // The GEMV's arithmetic: Σ over words of word_dot (codes 0..2 x int8), minus Σx.
  for (int64_t k : {1, 16, 63, 130, 2560, 6912}) {
    const CanonicalTernary w = test::random_matrix("w", 3, k, uint64_t(k), 1.0f);
    const std::vector<uint32_t> words = cuda::repack_w2(w);
    std::vector<int8_t> x = random_int8(size_t(cuda::padded_k(k)), uint64_t(k) + 1);
    std::fill(x.begin() + k, x.end(), int8_t(0));  // the kernel zero-pads
    x[0] = -128;
    int32_t sum_x = 0;
    for (int64_t i = 0; i < k; ++i) sum_x += x[size_t(i)];
    for (int64_t r = 0; r < w.n; ++r) {
      int32_t acc = 0;
      for (int64_t wi = 0; wi < cuda::row_words(k); ++wi) {
        const int8_t* xs = x.data() + 16 * wi;
        acc = cuda::word_dot(words[size_t(r * cuda::row_words(k) + wi)], le_word(xs), le_word(xs + 4), le_word(xs + 8),
                             le_word(xs + 12), acc);
      }
      EXPECT_EQ(acc - sum_x, ref::ternary_dot(w.row(r), x.data(), k)) << "k=" << k << " row " << r;
    }
  }
}

// mma.sync.m16n8k32.row.col.s32.s8.s8.s32 as the PTX ISA defines its fragments
// (g = lane / 4, t = lane % 4): a_i holds A[g + 8(i&1)][4t + 16(i>>1) + byte],
// b_i holds B[4t + 16i + byte][g], c_i is D[g + 8(i>>1)][2t + (i&1)].
void emulate_mma(const uint32_t a[32][4], const uint32_t b[32][2], int32_t c[32][4]) {
  int32_t A[16][32], B[32][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i)
      for (int byte = 0; byte < 4; ++byte)
        A[g + 8 * (i & 1)][4 * t + 16 * (i >> 1) + byte] = int8_t(a[lane][i] >> (8 * byte));
    for (int i = 0; i < 2; ++i)
      for (int byte = 0; byte < 4; ++byte) B[4 * t + 16 * i + byte][g] = int8_t(b[lane][i] >> (8 * byte));
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i) {
      const int row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
      for (int kk = 0; kk < 32; ++kk) c[lane][i] += A[row][kk] * B[kk][col];
    }
  }
}

TEST(CudaGemmTile, FragmentsMeetEveryCodeWithItsActivation) {
  using namespace cuda::gemm;
  // One k-tile of one block: X [64 tokens, 128] int8 and W [128 outputs, 128] ternary.
  const std::vector<int8_t> x = random_int8(size_t(kBM) * kBK, 5);
  const CanonicalTernary w = test::random_matrix("w", kBN, kBK, 6, 1.0f);
  const std::vector<uint32_t> words = cuda::repack_w2(w);  // 8 words per row
  ASSERT_EQ(words.size(), size_t(kBN * 8));
  // Shared-memory images, filled chunk by chunk as the cp.async loader places them.
  std::vector<uint4> a_tile(static_cast<size_t>(kAChunks)), b_tile(static_cast<size_t>(kBChunks));
  for (int row = 0; row < kBM; ++row)
    for (int c = 0; c < 8; ++c) std::memcpy(&a_tile[size_t(a_chunk_index(row, c))], &x[size_t(row) * kBK + 16 * size_t(c)], 16);
  for (int row = 0; row < kBN; ++row)
    for (int h = 0; h < 2; ++h)
      std::memcpy(&b_tile[size_t(b_chunk_index(row, h))], &words[size_t(row) * 8 + 4 * size_t(h)], 16);
  const auto* b_words = reinterpret_cast<const uint32_t*>(b_tile.data());

  std::vector<int32_t> got(size_t(kBM * kBN), 0);
  for (int warp = 0; warp < kWarps; ++warp)
    for (int mi = 0; mi < kMTiles; ++mi)
      for (int nj = 0; nj < kNTiles; ++nj) {
        int32_t c[32][4] = {};
        for (int kc = 0; kc < 2; ++kc)
          for (int step = 0; step < 2; ++step) {
            uint32_t a[32][4], b[32][2];
            for (int lane = 0; lane < 32; ++lane) {
              const AFrag af = load_a_frag(a_tile.data(), lane, 16 * mi, kc);
              const BFrag bf = load_b_frag(b_words, lane, 32 * warp + 8 * nj, kc);
              std::memcpy(a[lane], af.step[step], sizeof(a[lane]));
              std::memcpy(b[lane], bf.step[step], sizeof(b[lane]));
            }
            emulate_mma(a, b, c);
          }
        for (int lane = 0; lane < 32; ++lane)
          for (int i = 0; i < 4; ++i)
            got[size_t(16 * mi + c_row(lane, i)) * kBN + size_t(32 * warp + 8 * nj + c_col(lane, i))] = c[lane][i];
      }
  for (int m = 0; m < kBM; ++m)
    for (int n = 0; n < kBN; ++n) {
      int32_t want = 0;  // Σ code·x: codes are T + 1
      for (int k = 0; k < kBK; ++k) want += (w.at(n, k) + 1) * x[size_t(m) * kBK + size_t(k)];
      ASSERT_EQ(got[size_t(m * kBN + n)], want) << "token " << m << " output " << n;
    }
}

TEST(CudaGemmTile, SwizzlesAreBijectiveAndConflictFree) {
  using namespace cuda::gemm;
  // Every row keeps its 8 slots (a permutation), so nothing overlaps.
  for (int row = 0; row < 128; ++row) {
    unsigned a_seen = 0, b_seen = 0;
    for (int i = 0; i < 8; ++i) {
      a_seen |= 1u << (a_chunk_index(row, i) - row * 8);
      b_seen |= 1u << (b_word_index(row, i) - row * 8);
      EXPECT_EQ(b_word_index(row, i) / 4, b_chunk_index(row, i / 4)) << "words move with their 16-byte granule";
    }
    EXPECT_EQ(a_seen, 0xffu);
    EXPECT_EQ(b_seen, 0xffu);
  }
  // A fragment loads (16 bytes a lane, 8 lanes a phase) and B loads (4 bytes a lane) hit distinct banks.
  for (int kc = 0; kc < 2; ++kc)
    for (int m_base : {0, 16, 32, 48}) {
      for (int phase = 0; phase < 4; ++phase) {
        unsigned banks = 0;
        for (int lane = 8 * phase; lane < 8 * phase + 8; ++lane) {
          const int chunk = a_chunk_index(m_base + lane / 4, 4 * kc + lane % 4);
          const unsigned four = 0xfu << (4 * (chunk % 8));
          EXPECT_EQ(banks & four, 0u) << "A bank conflict, kc=" << kc << " lane " << lane;
          banks |= four;
        }
      }
    }
  for (int kc = 0; kc < 2; ++kc)
    for (int n_base = 0; n_base < 128; n_base += 8) {
      uint64_t banks = 0;
      for (int lane = 0; lane < 32; ++lane) {
        const int bank = b_word_index(n_base + lane / 4, 4 * kc + lane % 4) % 32;
        EXPECT_EQ(banks >> bank & 1u, 0u) << "B bank conflict, kc=" << kc << " lane " << lane;
        banks |= uint64_t(1) << bank;
      }
    }
}

TEST(CudaProbe, SaysWhatItFoundOrWhyNot) {
  const BackendProbe p = probe_cuda_backend();
  EXPECT_FALSE(p.reason.empty()) << "the probe must name the device, or say why cuda cannot run";
  if (!p.usable) {
    EXPECT_NE(p.reason.find("CUDA"), std::string::npos) << p.reason;
  }
}

// ---- on the device ----------------------------------------------------------------

class CudaDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    const BackendProbe p = probe_cuda_backend();  // only cuda: other backends' drivers stay unloaded
    if (!p.usable) GTEST_SKIP() << "cuda backend not usable: " << p.reason;
  }
  // BITLAB_CUDA_PDL=0 turns programmatic launch off here as in the registry's backend.
  static std::unique_ptr<Backend> make(cuda::CudaOptions o = {}) {
    if (!cuda::cuda_options_from_environment().programmatic_launch) o.programmatic_launch = false;
    return cuda::make_cuda_backend({}, o);
  }
};

std::vector<CanonicalTernary> qkv_parts(int64_t q, int64_t kv, int64_t k, uint64_t seed) {
  return {test::random_matrix("q", q, k, seed, 0.02f), test::random_matrix("k", kv, k, seed + 1, 3.0f),
          test::random_matrix("v", kv, k, seed + 2, 250.0f)};
}

TEST_F(CudaDevice, FusedScalesHoldOnGemvAndGemmAt2b4tShapes) {
  auto be = make();
  const auto qkv = qkv_parts(2560, 640, 2560, 1);
  for (int64_t t : {1, 7, 64, 65, 130}) test::matmul_exact(*be, qkv, t, uint64_t(t), {2.0f});
  const std::vector<CanonicalTernary> gate_up = {test::random_matrix("gate", 6912, 2560, 4, 0.01f),
                                                 test::random_matrix("up", 6912, 2560, 5, 7.0f)};
  for (int64_t t : {1, 33}) test::matmul_exact(*be, gate_up, t, 9, {2.0f});
}

TEST_F(CudaDevice, MorePartsThanOneLaunchTakesAndOddOffsets) {
  auto be = make();
  std::vector<CanonicalTernary> six;
  for (int i = 0; i < 6; ++i)
    six.push_back(test::random_matrix("p", 3 + 17 * i, 130, uint64_t(i), float(i + 1) * 0.5f));
  for (int64_t t : {1, 5, 70})
    for (int64_t offset : {0, 1, 3})
      test::matmul_exact(*be, six, t, uint64_t(t + offset), {2.0f, size_t(offset)});
}

TEST_F(CudaDevice, GemmEqualsGemvAtOneToken) {
  cuda::CudaOptions gemm_only;
  gemm_only.gemv = false;
  auto gemv = make(), gemm = make(gemm_only);
  for (int64_t k : {2560, 6912, 100}) {
    const auto parts = qkv_parts(256, 64, k, uint64_t(k));
    EXPECT_EQ(test::matmul_exact(*gemv, parts, 1, 3, {2.0f}), test::matmul_exact(*gemm, parts, 1, 3, {2.0f}))
        << "k=" << k;
  }
}

TEST_F(CudaDevice, AttentionBitsDoNotDependOnKernelOrBatching) {
  cuda::CudaOptions chunked;
  chunked.tiled_attention = false;
  auto tiled = make(), chunks = make(chunked);
  for (auto shape : {std::tuple<int64_t, int64_t, int64_t>{20, 5, 128}, {4, 2, 16}, {12, 1, 64}}) {
    // Plain variables, not structured bindings: the lambda below captures them.
    const int64_t heads = std::get<0>(shape), kv_heads = std::get<1>(shape), hd = std::get<2>(shape);
    SCOPED_TRACE(testing::Message() << heads << "/" << kv_heads << " heads of " << hd);
    const int64_t t = 70, qd = heads * hd, kvd = kv_heads * hd;
    const auto q = test::random_floats(size_t(t * qd), 1), k = test::random_floats(size_t(t * kvd), 2),
               v = test::random_floats(size_t(t * kvd), 3);
    auto run = [&](Backend& be, const std::vector<int64_t>& chunk_rows) {
      KvLayer cache{be.new_tensor(DType::F32, {t, kvd}), be.new_tensor(DType::F32, {t, kvd})};
      std::vector<float> out;
      int64_t pos = 0;
      for (int64_t rows : chunk_rows) {
        Tensor qt = be.upload_tensor(q.data() + pos * qd, DType::F32, {rows, qd});
        Tensor kt = be.upload_tensor(k.data() + pos * kvd, DType::F32, {rows, kvd});
        Tensor vt = be.upload_tensor(v.data() + pos * kvd, DType::F32, {rows, kvd});
        Tensor ot = be.new_tensor(DType::F32, {rows, qd});
        be.attention(qt, kt, vt, cache, AttentionParams{heads, kv_heads, hd, pos}, ot);
        const auto o = download<float>(be, ot);
        out.insert(out.end(), o.begin(), o.end());
        pos += rows;
      }
      return out;
    };
    const auto whole = run(*tiled, {t});
    EXPECT_EQ(run(*chunks, {t}), whole) << "tiled and chunked kernels";
    EXPECT_EQ(run(*tiled, {33, 1, 1, 35}), whole) << "prefill, decode steps, prefill";
    std::vector<float> want(whole.size());
    ref::attention(q.data(), k.data(), v.data(), t, AttentionParams{heads, kv_heads, hd, 0}, want.data());
    EXPECT_LT(test::nmse(whole, want), 1e-10);
  }
}

const ModelWeights& tiny_weights() {
  static const ModelWeights w = synthetic_weights(tiny_config(), 5);
  return w;
}

TEST_F(CudaDevice, GraphReplayEqualsEagerExecution) {
  cuda::CudaOptions eager_opts;
  eager_opts.graphs = false;
  for (const char* name : {"tiny", "2b4t-1layer"}) {
    SCOPED_TRACE(name);
    const ModelWeights w = synthetic_weights(config_by_name(name), 7);
    auto graphed = make(), eager = make(eager_opts);
    Transformer a(*graphed, w, 48), b(*eager, w, 48);
    const std::vector<int32_t> prompt = {w.config.bos, 5, 9, 11, 3};
    std::vector<float> la = a.forward(prompt), lb = b.forward(prompt);
    EXPECT_EQ(la, lb);
    int32_t next = argmax_of(la);
    for (int step = 0; step < 12; ++step) {  // logits through graphs from the 3rd step on
      la = a.forward(std::span(&next, 1));
      lb = b.forward(std::span(&next, 1));
      ASSERT_EQ(la, lb) << "decode step " << step;
      next = argmax_of(la);
    }
    a.reset();
    b.reset();
    EXPECT_EQ(generate(a, prompt, 16, SamplingParams{}).tokens, generate(b, prompt, 16, SamplingParams{}).tokens);
    const cuda::StepStats* sa = cuda::cuda_step_stats(*graphed);
    const cuda::StepStats* sb = cuda::cuda_step_stats(*eager);
    ASSERT_TRUE(sa && sb);
    EXPECT_GE(sa->replays, 20) << "decode steps were not replayed from a graph";
    EXPECT_EQ(sa->captures, 2) << "one graph for forward(), one for forward_argmax()";
    EXPECT_EQ(sb->steps, 0) << "graphs off records nothing";
  }
}

// Programmatic launch lets a kernel start before the one in front ends; every
// kernel must wait before touching what its predecessors write. A kernel that
// read too early would give other bits here (or different bits run to run),
// over prefill (GEMM, tiled attention) and decode (GEMV, chunked attention),
// graphed and eager, both heads.
TEST_F(CudaDevice, ProgrammaticLaunchEqualsPlainLaunch) {
  cudaDeviceProp p{};
  ASSERT_EQ(cudaGetDeviceProperties(&p, 0), cudaSuccess);
  const std::string variant = make()->info().variant;
  const bool programmatic = variant.find("programmatic") != std::string::npos;
  if (p.major < 9) {
    EXPECT_FALSE(programmatic) << "griddepcontrol is sm_90's: " << variant;
  }
  if (!programmatic)
    GTEST_SKIP() << "kernels launch the plain way here (GPU, build, driver or BITLAB_CUDA_PDL=0): " << variant;
  const ModelWeights w = synthetic_weights(config_by_name("2b4t-1layer"), 3);
  for (bool graphs : {true, false}) {
    for (HeadKind head : {HeadKind::BF16, HeadKind::Int8}) {
      SCOPED_TRACE(std::string(graphs ? "graphs, " : "eager, ") + head_name(head) + " head");
      cuda::CudaOptions fast, plain;
      fast.graphs = plain.graphs = graphs;
      plain.programmatic_launch = false;
      auto a_be = make(fast), b_be = make(plain);
      EXPECT_NE(a_be->info().variant.find("programmatic"), std::string::npos) << a_be->info().variant;
      EXPECT_EQ(b_be->info().variant.find("programmatic"), std::string::npos) << b_be->info().variant;
      Transformer a(*a_be, w, 80, {}, head), b(*b_be, w, 80, {}, head);
      std::vector<int32_t> prompt(40);
      for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int32_t((i * 37 + 11) % size_t(w.config.vocab));
      std::vector<float> la = a.forward(prompt), lb = b.forward(prompt);
      ASSERT_EQ(la, lb) << "prefill";
      int32_t next = argmax_of(la);
      for (int step = 0; step < 16; ++step) {
        la = a.forward(std::span(&next, 1));
        lb = b.forward(std::span(&next, 1));
        ASSERT_EQ(la, lb) << "decode step " << step;
        next = argmax_of(la);
      }
      for (int step = 0; step < 8; ++step) {
        const int32_t ia = a.forward_argmax(std::span(&next, 1)), ib = b.forward_argmax(std::span(&next, 1));
        ASSERT_EQ(ia, ib) << "argmax step " << step;
        next = ia;
      }
    }
  }
}

TEST_F(CudaDevice, GreedyTokensEqualTheScalarBackendOnTiny) {
  const ModelWeights& w = tiny_weights();
  auto gpu = make();
  auto cpu = make_backend("scalar", BackendOptions{.threads = 1, .device = 0});
  Transformer a(*gpu, w, 48), b(*cpu, w, 48);
  const std::vector<int32_t> prompt = {w.config.bos, 17, 4, 99};
  EXPECT_EQ(generate(a, prompt, 32, SamplingParams{}).tokens, generate(b, prompt, 32, SamplingParams{}).tokens);
}

TEST_F(CudaDevice, RejectsTensorsFromAnotherBackend) {
  auto be = make();
  auto cpu = make_reference_backend({});
  Tensor host = cpu->new_tensor(DType::F32, {1, 8});
  Tensor dev = be->new_tensor(DType::F32, {1, 8});
  EXPECT_THROW(be->add(host, dev, dev), UsageError);
  auto other = make();
  Tensor foreign = other->new_tensor(DType::F32, {1, 8});
  EXPECT_THROW(be->add(foreign, dev, dev), UsageError);
}

}  // namespace
}  // namespace bitlab
