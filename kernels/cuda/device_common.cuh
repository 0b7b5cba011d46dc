// Device helpers shared by the kernel files: warp reductions with a fixed
// order (so results do not depend on timing), positions read at run time,
// cp.async and the int8 MMA, programmatic dependent launch, and the launcher
// every kernel goes through.
//
// Every .cu file is compiled with -fmad=false: a multiply followed by an add is
// never fused behind our back, so the BitLinear epilogue and the int8 rounding
// match the reference bit for bit; kernels that want an FMA write fmaf().
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <utility>

#include "kernels/cuda/cuda_error.h"
#include "kernels/cuda/launch.h"

namespace bitlab::cuda {

// Programmatic dependent launch (sm_90 and newer; no-ops on older GPUs and for
// kernels launched the plain way). A kernel launched programmatically may start
// while the kernel before it in the stream still runs. Every kernel therefore
// keeps one rule: before wait_for_producers() it reads only what no kernel
// writes (weights, norm weights, the embedding) and writes nothing. The wait
// returns once every earlier kernel has finished and its writes are visible
// (each kernel waited for its own predecessor before finishing, so this holds
// down the whole chain). allow_dependents() lets the next kernel start; every
// kernel calls it first thing, so the next one's launch and its pre-wait loads
// overlap this one.
__device__ __forceinline__ void allow_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wait_for_producers() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
// The usual prologue: nothing to load before the wait.
__device__ __forceinline__ void enter_kernel() {
  allow_dependents();
  wait_for_producers();
}

// kernel<<<grid, block, smem, to.stream>>>(args...), programmatic where `to`
// says so; throws DeviceError naming the kernel if the launch fails.
template <class... Params, class... Args>
void launch_kernel(const LaunchTarget& to, const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
                   size_t smem, Args&&... args) {
  cudaLaunchAttribute attr[1] = {};
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = to.stream;
  cfg.attrs = attr;
  cfg.numAttrs = to.programmatic ? 1 : 0;
  const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear it; the DeviceError carries it
    check(e, (std::string("launching ") + name).c_str());
  }
}

__host__ __device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__host__ __device__ __forceinline__ int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

__device__ __forceinline__ int64_t position(const PosRef& p) { return (p.dev ? *p.dev : 0) + p.add; }

struct SumOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    return a + b;
  }
};
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Butterfly reduction over a warp. For a float sum the lanes may end with
// differently rounded totals: only lane 0's is used, and it is the same every run.
template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Reduction over the whole block (a multiple of 32 threads) through `scratch`
// [>= 32]; every thread gets the result. Fixed order: lanes, then warps 0, 1, ...
template <class T, class Op>
__device__ __forceinline__ T block_reduce(T v, T* scratch, Op op) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_reduce(v, op);
  __syncthreads();  // scratch may still be read after a previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T r = scratch[0];
  for (int w = 1; w < warps; ++w) r = op(r, scratch[w]);
  return r;
}

// 16-byte asynchronous copy global -> shared; valid = false fills zeros and
// reads nothing (src must still be a mapped address).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem), "r"(bytes));
}
// "memory": the compiler must not move shared-memory reads of a stage above
// the wait that makes its copies visible (today a __syncthreads follows every
// wait, which happens to prevent it; the clobber does not rely on that).
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// d += A (16x32 s8, row) * B (32x8 s8, col), int32 accumulate (IMMA).
__device__ __forceinline__ void mma_s8_16832(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// The BitLinear epilogue, in the reference's order: float(acc) / s * w_scale,
// each step rounded to nearest (no contraction, IEEE division).
__device__ __forceinline__ float bitlinear_out(int32_t acc, float s, float w_scale) {
  return __fmul_rn(__fdiv_rn(__int2float_rn(acc), s), w_scale);
}

// max(g, 0)^2 * u as the reference computes it: std::max(g, 0.0f) keeps a NaN
// gate (fmaxf would turn it into 0 and hide it), then squared and multiplied in
// double, rounded once. relu2_mul and the fused norm both call this, so they agree.
__device__ __forceinline__ float relu2_mul_one(float g, float u) {
  const double r = g < 0.0f ? 0.0f : g;
  return __double2float_rn(__dmul_rn(__dmul_rn(r, r), double(u)));
}

__device__ __forceinline__ float bf16_bits_to_float(uint32_t bits16) { return __uint_as_float(bits16 << 16); }

inline unsigned blocks_for(int64_t n, int per_block) { return unsigned((n + per_block - 1) / per_block); }

}  // namespace bitlab::cuda
