#include "harness/context_diff.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <fmt/format.h>

namespace bitlab::cli {
namespace {

bool has_quick(const std::string& command) {
  std::istringstream words(command);
  for (std::string w; words >> w;)
    if (w == "--quick") return true;
  return false;
}

}  // namespace

std::string busy_machine(const ResultContext& c, const std::string& who) {
  std::string out;
  if (!std::isnan(c.load_average) && c.logical_cores > 0 && c.load_average > double(c.logical_cores))
    out = fmt::format("{} ran on a busy machine: load average {:.2f} on {} logical cores", who, c.load_average,
                      c.logical_cores);
  if (!std::isnan(c.steal_fraction) && c.steal_fraction > kStealLimit)
    out += fmt::format("{}{} lost {:.0f}% of its CPU time to steal (the hypervisor ran something else)",
                       out.empty() ? "" : "; ", who, c.steal_fraction * 100);
  return out;
}

std::vector<std::string> context_differences(const ResultContext& base, const ResultContext& current) {
  std::vector<std::string> out;
  const double bw_a = base.bandwidth_gbps, bw_b = current.bandwidth_gbps;
  if (!std::isnan(bw_a) && !std::isnan(bw_b) && bw_a > 0 && bw_b > 0 &&
      std::max(bw_a, bw_b) / std::min(bw_a, bw_b) - 1 > kBandwidthTolerance)
    out.push_back(fmt::format("memory bandwidth differs by {:.0f}% (BASE {:.1f} GB/s, NEW {:.1f} GB/s)",
                              (std::max(bw_a, bw_b) / std::min(bw_a, bw_b) - 1) * 100, bw_a, bw_b));
  if (!base.command.empty() && !current.command.empty() && has_quick(base.command) != has_quick(current.command))
    out.push_back(fmt::format("--quick in {}'s command line only (shorter minimum times per case)",
                              has_quick(base.command) ? "BASE" : "NEW"));
  if (base.model != current.model)
    out.push_back(fmt::format("models differ (BASE {}, NEW {})", base.model, current.model));
  if (base.threads != current.threads)
    out.push_back(fmt::format("thread counts differ (BASE {}, NEW {})", base.threads, current.threads));
  if (base.cpu_model != current.cpu_model)
    out.push_back(fmt::format("CPU models differ (BASE {}, NEW {})", base.cpu_model, current.cpu_model));
  if (base.dirty || current.dirty)
    out.push_back(
        fmt::format("{} built from a dirty git tree: its commit does not say what ran",
                    base.dirty && current.dirty ? "BASE and NEW were" : (base.dirty ? "BASE was" : "NEW was")));
  for (const auto& [c, who] : {std::pair{&base, "BASE"}, std::pair{&current, "NEW"}})
    if (std::string b = busy_machine(*c, who); !b.empty()) out.push_back(std::move(b));
  return out;
}

}  // namespace bitlab::cli
