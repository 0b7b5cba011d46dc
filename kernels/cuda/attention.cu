// Causal grouped-query attention over the device KV cache (which it also
// appends the new rows to), fp32 throughout.
//
// Every path splits a row's keys into chunks of kAttentionChunk = 32 and, per
// (row, query head, chunk) with nv visible keys, computes with the same
// arithmetic: scores s_j = fma-chain dot(q, k_j) over d ascending, times scale;
// m = max s_j; p_j = exp(s_j - m); l = Σ p_j (j ascending); o[d] = fma-chain
// Σ p_j v_j[d] (j ascending). Chunks are then merged in ascending order into
// (M, L, O) by merge_chunk/merge_out, and out = O / L. So a row's output does
// not depend on which path ran or how many rows came with it: prefill, decode
// and graph replays agree bit for bit.
//
//   attention_chunk_partials   decode (t <= 4) and the fallback for any head
//                              size <= 256: one block per (KV head and up to 8
//                              of its query heads, chunk, row), partials to
//                              global memory; a grid fixed by the cache size
//                              when replayed from a graph (idle chunks exit)
//   attention_merge            one block per (query head, row): merges the
//                              partials of the chunks the row sees
//   attention_tiled            prefill: one block per (KV head, 64 query
//                              vectors = rows x heads of the group), K/V chunks
//                              staged in shared memory and reused by all 64,
//                              merged in registers; head_dim <= 128, % 4 == 0
// Tuned for 2B4T: 20 query / 5 KV heads of 128 (groups of 4, 16 rows a tile).
#include <algorithm>
#include <cmath>

#include "kernels/cuda/device_common.cuh"

namespace bitlab::cuda {
namespace {

constexpr int kChunk = int(kAttentionChunk);
constexpr int kGroupMax = 8;  // query heads per block and pass
constexpr int kChunkThreads = 128;
constexpr int kTiledThreads = 256;
constexpr int kTiledQueries = kTiledThreads / 4;               // 4 threads per query vector
constexpr int kTiledF4 = int(kAttentionTiledHeadDimMax) / 16;  // float4 of output per thread

struct SoftmaxState {
  float m = -INFINITY, l = 0.0f;
};

// Folds a chunk's (m_c, l_c) into the running state; returns the factors for
// the running output (x) and the chunk's output (y).
__device__ __forceinline__ float2 merge_chunk(SoftmaxState& st, float m_c, float l_c) {
  const float m = fmaxf(st.m, m_c);
  const float alpha = expf(__fsub_rn(st.m, m));  // 0 on the first chunk (st.m = -inf)
  const float beta = expf(__fsub_rn(m_c, m));
  st.l = __fadd_rn(__fmul_rn(st.l, alpha), __fmul_rn(l_c, beta));
  st.m = m;
  return make_float2(alpha, beta);
}
__device__ __forceinline__ float merge_out(float o, float o_c, float2 f) {
  return __fadd_rn(__fmul_rn(o, f.x), __fmul_rn(o_c, f.y));
}

template <bool Vec4>
__device__ __forceinline__ float dot_qk(const float* q, const float* k, int hd) {
  float acc = 0.0f;
  if constexpr (Vec4) {
    for (int d = 0; d < hd; d += 4) {
      const float4 qv = *reinterpret_cast<const float4*>(q + d);
      const float4 kv = *reinterpret_cast<const float4*>(k + d);
      acc = fmaf(qv.x, kv.x, acc);
      acc = fmaf(qv.y, kv.y, acc);
      acc = fmaf(qv.z, kv.z, acc);
      acc = fmaf(qv.w, kv.w, acc);
    }
  } else {
    for (int d = 0; d < hd; ++d) acc = fmaf(q[d], k[d], acc);
  }
  return acc;
}

// Key or value row j: from the cache below pos0, else from this call's new rows.
__device__ __forceinline__ const float* kv_row(const float* cache, const float* fresh, int64_t j, int64_t pos0,
                                               int64_t kvd) {
  return j < pos0 ? cache + j * kvd : fresh + (j - pos0) * kvd;
}

struct HeadGroup {
  int hd, group, kvh, g0, count;  // query heads kvh*group + g0 .. + count - 1
};
__device__ __forceinline__ HeadGroup head_group(const AttentionArgs& a) {
  HeadGroup h;
  h.hd = int(a.head_dim);
  h.group = int(a.n_heads / a.n_kv_heads);
  const int passes = (h.group + kGroupMax - 1) / kGroupMax;
  h.kvh = int(blockIdx.x) / passes;
  h.g0 = (int(blockIdx.x) % passes) * kGroupMax;
  h.count = min(kGroupMax, h.group - h.g0);
  return h;
}

template <bool Vec4>
__global__ void __launch_bounds__(kChunkThreads) attention_chunk_partials(AttentionArgs a) {
  enter_kernel();
  extern __shared__ float smem[];  // q_s [count][hd], p_s [kGroupMax][kChunk]
  const HeadGroup hg = head_group(a);
  const int hd = hg.hd;
  const int64_t r = blockIdx.z, c = blockIdx.y;
  const int64_t pos0 = position(a.pos);
  const int64_t kvd = a.n_kv_heads * hd, qd = a.n_heads * hd;
  const int64_t n_keys = pos0 + r + 1, j0 = c * kChunk;
  if (c == 0 && hg.g0 == 0)  // append row r for this KV head (only cache rows < pos0 are read)
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
      a.k_cache[(pos0 + r) * kvd + hg.kvh * hd + d] = a.k[r * kvd + hg.kvh * hd + d];
      a.v_cache[(pos0 + r) * kvd + hg.kvh * hd + d] = a.v[r * kvd + hg.kvh * hd + d];
    }
  if (j0 >= n_keys) return;
  const int nv = int(min64(kChunk, n_keys - j0));
  const int h0 = hg.kvh * hg.group + hg.g0;
  float* q_s = smem;
  float* p_s = smem + hg.count * hd;
  for (int i = threadIdx.x; i < hg.count * hd; i += blockDim.x) q_s[i] = a.q[r * qd + int64_t(h0) * hd + i];
  __syncthreads();

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t part_stride = a.n_chunks * (hd + 2);  // between query heads
  float* part0 = a.partial + ((r * a.n_heads + h0) * a.n_chunks + c) * (hd + 2);
  for (int g = warp; g < hg.count; g += kChunkThreads / 32) {
    float s = -INFINITY;
    if (lane < nv) {
      const float* kr = kv_row(a.k_cache, a.k, j0 + lane, pos0, kvd) + hg.kvh * hd;
      s = __fmul_rn(dot_qk<Vec4>(q_s + g * hd, kr, hd), a.scale);
    }
    const float m = warp_reduce(s, MaxOp{});
    p_s[g * kChunk + lane] = lane < nv ? expf(__fsub_rn(s, m)) : 0.0f;
    __syncwarp();
    if (lane == 0) {
      float l = 0.0f;
      for (int j = 0; j < nv; ++j) l = __fadd_rn(l, p_s[g * kChunk + j]);
      part0[g * part_stride] = m;
      part0[g * part_stride + 1] = l;
    }
  }
  __syncthreads();
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float o[kGroupMax] = {};
    for (int j = 0; j < nv; ++j) {
      const float v = kv_row(a.v_cache, a.v, j0 + j, pos0, kvd)[hg.kvh * hd + d];
#pragma unroll
      for (int g = 0; g < kGroupMax; ++g)
        if (g < hg.count) o[g] = fmaf(p_s[g * kChunk + j], v, o[g]);
    }
#pragma unroll
    for (int g = 0; g < kGroupMax; ++g)
      if (g < hg.count) part0[g * part_stride + 2 + d] = o[g];
  }
}

__global__ void attention_merge(AttentionArgs a) {
  enter_kernel();
  const int64_t h = blockIdx.x, r = blockIdx.y;
  const int hd = int(a.head_dim);
  const int64_t n_keys = position(a.pos) + r + 1;
  const int64_t chunks = (n_keys + kChunk - 1) / kChunk;
  const float* base = a.partial + (r * a.n_heads + h) * a.n_chunks * (hd + 2);
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    SoftmaxState st;
    float o = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) {
      const float* part = base + c * (hd + 2);
      const float2 f = merge_chunk(st, part[0], part[1]);
      o = merge_out(o, part[2 + d], f);
    }
    a.out[r * a.n_heads * hd + h * hd + d] = __fdiv_rn(o, st.l);
  }
}

__global__ void __launch_bounds__(kTiledThreads) attention_tiled(AttentionArgs a) {
  enter_kernel();
  extern __shared__ float4 smem4[];
  const HeadGroup hg = head_group(a);
  const int hd = hg.hd, pitch = hd + 4, f4s = hd / 4;
  const int rows_per_tile = kTiledQueries / hg.count;
  const int64_t r0 = int64_t(blockIdx.y) * rows_per_tile;
  if (r0 >= a.t) return;  // a pass with fewer heads needs fewer tiles
  const int rows_here = int(min64(rows_per_tile, a.t - r0));
  const int64_t pos0 = position(a.pos);
  const int64_t kvd = a.n_kv_heads * hd, qd = a.n_heads * hd;
  const int h0 = hg.kvh * hg.group + hg.g0;
  float* q_s = reinterpret_cast<float*>(smem4);  // [kTiledQueries][pitch]
  float* k_s = q_s + kTiledQueries * pitch;      // [kChunk][pitch]
  float* v_s = k_s + kChunk * pitch;             // [kChunk][pitch]
  float* p_s = v_s + kChunk * pitch;             // [kTiledQueries][kChunk + 1]

  if (hg.g0 == 0)  // append this tile's rows for this KV head (only cache rows < pos0 are read)
    for (int i = threadIdx.x; i < rows_here * hd; i += blockDim.x) {
      const int64_t rr = r0 + i / hd, d = i % hd;
      a.k_cache[(pos0 + rr) * kvd + hg.kvh * hd + d] = a.k[rr * kvd + hg.kvh * hd + d];
      a.v_cache[(pos0 + rr) * kvd + hg.kvh * hd + d] = a.v[rr * kvd + hg.kvh * hd + d];
    }
  // Query vector qv = (row r0 + qv / count, head h0 + qv % count).
  for (int i = threadIdx.x; i < kTiledQueries * hd; i += blockDim.x) {
    const int qv = i / hd, d = i % hd, rr = qv / hg.count, g = qv % hg.count;
    const bool ok = rr < rows_here;
    q_s[qv * pitch + d] = ok ? a.q[(r0 + rr) * qd + int64_t(h0 + g) * hd + d] : 0.0f;
  }

  const int qv = threadIdx.x >> 2, quarter = threadIdx.x & 3;
  const int rr = qv / hg.count, g = qv % hg.count;
  const bool valid = rr < rows_here;
  const int64_t n_keys = valid ? pos0 + r0 + rr + 1 : 0;
  const int64_t chunks = (pos0 + r0 + rows_here + kChunk - 1) / kChunk;
  const int64_t keys_loaded = pos0 + r0 + rows_here;  // keys any row of the tile sees
  const float* q_row = q_s + qv * pitch;
  float* p_row = p_s + qv * (kChunk + 1);

  SoftmaxState st;
  float4 o[kTiledF4];
#pragma unroll
  for (int i = 0; i < kTiledF4; ++i) o[i] = make_float4(0, 0, 0, 0);

  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t j0 = c * kChunk;
    __syncthreads();  // Q is staged; the previous chunk is done with k_s, v_s
    for (int i = threadIdx.x; i < kChunk * f4s; i += blockDim.x) {
      const int jj = i / f4s, f = i % f4s;
      const int64_t j = j0 + jj;
      float4 kk = make_float4(0, 0, 0, 0), vv = kk;
      if (j < keys_loaded) {
        kk = *reinterpret_cast<const float4*>(kv_row(a.k_cache, a.k, j, pos0, kvd) + hg.kvh * hd + 4 * f);
        vv = *reinterpret_cast<const float4*>(kv_row(a.v_cache, a.v, j, pos0, kvd) + hg.kvh * hd + 4 * f);
      }
      *reinterpret_cast<float4*>(k_s + jj * pitch + 4 * f) = kk;
      *reinterpret_cast<float4*>(v_s + jj * pitch + 4 * f) = vv;
    }
    __syncthreads();
    const int nv = int(max64(0, min64(kChunk, n_keys - j0)));

    // Scores of keys quarter, quarter + 4, ... and the chunk max over the 4 threads of this query.
    float sc[kChunk / 4];
    float m = -INFINITY;
#pragma unroll
    for (int i = 0; i < kChunk / 4; ++i) {
      const int j = quarter + 4 * i;
      sc[i] = -INFINITY;
      if (j < nv) {
        sc[i] = __fmul_rn(dot_qk<true>(q_row, k_s + j * pitch, hd), a.scale);
        m = fmaxf(m, sc[i]);
      }
    }
    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
#pragma unroll
    for (int i = 0; i < kChunk / 4; ++i) {
      const int j = quarter + 4 * i;
      p_row[j] = j < nv ? expf(__fsub_rn(sc[i], m)) : 0.0f;
    }
    __syncwarp();  // the 4 threads of a query vector are lanes of one warp
    if (nv > 0) {
      float l = 0.0f;
      for (int j = 0; j < nv; ++j) l = __fadd_rn(l, p_row[j]);
      float4 oc[kTiledF4];
#pragma unroll
      for (int i = 0; i < kTiledF4; ++i) oc[i] = make_float4(0, 0, 0, 0);
      for (int j = 0; j < nv; ++j) {
        const float p = p_row[j];
#pragma unroll
        for (int i = 0; i < kTiledF4; ++i) {
          const int f = quarter + 4 * i;
          if (f < f4s) {
            const float4 v4 = *reinterpret_cast<const float4*>(v_s + j * pitch + 4 * f);
            oc[i].x = fmaf(p, v4.x, oc[i].x);
            oc[i].y = fmaf(p, v4.y, oc[i].y);
            oc[i].z = fmaf(p, v4.z, oc[i].z);
            oc[i].w = fmaf(p, v4.w, oc[i].w);
          }
        }
      }
      const float2 fct = merge_chunk(st, m, l);
#pragma unroll
      for (int i = 0; i < kTiledF4; ++i) {
        o[i].x = merge_out(o[i].x, oc[i].x, fct);
        o[i].y = merge_out(o[i].y, oc[i].y, fct);
        o[i].z = merge_out(o[i].z, oc[i].z, fct);
        o[i].w = merge_out(o[i].w, oc[i].w, fct);
      }
    }
  }
  if (!valid) return;
  float* out = a.out + (r0 + rr) * qd + int64_t(h0 + g) * hd;
#pragma unroll
  for (int i = 0; i < kTiledF4; ++i) {
    const int f = quarter + 4 * i;
    if (f < f4s)
      *reinterpret_cast<float4*>(out + 4 * f) = make_float4(__fdiv_rn(o[i].x, st.l), __fdiv_rn(o[i].y, st.l),
                                                            __fdiv_rn(o[i].z, st.l), __fdiv_rn(o[i].w, st.l));
  }
}

int query_passes(const AttentionArgs& a) { return int((a.n_heads / a.n_kv_heads + kGroupMax - 1) / kGroupMax); }

}  // namespace

size_t attention_tiled_smem(int64_t head_dim) {
  const int64_t pitch = head_dim + 4;
  return size_t((kTiledQueries + 2 * kChunk) * pitch + kTiledQueries * (kChunk + 1)) * sizeof(float);
}

void init_attention_kernels(size_t bytes) {
  // The opt-in covers static and dynamic shared memory together.
  cudaFuncAttributes attr{};
  check(cudaFuncGetAttributes(&attr, attention_tiled), "reading attention_tiled's attributes");
  const int dynamic = int(bytes - attr.sharedSizeBytes);
  check(cudaFuncSetAttribute(attention_tiled, cudaFuncAttributeMaxDynamicSharedMemorySize, dynamic),
        "raising attention_tiled's shared memory limit");
}

void launch_attention_chunks(const AttentionArgs& a, const LaunchTarget& to) {
  if (a.t == 0) return;
  const int group = int(a.n_heads / a.n_kv_heads);
  const dim3 grid(unsigned(a.n_kv_heads * query_passes(a)), unsigned(a.n_chunks), unsigned(a.t));
  const size_t smem = size_t(std::min(group, kGroupMax) * a.head_dim + kGroupMax * kChunk) * sizeof(float);
  const bool vec4 = a.head_dim % 4 == 0 && aligned16(a.q) && aligned16(a.k) && aligned16(a.k_cache);
  if (vec4)
    launch_kernel(to, "attention_chunk_partials", attention_chunk_partials<true>, grid, kChunkThreads, smem, a);
  else
    launch_kernel(to, "attention_chunk_partials", attention_chunk_partials<false>, grid, kChunkThreads, smem, a);
}

void launch_attention_merge(const AttentionArgs& a, const LaunchTarget& to) {
  if (a.t == 0) return;
  launch_kernel(to, "attention_merge", attention_merge, dim3(unsigned(a.n_heads), unsigned(a.t)), 128, 0, a);
}

void launch_attention_tiled(const AttentionArgs& a, const LaunchTarget& to) {
  if (a.t == 0) return;
  const int group = int(a.n_heads / a.n_kv_heads);
  const int rows_per_tile = kTiledQueries / std::min(group, kGroupMax);
  const dim3 grid(unsigned(a.n_kv_heads * query_passes(a)), blocks_for(a.t, rows_per_tile));
  launch_kernel(to, "attention_tiled", attention_tiled, grid, kTiledThreads, attention_tiled_smem(a.head_dim), a);
}

}  // namespace bitlab::cuda
