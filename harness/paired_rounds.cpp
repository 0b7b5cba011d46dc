#include "harness/paired_rounds.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "harness/stats.h"

namespace bitlab {
namespace {

void check_round(const std::vector<double>& g) {
  if (g.empty()) throw std::invalid_argument("paired rounds: an empty round");
  for (double v : g)
    if (!(v > 0) || !std::isfinite(v)) throw std::invalid_argument("paired rounds: a sample is not a positive time");
}

// Uniform in (0, 1], 53 bits: never 0, so its logarithm is finite.
double open_uniform(SplitMix64& g) { return (double(g.next() >> 11) + 1) * 0x1.0p-53; }

double standard_normal(SplitMix64& g) {
  const double u = open_uniform(g), v = open_uniform(g);
  return std::sqrt(-2 * std::log(u)) * std::cos(2 * std::numbers::pi * v);
}

// The round's d = log(median(NEW) / median(BASE)) and the variance of d over
// resamples of each side's samples.
std::pair<double, double> round_estimate(const std::vector<double>& base, const std::vector<double>& cur, SplitMix64& g,
                                         int resamples) {
  std::vector<double> b = base, c = cur;
  const double d = std::log(median_in_place(c) / median_in_place(b));
  double sum = 0, sum2 = 0;
  for (int i = 0; i < resamples; ++i) {
    for (double& v : b) v = base[size_t(g.next() % base.size())];
    for (double& v : c) v = cur[size_t(g.next() % cur.size())];
    const double x = std::log(median_in_place(c) / median_in_place(b));
    sum += x;
    sum2 += x * x;
  }
  const double mean = sum / resamples;
  // A floor: a round of identical samples has no visible spread, but its
  // median is still only a measurement (1e-6: a 0.1 % standard error).
  return {d, std::max(sum2 / resamples - mean * mean, 1e-6)};
}

}  // namespace

double student_t_draw(SplitMix64& g, int df) {
  if (df < 1) throw std::invalid_argument("student t: at least one degree of freedom");
  double chi2 = 0;
  for (int i = 0; i < df; ++i) {
    const double z = standard_normal(g);
    chi2 += z * z;
  }
  return standard_normal(g) / std::sqrt(chi2 / df);
}

PairedEstimate combine_paired_rounds(const SampleGroups& base, const SampleGroups& current, uint64_t seed,
                                     int resamples_per_round) {
  if (base.size() != current.size())
    throw std::invalid_argument("paired rounds: as many rounds are needed on both sides");
  if (base.size() < 2) throw std::invalid_argument("paired rounds: at least two rounds");
  if (resamples_per_round < 10) throw std::invalid_argument("paired rounds: at least 10 resamples per round");
  const size_t k = base.size();
  SplitMix64 g(seed);
  std::vector<double> d(k), v(k);
  for (size_t r = 0; r < k; ++r) {
    check_round(base[r]);
    check_round(current[r]);
    std::tie(d[r], v[r]) = round_estimate(base[r], current[r], g, resamples_per_round);
  }
  // Fixed-effect weights, Cochran's Q, and τ² by the method of moments.
  double sw = 0, sw2 = 0, swd = 0;
  for (size_t r = 0; r < k; ++r) {
    const double w = 1 / v[r];
    sw += w;
    sw2 += w * w;
    swd += w * d[r];
  }
  const double fixed = swd / sw;
  double q = 0;
  for (size_t r = 0; r < k; ++r) q += (d[r] - fixed) * (d[r] - fixed) / v[r];
  PairedEstimate e;
  e.tau2 = std::max(0.0, (q - double(k - 1)) / (sw - sw2 / sw));
  double total = 0, weighted = 0;
  e.weights.resize(k);
  for (size_t r = 0; r < k; ++r) {
    e.weights[r] = 1 / (v[r] + e.tau2);
    total += e.weights[r];
    weighted += e.weights[r] * d[r];
  }
  for (double& w : e.weights) w /= total;
  e.log_ratio = weighted / total;
  e.standard_error = 1 / std::sqrt(total);
  e.degrees_of_freedom = int(k - 1);
  return e;
}

}  // namespace bitlab
