#include "kernels/cpu/cpu_variants.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab::cpu {
namespace {

// The ops a CPU table has slots for, in model/ops.h order (DeviceInfo::kernels order).
constexpr std::array<std::string_view, 12> kOps{"embed",     "rmsnorm",   "quantize_act", "rmsnorm_quant",
                                                "matmul_w2a8", "rope",    "attention",    "relu2_mul",
                                                "add",       "lm_head",   "lm_head_i8",   "argmax"};

// Every slot a table must have before a backend runs it.
bool complete(const CpuKernels& k) {
  return k.matmul_row_block > 0 && k.packed_bytes && k.repack && k.matmul && k.quantize_row && k.rmsnorm_row &&
         k.rmsnorm_quant_row && k.rope_row && k.embed_row && k.attention_head && k.attention_group && k.relu2_mul &&
         k.add && k.lm_head && k.lm_head_i8 && k.argmax;
}

}  // namespace

std::vector<KernelVariant> describe_variants(std::span<const CpuVariant> list) {
  std::vector<KernelVariant> out;
  std::vector<std::string> have_default;
  for (const CpuVariant& v : list) {
    KernelVariant d{.name = v.name,
                    .op = v.op,
                    .usable = false,
                    .why_not = v.why_not(),
                    .is_default = false,
                    .weight_bits = v.bits};
    d.usable = d.why_not.empty();
    // Only the 2-bit layout is a default; 1.6-bit matmuls run when asked for.
    if (d.usable && d.weight_bits == WeightBits::Two && std::find(have_default.begin(), have_default.end(), d.op) == have_default.end()) {
      d.is_default = true;
      have_default.push_back(d.op);
    }
    out.push_back(std::move(d));
  }
  return out;
}

CpuTable build_table(const char* backend, std::span<const CpuVariant> list, const std::vector<std::string>& pins) {
  const std::vector<KernelVariant> described = describe_variants(list);
  std::vector<const CpuVariant*> pinned;  // at most one per op
  for (const std::string& pin : pins) {
    const auto it = std::find_if(list.begin(), list.end(), [&](const CpuVariant& v) { return pin == v.name; });
    if (it == list.end())
      throw UsageError(fmt::format("backend '{}' has no kernel variant '{}'", backend, pin));
    const std::string& why = described[size_t(it - list.begin())].why_not;
    if (!why.empty())
      throw DeviceError(fmt::format("kernel variant '{}' of backend '{}' cannot run here: {}", pin, backend, why));
    for (const CpuVariant* p : pinned)
      if (std::string_view(p->op) == it->op)
        throw UsageError(fmt::format("two kernel variants pinned for op '{}' of backend '{}'", it->op, backend));
    pinned.push_back(&*it);
  }

  CpuTable t;
  t.kernels.variant = backend;
  for (std::string_view op : kOps) {
    const CpuVariant* use = nullptr;
    for (const CpuVariant* p : pinned)
      if (op == p->op) use = p;
    for (size_t i = 0; !use && i < list.size(); ++i)
      if (op == list[i].op && described[i].is_default) use = &list[i];
    if (!use) continue;
    use->install(t.kernels);
    if (use->summary) t.kernels.variant = use->summary;
    t.chosen.emplace_back(std::string(op), use->name);
  }
  if (!complete(t.kernels))
    throw std::logic_error(fmt::format("backend '{}': its kernel variants leave an op without a kernel", backend));
  return t;
}

}  // namespace bitlab::cpu
