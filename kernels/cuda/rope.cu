// Rotate-half (NeoX) RoPE in place: dim i of each head pairs with i + hd/2,
// angle = pos * theta^(-2i/hd).
//
//   rope_rows_f64   one block per token row, one thread per pair index i; the
//                   angle, its sine and cosine and the rotation are computed in
//                   double, as the reference does (fp32 angles lose ~1e-4 rad at
//                   position 4000), then applied to every head of the row, and
//                   (rope_qk) to every head of the second tensor's row, so q
//                   and k take one launch and one sincos per pair.
// Shapes: q [t, 20 x 128] and k [t, 5 x 128] for 2B4T; 64 pairs per head.
#include "kernels/cuda/device_common.cuh"

namespace bitlab::cuda {
namespace {

__device__ __forceinline__ void rotate_heads(float* row, int64_t n_heads, int64_t head_dim, int64_t i, double sn,
                                             double c) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = row + h * head_dim;
    const double x0 = head[i], x1 = head[i + half];
    head[i] = __double2float_rn(__dsub_rn(__dmul_rn(x0, c), __dmul_rn(x1, sn)));
    head[i + half] = __double2float_rn(__dadd_rn(__dmul_rn(x0, sn), __dmul_rn(x1, c)));
  }
}

__global__ void rope_rows_f64(RopeArgs a) {
  enter_kernel();
  const int64_t r = blockIdx.x, half = a.head_dim / 2;
  const double pos = double(position(a.pos) + r);
  for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    const double freq = pow(a.theta, -2.0 * double(i) / double(a.head_dim));
    double sn, c;
    sincos(pos * freq, &sn, &c);
    rotate_heads(a.x + r * a.n_heads * a.head_dim, a.n_heads, a.head_dim, i, sn, c);
    if (a.x2) rotate_heads(a.x2 + r * a.n_heads2 * a.head_dim, a.n_heads2, a.head_dim, i, sn, c);
  }
}

}  // namespace

void launch_rope(const RopeArgs& a, const LaunchTarget& to) {
  if (a.t == 0) return;
  const int64_t half = a.head_dim / 2;
  const unsigned threads = half >= 128 ? 128u : unsigned((half + 31) / 32 * 32);
  launch_kernel(to, "rope_rows_f64", rope_rows_f64, unsigned(a.t), threads, 0, a);
}

}  // namespace bitlab::cuda
