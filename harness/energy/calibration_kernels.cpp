#include "harness/energy/calibration_kernels.h"

#include <chrono>
#include <memory>
#include <thread>

#include "harness/op_cases/families.h"

namespace bitlab {

std::vector<CalibrationKernel> calibration_kernels(Backend& be) {
  // GEMV: a 4096 x 8192 matrix (8 MiB of 2-bit codes), as many copies as the
  // benchmarks rotate to keep a matrix out of the caches.
  const opcase::OpCase gemv_case = opcase::matmul_case("calibrate", {4096}, 8192, 1);
  auto gemv = std::shared_ptr<opcase::Prepared>(gemv_case.prepare(be, opcase::cold_copies_for(gemv_case)));
  const size_t copies = opcase::cold_copies_for(gemv_case);
  const OpCounts gemv_counts{4096.0 * 8192.0, 0, double(gemv_case.weight_bytes)};
  // GEMM: 1024 x 2048 (512 KiB of codes) on 128 tokens, one copy: it stays cached.
  const opcase::OpCase gemm_case = opcase::matmul_case("calibrate", {1024}, 2048, 128);
  auto gemm = std::shared_ptr<opcase::Prepared>(gemm_case.prepare(be, 1));
  const OpCounts gemm_counts{1024.0 * 2048.0 * 128.0, 0, 0};
  auto next = std::make_shared<size_t>(0);

  auto run_gemv = [&be, gemv, copies, next, gemv_counts] {
    gemv->run((*next)++ % copies);
    be.synchronize();
    return gemv_counts;
  };
  return {
      {"idle", {}},
      {"gemv", run_gemv},
      {"gemm",
       [&be, gemm, gemm_counts] {
         gemm->run(0);
         be.synchronize();
         return gemm_counts;
       }},
      {"gemv-half",
       [run_gemv] {
         const auto t0 = std::chrono::steady_clock::now();
         const OpCounts n = run_gemv();
         std::this_thread::sleep_for(std::chrono::steady_clock::now() - t0);
         return n;
       }},
  };
}

}  // namespace bitlab
