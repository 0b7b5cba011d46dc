#version 460
// Causal grouped-query attention over the KV cache (the new rows were copied
// into it just before): query head h reads KV head h / group; row r sees
// positions 0..pos0+r. One workgroup per (head, row).
//
// Keys go in tiles of WG. Each subgroup scores keys of the tile in turn, its
// lanes splitting the head_dim products of one key row (contiguous reads) and
// subgroupAdd summing them; the tile's max and sum then update a running
// softmax (online, so no buffer of n_keys scores), and each invocation
// accumulates up to two output dims over the tile's values (contiguous reads
// again). head_dim <= 2 * WG (checked on the host).
// 2B4T: head_dim 128, WG 128, 20 heads over 5 KV heads.
#include "common.glsl"
#include "reduce.glsl"
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(push_constant) uniform Args {
  F32s q;        // [t, n_heads * head_dim]
  F32s k_cache;  // [max_pos, kv_stride]
  F32s v_cache;  // [max_pos, kv_stride]
  F32s y;        // [t, n_heads * head_dim]
  uint pos0;
  uint n_heads;
  uint group;  // query heads per KV head
  uint head_dim;
  uint kv_stride;
  float scale;  // 1 / sqrt(head_dim)
} a;

shared float q_head[2 * WG];
shared float scores[WG];
shared float probs[WG];

#define NEG_INF uintBitsToFloat(0xff800000u)

void main() {
  const uint h = gl_WorkGroupID.x, row = gl_WorkGroupID.y, tid = gl_LocalInvocationIndex;
  const uint hd = a.head_dim, q_base = (row * a.n_heads + h) * hd, kv_off = (h / a.group) * hd;
  const uint n_keys = a.pos0 + row + 1u;
  for (uint i = tid; i < hd; i += WG) q_head[i] = a.q.v[q_base + i];
  barrier();
  float m = NEG_INF, l = 0.0, acc0 = 0.0, acc1 = 0.0;
  for (uint j0 = 0u; j0 < n_keys; j0 += WG) {
    const uint len = min(WG, n_keys - j0);
    for (uint jj = gl_SubgroupID; jj < len; jj += gl_NumSubgroups) {
      const uint kb = (j0 + jj) * a.kv_stride + kv_off;
      float part = 0.0;
      for (uint i = gl_SubgroupInvocationID; i < hd; i += gl_SubgroupSize) part += q_head[i] * a.k_cache.v[kb + i];
      const float dot_qk = subgroupAdd(part);
      if (subgroupElect()) scores[jj] = dot_qk * a.scale;
    }
    barrier();
    const uint j = j0 + tid;
    const float score = j < n_keys ? scores[tid] : NEG_INF;
    const float m_new = max(m, workgroup_max(score));
    const float p = j < n_keys ? exp(score - m_new) : 0.0;
    probs[tid] = p;
    const float tile_sum = workgroup_sum(p);  // its barriers also publish probs
    const float correction = m == NEG_INF ? 0.0 : exp(m - m_new);
    l = l * correction + tile_sum;
    acc0 *= correction;
    acc1 *= correction;
    for (uint jj = 0u; jj < len; ++jj) {
      const uint vb = (j0 + jj) * a.kv_stride + kv_off;
      const float pj = probs[jj];
      if (tid < hd) acc0 += pj * a.v_cache.v[vb + tid];
      if (tid + WG < hd) acc1 += pj * a.v_cache.v[vb + tid + WG];
    }
    m = m_new;
    barrier();  // scores and probs are rewritten by the next tile
  }
  if (tid < hd) a.y.v[q_base + tid] = acc0 / l;
  if (tid + WG < hd) a.y.v[q_base + tid + WG] = acc1 / l;
}
