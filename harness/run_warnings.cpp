#include "harness/run_warnings.h"

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace bitlab {
namespace {

// A number the document holds at `key`, or nullptr: a document from an older
// version or another OS may lack any of them.
const nlohmann::json* number_at(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it != obj.end() && it->is_number() ? &*it : nullptr;
}

}  // namespace

std::vector<std::string> run_warnings(const nlohmann::json& doc) {
  std::vector<std::string> out;
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& ctx = doc.is_object() && doc.contains("context") ? doc["context"] : empty;
  const auto* threads = number_at(ctx, "threads");
  if (const auto* other = number_at(ctx, "other_busy_fraction"); other && other->get<double>() > kBusyOtherFraction)
    out.push_back(fmt::format("machine busy: other processes used {:.0f} % of all CPU time during the run (above {:.0f} %)",
                              other->get<double>() * 100, kBusyOtherFraction * 100));
  if (const auto* steal = number_at(ctx, "steal_fraction"); steal && steal->get<double>() > kBusyStealFraction)
    out.push_back(fmt::format("machine busy: the hypervisor took {:.0f} % of CPU time (steal, above {:.0f} %)",
                              steal->get<double>() * 100, kBusyStealFraction * 100));
  if (const auto* load = number_at(ctx, "load_average_1m"); load && threads) {
    const double limit = threads->get<double>() + kLoadMargin;
    if (load->get<double>() > limit)
      out.push_back(fmt::format("machine busy: load average {:.2f} with {} threads in use (above {:.1f})",
                                load->get<double>(), threads->get<int64_t>(), limit));
  }
  if (doc.is_object() && doc.contains("measurements") && doc["measurements"].is_array())
    for (const nlohmann::json& m : doc["measurements"]) {
      if (!m.is_object() || !m.contains("stats") || !m.contains("key")) continue;
      const nlohmann::json& s = m["stats"];
      const auto *count = number_at(s, "count"), *median = number_at(s, "median");
      const auto *p10 = number_at(s, "p10"), *p90 = number_at(s, "p90");
      if (!count || !median || !p10 || !p90 || count->get<int64_t>() < kSpreadMinSamples) continue;
      if (median->get<double>() <= 0) continue;
      const double spread = (p90->get<double>() - p10->get<double>()) / median->get<double>();
      if (spread > kSpreadLimit)
        out.push_back(fmt::format("spread: {} varies by {:.0f} % of its median (p10 to p90, {} samples; above {:.0f} %)",
                                  m["key"].is_string() ? m["key"].get<std::string>() : m["key"].dump(), spread * 100,
                                  count->get<int64_t>(), kSpreadLimit * 100));
    }
  return out;
}

std::vector<std::string> add_run_warnings(nlohmann::json& doc) {
  std::vector<std::string> w = run_warnings(doc);
  if (!w.empty()) doc["warnings"] = w;
  return w;
}

void print_run_warnings(const std::vector<std::string>& warnings) {
  std::fflush(stdout);  // after the table, also when stdout is a file or a pipe
  for (const std::string& w : warnings) fmt::print(stderr, "warning: {}\n", w);
}

}  // namespace bitlab
