// `bitlab info`: what this machine is (with its measured int8 multiply-add
// peak), which backends it can run and which energy sensors it offers, with
// the reason for each one it cannot.
// `bitlab info --kernels`: every kernel variant of every backend, one a line.
#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "harness/build_info.h"
#include "harness/commands.h"
#include "harness/compute_peak.h"
#include "harness/energy/sensors.h"
#include "kernels/registry.h"
#include "common/sysinfo.h"

namespace bitlab::cli {
namespace {

// The ISA features that matter to bitlab's kernels, in the order worth reading.
const char* const kInterestingFlags[] = {
    "sse4_2",      "avx",        "avx2",       "fma",        "f16c",     "avx_vnni",  "avx512f",  "avx512bw",
    "avx512vl",    "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16", "asimd",    "asimddp",
    "asimdhp",     "i8mm",       "sve",        "sve2"};

int run_info() {
  const auto flags = cpu_flags();
  std::vector<std::string> shown;
  for (const char* f : kInterestingFlags)
    if (std::binary_search(flags.begin(), flags.end(), std::string(f))) shown.push_back(f);
  fmt::print("bitlab {} ({} {}, {})\n", kBuildVersion, kBuildCompiler, kBuildType, kBuildFlags);
  fmt::print("machine   {}\n", os_description());
  fmt::print("cpu       {}, {} logical cores, {:.1f} GiB memory\n", cpu_model_name(), logical_cores(),
             double(total_memory_bytes()) / double(1ull << 30));
  fmt::print("isa       {}\n", shown.empty() ? std::string("(none of interest)") : fmt::format("{}", fmt::join(shown, " ")));
  // A short probe (~0.2 s): the ceiling `bitlab bench` holds prefill against, measured again there.
  const ComputePeak peak = measure_int8_peak(logical_cores(), 0.06, 3);
  if (peak.isa.empty())
    fmt::print("int8 peak (no int8 dot-product path on this CPU)\n");
  else
    fmt::print("int8 peak {:.0f} GMAC/s measured ({}, {} threads)\n", peak.macs_per_s / 1e9, peak.isa, peak.threads);
  fmt::print("\nbackends\n");
  for (const BackendEntry& e : list_backends()) {
    const char* state = e.probe.usable ? "usable" : (e.compiled ? "no device" : "not built");
    fmt::print("  {:<10} {:<10} {}\n", e.name, state, e.probe.reason);
  }
  fmt::print("  {:<10} {:<10} {}\n", "reference", "oracle", "model/reference: the plain scalar oracle, one thread");
  fmt::print("\nenergy sensors\n");
  for (const SensorStatus& s : energy_sensors())
    fmt::print("  {:<10} {:<10} {}\n", s.name, s.available ? (s.name == "modelled" ? "estimate" : "usable")
                                                            : "unavailable", s.reason);
  return 0;
}

// One line per variant: name, op, backend, and "default", "usable" or why not;
// a backend not built in has no list, and says so on a line of its own.
int run_kernels() {
  struct Row {
    std::string name, op, backend, state;
  };
  std::vector<Row> rows;
  for (const BackendEntry& e : list_backends()) {
    if (!e.compiled) {
      rows.push_back({"-", "-", e.name, "not built: " + e.probe.reason});
      continue;
    }
    for (const KernelVariant& v : kernel_variants(e.name))
      rows.push_back({v.name, v.op, e.name, !v.usable ? "no: " + v.why_not : v.is_default ? "default" : "usable"});
  }
  Row head{"variant", "op", "backend", "state"};
  size_t wn = head.name.size(), wo = head.op.size(), wb = head.backend.size();
  for (const Row& r : rows) {
    wn = std::max(wn, r.name.size());
    wo = std::max(wo, r.op.size());
    wb = std::max(wb, r.backend.size());
  }
  fmt::print("{:<{}}  {:<{}}  {:<{}}  {}\n", head.name, wn, head.op, wo, head.backend, wb, head.state);
  for (const Row& r : rows) fmt::print("{:<{}}  {:<{}}  {:<{}}  {}\n", r.name, wn, r.op, wo, r.backend, wb, r.state);
  return 0;
}

}  // namespace

CLI::App* add_info(CLI::App& app, Action& action) {
  CLI::App* sub = app.add_subcommand("info", "Show this machine, its ISA and which backends can run here (and why not)");
  auto usable_only = std::make_shared<bool>(false);
  auto kernels = std::make_shared<bool>(false);
  CLI::Option* usable =
      sub->add_flag("--usable", *usable_only, "print only the names of the backends usable here, one per line");
  sub->add_flag("--kernels", *kernels,
                "list every kernel variant of every backend: its op, usable here or why not, the default marked")
      ->excludes(usable);
  sub->callback([&action, usable_only, kernels] {
    action = [usable_only, kernels] {
      if (*kernels) return run_kernels();
      if (!*usable_only) return run_info();
      for (const std::string& name : usable_backends()) fmt::print("{}\n", name);
      return 0;
    };
  });
  return sub;
}

}  // namespace bitlab::cli
