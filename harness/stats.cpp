#include "harness/stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/error.h"

namespace bitlab {

double median_in_place(std::span<double> samples) {
  std::sort(samples.begin(), samples.end());
  return percentile(samples, 0.5);
}

double percentile(std::span<const double> sorted, double q) {
  if (sorted.empty()) throw UsageError("percentile of no samples");
  const double pos = q * double(sorted.size() - 1);
  const auto lo = size_t(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo]);
}

Stats summarize(std::span<const double> samples) {
  if (samples.empty()) throw UsageError("statistics of no samples");
  std::vector<double> v(samples.begin(), samples.end());
  std::sort(v.begin(), v.end());
  Stats s;
  s.count = int64_t(v.size());
  s.min = v.front();
  s.median = percentile(v, 0.5);
  s.p10 = percentile(v, 0.1);
  s.p90 = percentile(v, 0.9);
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(ss / double(v.size() - 1)) : 0.0;
  return s;
}

nlohmann::json to_json(const Stats& s) {
  return {{"count", s.count}, {"min", s.min},       {"median", s.median}, {"mean", s.mean},
          {"p10", s.p10},     {"p90", s.p90},       {"stddev", s.stddev}};
}

}  // namespace bitlab
