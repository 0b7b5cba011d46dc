// Elementwise ops and the embedding lookup.
//
//   embed_rows       out [t, d] = bf16 table row -> fp32 (exact), one block per token
//   add_f32          y = a + b, one fp32 add: bit-identical to the reference
//   relu2_mul_f64    y = float(double(max(g,0))^2 * u): the reference's arithmetic
//   set_position     the device position a recorded step reads
// All are memory-bound and tiny at 2B4T sizes (d = 2560, ffn = 6912): one
// element per thread and iteration, grid-stride loops, no vector tricks.
#include "kernels/cuda/device_common.cuh"

namespace bitlab::cuda {
namespace {

__global__ void embed_rows(EmbedArgs a) {
  const int64_t r = blockIdx.x;
  const int32_t id = a.ids[r];
  const bool ok = id >= 0 && id < a.vocab;
  if (!ok && threadIdx.x == 0 && a.bad_id) {  // [1] = the id, [0] = "seen"
    a.bad_id[1] = id;
    a.bad_id[0] = 1;
  }
  float* out = a.out + r * a.d;
  const uint16_t* row = a.table + (ok ? int64_t(id) * a.d : 0);
  for (int64_t i = threadIdx.x; i < a.d; i += blockDim.x) out[i] = ok ? bf16_bits_to_float(row[i]) : 0.0f;
}

__global__ void add_f32(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = __fadd_rn(a[i], b[i]);
}

__global__ void relu2_mul_f64(const float* g, const float* u, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    // std::max(g, 0.0f) as the reference writes it: a NaN gate stays NaN (fmaxf
    // would turn it into 0 and hide it).
    const float gi = g[i];
    const double r = gi < 0.0f ? 0.0f : gi;
    y[i] = __double2float_rn(__dmul_rn(__dmul_rn(r, r), double(u[i])));
  }
}

__global__ void set_position(int64_t* dev, int64_t value) { *dev = value; }

}  // namespace

void launch_embed(const EmbedArgs& a, cudaStream_t s) {
  if (a.t == 0) return;
  embed_rows<<<unsigned(a.t), 256, 0, s>>>(a);
  check_launch("embed_rows");
}

void launch_elementwise(const ElementwiseArgs& a, cudaStream_t s) {
  if (a.n == 0) return;
  const unsigned blocks = blocks_for(a.n, 256) < 4096u ? blocks_for(a.n, 256) : 4096u;
  if (a.kind == ElementwiseArgs::Kind::Add) {
    add_f32<<<blocks, 256, 0, s>>>(a.a, a.b, a.y, a.n);
    check_launch("add_f32");
  } else {
    relu2_mul_f64<<<blocks, 256, 0, s>>>(a.a, a.b, a.y, a.n);
    check_launch("relu2_mul_f64");
  }
}

bool kernel_image_available(cudaError_t* why) {
  cudaFuncAttributes attr;
  const cudaError_t e = cudaFuncGetAttributes(&attr, set_position);
  if (why) *why = e;
  cudaGetLastError();  // clear it: a missing image is an answer here, not a failure
  return e == cudaSuccess;
}

void launch_set_position(int64_t* dev, int64_t value, cudaStream_t s) {
  set_position<<<1, 1, 0, s>>>(dev, value);
  check_launch("set_position");
}

}  // namespace bitlab::cuda
