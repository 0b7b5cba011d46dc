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
  enter_kernel();
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
  enter_kernel();
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = __fadd_rn(a[i], b[i]);
}

__global__ void relu2_mul_f64(const float* g, const float* u, float* y, int64_t n) {
  enter_kernel();
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = relu2_mul_one(g[i], u[i]);
}

// Waits like every kernel: the previous step's kernels may still read the position.
__global__ void set_position(int64_t* dev, int64_t value) {
  enter_kernel();
  *dev = value;
}

}  // namespace

void launch_embed(const EmbedArgs& a, const LaunchTarget& to) {
  if (a.t == 0) return;
  launch_kernel(to, "embed_rows", embed_rows, unsigned(a.t), 256, 0, a);
}

void launch_elementwise(const ElementwiseArgs& a, const LaunchTarget& to) {
  if (a.n == 0) return;
  const unsigned blocks = blocks_for(a.n, 256) < 4096u ? blocks_for(a.n, 256) : 4096u;
  if (a.kind == ElementwiseArgs::Kind::Add) {
    launch_kernel(to, "add_f32", add_f32, blocks, 256, 0, a.a, a.b, a.y, a.n);
  } else {
    launch_kernel(to, "relu2_mul_f64", relu2_mul_f64, blocks, 256, 0, a.a, a.b, a.y, a.n);
  }
}

bool kernel_image_available(cudaError_t* why) {
  cudaFuncAttributes attr;
  const cudaError_t e = cudaFuncGetAttributes(&attr, set_position);
  if (why) *why = e;
  cudaGetLastError();  // clear it: a missing image is an answer here, not a failure
  return e == cudaSuccess;
}

bool kernels_wait_for_producers() {
  // The kernels' griddepcontrol instructions exist only in code compiled for
  // sm_90 or newer; a GPU running code JIT-compiled from older PTX has none.
  cudaFuncAttributes attr;
  if (cudaFuncGetAttributes(&attr, set_position) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.ptxVersion >= 90;
}

void launch_set_position(int64_t* dev, int64_t value, const LaunchTarget& to) {
  launch_kernel(to, "set_position", set_position, 1, 1, 0, dev, value);
}

}  // namespace bitlab::cuda
