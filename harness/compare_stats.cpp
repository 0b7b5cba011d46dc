#include "harness/compare_stats.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "common/random.h"
#include "harness/paired_rounds.h"
#include "harness/stats.h"

namespace bitlab {
namespace {

void check_side(const SampleGroups& groups, const char* which) {
  if (groups.empty()) throw std::invalid_argument(std::string("bootstrap: no samples in ") + which);
  for (const auto& g : groups) {
    if (g.empty()) throw std::invalid_argument(std::string("bootstrap: an empty group in ") + which);
    for (double v : g)
      if (!(v > 0) || !std::isfinite(v))
        throw std::invalid_argument(std::string("bootstrap: a sample in ") + which + " is not a positive time");
  }
}

// Uniform index in [0, n): n is a sample count, so the modulo bias (n / 2^64) is nil.
size_t draw(SplitMix64& g, size_t n) { return size_t(g.next() % n); }

// One hierarchical resample of a side (header comment), reduced to its
// centre; `rounds` are the drawn group indices.
double resampled_centre(const SampleGroups& groups, const std::vector<size_t>& rounds, SplitMix64& g,
                        std::vector<double>& scratch) {
  double sum = 0;
  for (size_t i : rounds) {
    const std::vector<double>& grp = groups[i];
    scratch.resize(grp.size());
    for (double& v : scratch) v = grp[draw(g, grp.size())];
    sum += median_in_place(scratch);
  }
  return sum / double(groups.size());
}

void check_confidence(double c) {
  if (!(c > 0 && c < 1)) throw std::invalid_argument("bootstrap: the confidence must lie in (0, 1)");
}

// The percentile interval of `replicates` (sorted in place of a copy).
void set_interval(RatioInterval& r, double confidence) {
  std::vector<double> sorted = r.replicates;
  std::sort(sorted.begin(), sorted.end());
  r.low = percentile(sorted, (1 - confidence) / 2);
  r.high = percentile(sorted, (1 + confidence) / 2);
}

}  // namespace

uint64_t case_seed(uint64_t seed, std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a: the same on every platform, unlike std::hash
  for (unsigned char c : key) h = (h ^ c) * 0x100000001b3ull;
  return stream_key(seed, h);
}

double centre(const SampleGroups& groups) {
  if (groups.empty()) throw std::invalid_argument("centre: no groups");
  double sum = 0;
  for (const auto& g : groups) {
    if (g.empty()) throw std::invalid_argument("centre: an empty group");
    std::vector<double> v = g;
    sum += median_in_place(v);
  }
  return sum / double(groups.size());
}

RatioInterval bootstrap_ratio(const SampleGroups& base, const SampleGroups& current, const BootstrapOptions& o) {
  check_side(base, "BASE");
  check_side(current, "NEW");
  check_confidence(o.confidence);
  if (o.resamples < 10) throw std::invalid_argument("bootstrap: at least 10 resamples");
  RatioInterval r;
  r.replicates.reserve(size_t(o.resamples));
  if (o.paired && base.size() != current.size())
    throw std::invalid_argument("bootstrap: paired rounds need as many rounds on both sides");
  SplitMix64 g(o.seed);
  if (o.paired && base.size() >= 2) {
    const PairedEstimate e = combine_paired_rounds(base, current, g.next());
    r.ratio = std::exp(e.log_ratio);
    for (int i = 0; i < o.resamples; ++i)
      r.replicates.push_back(std::exp(e.log_ratio + e.standard_error * student_t_draw(g, e.degrees_of_freedom)));
    set_interval(r, o.confidence);
    return r;
  }
  r.ratio = centre(current) / centre(base);
  std::vector<double> scratch;
  std::vector<size_t> base_rounds(base.size()), new_rounds(current.size());
  for (int i = 0; i < o.resamples; ++i) {
    for (size_t& k : base_rounds) k = draw(g, base.size());
    if (o.paired)
      new_rounds = base_rounds;
    else
      for (size_t& k : new_rounds) k = draw(g, current.size());
    const double b = resampled_centre(base, base_rounds, g, scratch);
    r.replicates.push_back(resampled_centre(current, new_rounds, g, scratch) / b);
  }
  set_interval(r, o.confidence);
  return r;
}

RatioInterval geometric_mean(std::span<const RatioInterval> cases, double confidence) {
  if (cases.empty()) throw std::invalid_argument("geometric mean: no cases");
  check_confidence(confidence);
  const size_t n = cases.front().replicates.size();
  for (const RatioInterval& c : cases)
    if (c.replicates.size() != n) throw std::invalid_argument("geometric mean: cases with different resample counts");
  RatioInterval r;
  double log_sum = 0;
  for (const RatioInterval& c : cases) log_sum += std::log(c.ratio);
  r.ratio = std::exp(log_sum / double(cases.size()));
  r.replicates.resize(n);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (const RatioInterval& c : cases) s += std::log(c.replicates[i]);
    r.replicates[i] = std::exp(s / double(cases.size()));
  }
  if (n == 0) {
    r.low = r.high = r.ratio;
    return r;
  }
  set_interval(r, confidence);
  return r;
}

}  // namespace bitlab
