// The attention_group contract, shared by each CPU variant's tests: for random
// queries and cache rows, every query of a block comes out bit for bit as
// attention_head computes it alone, over odd head dims (a 16-float tail, a
// width not a multiple of 64 or 32, one past 128), key counts around the 16-
// and 32-key blocks, group sizes of 1, 4 and 5 heads, blocks of several rows
// whose key counts differ (the causal tail) given in any order, and blocks of
// more queries than the kernel holds at once (so a kernel with one form for
// few queries and another for many is held to one set of bits). And the backend's attention op, which hands the
// kernel blocks of (kv head, rows), gives each (row, head) exactly what
// attention_head gives it over that row's causal prefix of the cache.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/registry.h"
#include "tests/test_util.h"

namespace bitlab::test {

inline void expect_group_matches_head(const cpu::CpuKernels& k) {
  ASSERT_NE(k.attention_group, nullptr);
  constexpr int64_t kHeadDims[] = {128, 64, 80, 72, 8, 136};  // 136: past one 128-float slab
  constexpr int64_t kKeys[] = {1, 15, 16, 17, 33, 300, 2049};
  constexpr int64_t kGroups[] = {1, 4, 5};
  constexpr int64_t kRows[] = {1, 3, 8};  // 8 rows of 5 heads: 40 queries, past one 32-query chunk
  constexpr int64_t kKvHeads = 2, kKvHead = 1;  // the block reads the second kv head of each cache row
  uint64_t seed = 1;
  for (int64_t hd : kHeadDims)
    for (int64_t keys : kKeys)
      for (int64_t group : kGroups)
        for (int64_t rows : kRows) {
          if (keys == 2049 && rows == 8 && hd != 128) continue;  // the largest block once is enough
          SCOPED_TRACE(testing::Message() << "head_dim=" << hd << " keys=" << keys << " group=" << group
                                          << " rows=" << rows);
          const int64_t stride = kKvHeads * hd, max_keys = keys + rows - 1, n = group * rows;
          const std::vector<float> kc = random_floats(size_t(max_keys * stride), seed++, 1.0f);
          const std::vector<float> vc = random_floats(size_t(max_keys * stride), seed++, 1.0f);
          const std::vector<float> q = random_floats(size_t(n * hd), seed++, 2.0f);
          std::vector<const float*> qs;
          std::vector<float*> outs;
          std::vector<int64_t> n_keys;
          std::vector<float> got(size_t(n * hd), -1.0f);
          // Row r sees keys + r keys; rows go in as 0, last, 1, last - 1, ... so
          // the block's key counts are neither ascending nor descending.
          for (int64_t j = 0; j < rows; ++j) {
            const int64_t r = j % 2 == 0 ? j / 2 : rows - 1 - j / 2;
            for (int64_t h = 0; h < group; ++h) {
              const int64_t c = r * group + h;
              qs.push_back(q.data() + c * hd);
              outs.push_back(got.data() + c * hd);
              n_keys.push_back(keys + r);
            }
          }
          // Not zeros: a score slot a query does not own must never count as a zero weight.
          std::vector<float> scratch(static_cast<size_t>(n * max_keys), 0.5f);
          k.attention_group(qs.data(), outs.data(), n_keys.data(), n, kc.data() + kKvHead * hd,
                            vc.data() + kKvHead * hd, hd, stride, scratch.data());
          std::vector<float> want(static_cast<size_t>(hd)), head_scratch(static_cast<size_t>(max_keys));
          for (size_t c = 0; c < qs.size(); ++c) {
            k.attention_head(qs[c], kc.data() + kKvHead * hd, vc.data() + kKvHead * hd, n_keys[c], hd, stride,
                             want.data(), head_scratch.data());
            if (std::memcmp(outs[c], want.data(), size_t(hd) * sizeof(float)) == 0) continue;
            int64_t i = 0;
            while (std::memcmp(outs[c] + i, want.data() + i, sizeof(float)) == 0) ++i;
            FAIL() << "query " << c << " (" << n_keys[c] << " keys) differs from attention_head at element " << i
                   << ": " << outs[c][i] << " vs " << want[size_t(i)];
          }
        }
}

// The `backend` op at 1 and 3 threads against `k`, its kernel table, one
// attention_head call per (row, head): decode deep in the cache, a prefill
// from position 0 and one from the middle of the cache, with row counts that
// are not a multiple of the row block.
inline void expect_backend_matches_heads(const std::string& backend, const cpu::CpuKernels& k) {
  struct Case {
    int64_t heads, kv_heads, hd, pos0, t;
  };
  constexpr Case kCases[] = {{20, 5, 128, 2047, 1}, {20, 5, 128, 0, 13}, {20, 5, 128, 37, 6}, {6, 2, 72, 5, 9},
                             {3, 3, 16, 0, 1}};
  uint64_t seed = 100;
  for (int threads : {1, 3}) {
    std::unique_ptr<Backend> be = make_backend(backend, BackendOptions{.threads = threads, .device = 0});
    for (const Case& c : kCases) {
      SCOPED_TRACE(testing::Message() << "threads=" << threads << " heads=" << c.heads << "/" << c.kv_heads
                                      << " head_dim=" << c.hd << " pos0=" << c.pos0 << " rows=" << c.t);
      const int64_t qd = c.heads * c.hd, kvd = c.kv_heads * c.hd, max_pos = c.pos0 + c.t + 2;
      const std::vector<float> q = random_floats(size_t(c.t * qd), seed++, 2.0f);
      const std::vector<float> kn = random_floats(size_t(c.t * kvd), seed++, 1.0f);
      const std::vector<float> vn = random_floats(size_t(c.t * kvd), seed++, 1.0f);
      const std::vector<float> k0 = random_floats(size_t(max_pos * kvd), seed++, 1.0f);
      const std::vector<float> v0 = random_floats(size_t(max_pos * kvd), seed++, 1.0f);
      KvLayer cache{be->upload_tensor(k0.data(), DType::F32, {max_pos, kvd}),
                    be->upload_tensor(v0.data(), DType::F32, {max_pos, kvd})};
      Tensor qt = be->upload_tensor(q.data(), DType::F32, {c.t, qd});
      Tensor kt = be->upload_tensor(kn.data(), DType::F32, {c.t, kvd});
      Tensor vt = be->upload_tensor(vn.data(), DType::F32, {c.t, kvd});
      Tensor ot = be->new_tensor(DType::F32, {c.t, qd});
      be->attention(qt, kt, vt, cache, AttentionParams{c.heads, c.kv_heads, c.hd, c.pos0}, ot);
      std::vector<float> got(size_t(c.t * qd)), kc(size_t(max_pos * kvd)), vc(kc.size());
      be->download(ot, got.data());
      be->download(cache.k, kc.data());
      be->download(cache.v, vc.data());
      std::vector<float> want(static_cast<size_t>(c.hd)), scratch(static_cast<size_t>(max_pos));
      for (int64_t r = 0; r < c.t; ++r)
        for (int64_t h = 0; h < c.heads; ++h) {
          const int64_t kvh = h / (c.heads / c.kv_heads);
          k.attention_head(q.data() + r * qd + h * c.hd, kc.data() + kvh * c.hd, vc.data() + kvh * c.hd,
                           c.pos0 + r + 1, c.hd, kvd, want.data(), scratch.data());
          ASSERT_EQ(std::memcmp(got.data() + r * qd + h * c.hd, want.data(), size_t(c.hd) * sizeof(float)), 0)
              << "row " << r << " head " << h;
        }
    }
  }
}

}  // namespace bitlab::test
