// The kernel variants of the CPU backends as data. Each ISA lists, per op of
// model/ops.h, the kernels it can run (kernels/cpu/<isa>/table.cpp); a backend's
// kernel table is built from its list: per op the pinned variant, else the
// first one in list order that this CPU can run. The scalar kernels are in the
// avx512 and neon lists too, last, as the reference point to compare with.
//
// Names follow XNNPACK's <types>_<op>_<tile>__<isa>, e.g.
// t2i8_matmul_r16k16__avx512vnni (ternary 2-bit weights x int8 activations,
// 16x16 tiles, AVX-512 VNNI) or f32_rmsnorm__avx512.
#pragma once
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "model/backend.h"

namespace bitlab::cpu {

struct CpuVariant {
  const char* name;
  const char* op;  // model/ops.h name: "matmul_w2a8", "rmsnorm", ...
  // Empty when this CPU can run the variant, else why not ("CPU lacks avx512_vnni").
  // Cheap (cpuid / hwcaps), called by every listing.
  std::string (*why_not)();
  // Writes the variant's kernel(s) into the table's slots for `op` (the matmul
  // installs its layout, repack and row block with the kernel).
  void (*install)(CpuKernels& k);
  // For matmul variants: DeviceInfo::variant of a table running it ("avx512-vnni").
  const char* summary = nullptr;
  // For matmul variants: the bits per weight of the layout it installs.
  WeightBits bits = WeightBits::Two;
};

// For variants that run on any CPU the backend itself runs on.
inline std::string runs_anywhere() { return {}; }

// The list as the registry reports it: usable or why not, the default per op marked.
std::vector<KernelVariant> describe_variants(std::span<const CpuVariant> list);

// A kernel table and the variant chosen for each op, in model/ops.h order.
struct CpuTable {
  CpuKernels kernels{};
  std::vector<std::pair<std::string, std::string>> chosen;  // (op, variant name)
};

// Builds the table of `list` with `pins` replacing the defaults of their ops.
// The registry checks pins before a backend is made; this checks them again,
// with the same errors, for callers that build a table directly: an unknown
// name or two pins for one op is a UsageError, a variant this CPU cannot run a
// DeviceError. Every slot of the result is filled (the list must cover every op).
CpuTable build_table(const char* backend, std::span<const CpuVariant> list, const std::vector<std::string>& pins);

// The scalar kernels, one variant per op (kernels/cpu/scalar/table.cpp).
std::span<const CpuVariant> scalar_variants();
// Only where the avx512 backend is built (kernels/cpu/avx512/table.cpp): the AVX-512
// kernels, then the scalar ones; and what this CPU lacks of AVX-512 F/BW/VL/DQ
// (and VNNI if asked), "CPU lacks avx512_vnni", empty when nothing.
std::span<const CpuVariant> avx512_variants();
std::string avx512_missing(bool vnni);
// Only where the neon backend is built (kernels/cpu/neon/table.cpp): the NEON kernels,
// then the scalar ones; and why this CPU cannot run them (Advanced SIMD, and
// the dot product if asked), empty when it can.
std::span<const CpuVariant> neon_variants();
std::string neon_missing(bool dotprod);

}  // namespace bitlab::cpu
