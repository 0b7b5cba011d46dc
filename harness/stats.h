// Summary statistics of timing samples, as stored in result files.
#pragma once
#include <span>

#include <nlohmann/json_fwd.hpp>

namespace bitlab {

struct Stats {
  int64_t count = 0;
  double min = 0, median = 0, mean = 0, p10 = 0, p90 = 0, stddev = 0;
};

// Percentiles interpolate linearly between order statistics (numpy's default);
// stddev is the sample standard deviation (n - 1), 0 for one sample.
// Throws UsageError on no samples.
Stats summarize(std::span<const double> samples);
double percentile(std::span<const double> sorted, double q);
// Sorts `samples` in place and returns their median (percentile 0.5).
double median_in_place(std::span<double> samples);

nlohmann::json to_json(const Stats& s);

}  // namespace bitlab
