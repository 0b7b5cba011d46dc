// The op cases: one list of what every op is checked and timed on, shared by
// the GoogleTest op tests, `bitlab check`, the kernel cases of `bitlab bench`
// and the per-backend Google Benchmark binaries (docs/design.md §5.1).
//
// A case names an op of model/ops.h and its shape, builds its inputs from a
// seed derived from its key (the same bytes on every run and machine), calls
// the op on a Backend, and holds the outputs to the reference (model/reference.h)
// or, for a fused op, to the same backend's own primitives bit for bit
// (model/backend.h). It also knows the bytes one call moves (weights +
// activations + outputs) and its arithmetic operations, for the benchmarks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "model/backend.h"
#include "model/config.h"
#include "model/weights/synthetic.h"

namespace bitlab::opcase {

// The result documents' schema id (results/schema/result.schema.json).
inline constexpr const char* kResultSchema = "bitlab-result/1";

// NMSE bounds (docs/design.md §5): ops that round once or twice differently
// from the reference, ops whose summation order differs from it (it
// accumulates in double), and whole-network logits.
inline constexpr double kNmseExact = 1e-12;
inline constexpr double kNmseReordered = 1e-10;
inline constexpr double kNmseEndToEnd = 1e-8;

// Normalised mean squared error Σ(a−b)² / Σb²; Σ(a−b)² when b is all zero.
// (Inline, as randn: tests that link no op case use them too.)
inline double nmse(std::span<const float> got, std::span<const float> want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = double(got[i]) - double(want[i]);
    num += d * d;
    den += double(want[i]) * double(want[i]);
  }
  return den == 0 ? num : num / den;
}
// n values ≈ N(0, scale²) from one seed.
inline std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  SplitMix64 g(seed);
  std::vector<float> v(n);
  for (float& x : v) x = scale * g.normal();
  return v;
}

// How a case's outputs are held to what they must equal.
struct Tolerance {
  bool bit_exact = true;
  double nmse_bound = 0;  // when not bit_exact
  static Tolerance exact() { return {true, 0}; }
  static Tolerance within(double bound) { return {false, bound}; }
};

// What verify() found.
struct Outcome {
  bool pass = false;
  std::optional<bool> bit_exact;    // bit-exact cases
  std::optional<double> nmse;       // NMSE cases
  std::optional<double> threshold;  // NMSE cases
  std::string detail;               // why it failed (empty on a pass)
};

// One case's inputs and outputs on one backend, built before any timing.
class Prepared {
 public:
  virtual ~Prepared() = default;
  // One call of the op; `copy` picks one of the rotated weight copies.
  virtual void run(size_t copy) = 0;
  // After exactly one run() (some ops work in place): the outputs against the reference (or the backend's own
  // primitives, for a fused op), and no write outside any output.
  virtual Outcome verify() = 0;
};

struct OpCase {
  std::string op;     // the Backend method it calls: "matmul_w2a8", "rmsnorm_quant", ...
  std::string label;  // which instance: "qkv", "odd", ... (may be empty)
  // The shape, in key order: N, K, D, V, heads, hd, pos, T.
  std::vector<std::pair<std::string, int64_t>> params;
  Tolerance tolerance;
  double bytes = 0;         // one call: weights + activations + outputs
  double ops = 0;           // one call: arithmetic operations (a multiply-add is 2)
  size_t weight_bytes = 0;  // the weight part of `bytes`, rotated by cold runs
  // Uploads the inputs (and `copies` copies of the weights) to `be`.
  std::function<std::unique_ptr<Prepared>(Backend& be, size_t copies)> prepare;

  // "<op>[/<label>]/<P>:<v>/...", e.g. matmul_w2a8/qkv/N:3840/K:2560/T:1: the
  // check name in `bitlab check` and the name of the test's trace.
  std::string key() const;
  // The shape part of the key: "N:3840/K:2560/T:1".
  std::string shape_key() const;
  int64_t param(const std::string& name, int64_t fallback = 0) const;
};

// ---- the three case sets ----------------------------------------------------
// The token counts every benchmark runs the BitLinear shapes at.
const std::vector<int64_t>& bench_tokens();
// The unit tests: odd sizes and SIMD tails, unequal fused parts, and the 2B4T
// shapes, each case in a family (cases_by_family) a test runs together.
std::vector<OpCase> unit_cases();
// `bitlab check`: every op on odd sizes and on `c`'s own shapes.
std::vector<OpCase> check_cases(const ModelConfig& c);
// The benchmarks: `c`'s BitLinear shapes at each of `tokens`, then the bf16
// and the int8 head at one token (the head sees one row per decode step).
std::vector<OpCase> bench_cases(const ModelConfig& c, const std::vector<int64_t>& tokens);
// Every op name a case set can hold (for --op).
std::vector<std::string> case_ops();

// Cases grouped by "<op>/<label>" in list order: the unit tests' families.
std::vector<std::pair<std::string, std::vector<OpCase>>> cases_by_family(const std::vector<OpCase>& cases);

// ---- running --------------------------------------------------------------
// Builds the case on `be`, runs it once and verifies it. A UsageError or
// DeviceError from the backend propagates.
Outcome check_case(Backend& be, const OpCase& c);

// The one cold-cache policy of every benchmark: weight copies rotated until
// together they exceed max(256 MiB, 4 x the last-level cache), at most 512.
size_t cold_budget_bytes();
size_t cold_copies_for(const OpCase& c);

// The benchmark key: kernel/<op>/<backend>/<shape>/threads:<threads>, with
// /variant:<name> where a kernel variant other than the op's default was
// pinned for the run.
std::string bench_key(const OpCase& c, const DeviceInfo& di, const std::string& pinned = {});

// ---- kernel variants --------------------------------------------------------
// The usable variants of `backend` for `op` (kernel_variants, kernels/registry.h).
std::vector<std::string> usable_variants(const std::string& backend, const std::string& op);
// The name of the kernel `di`'s backend runs for `op`: its DeviceInfo::kernels
// entry when it reports one, else DeviceInfo::variant.
std::string kernel_for(const DeviceInfo& di, const std::string& op);

}  // namespace bitlab::opcase
