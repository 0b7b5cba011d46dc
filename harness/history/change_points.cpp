#include "harness/history/change_points.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace bitlab::history {
namespace {

struct Split {
  size_t at = 0;  // relative to the segment's start
  double q = -1;  // the statistic; -1: the segment is too short to split
};

// The best split of `v`: argmax over tau of
//   Q(tau) = m n / (m + n) * (2 mean|x - y| - mean|x - x'| - mean|y - y'|)
// with x the m points before tau and y the n from it. The pair sums are kept
// as tau moves right one point at a time: O(L^2) for every split together.
Split best_split(const std::vector<double>& v, size_t min_segment) {
  const size_t L = v.size();
  Split best;
  if (L < 2 * min_segment) return best;
  double total = 0;  // every pair once
  for (size_t i = 0; i < L; ++i)
    for (size_t k = i + 1; k < L; ++k) total += std::fabs(v[i] - v[k]);
  double left = 0, right = total;  // pairs inside [0, tau) and inside [tau, L)
  for (size_t tau = 1; tau + min_segment <= L; ++tau) {
    // Point tau - 1 moves from the right side to the left.
    const size_t j = tau - 1;
    for (size_t i = 0; i < j; ++i) left += std::fabs(v[i] - v[j]);
    for (size_t k = j + 1; k < L; ++k) right -= std::fabs(v[j] - v[k]);
    if (tau < min_segment) continue;
    const double m = double(tau), n = double(L - tau);
    const double cross = total - left - right;
    const double within_left = m > 1 ? 2 * left / (m * (m - 1)) : 0;
    const double within_right = n > 1 ? 2 * right / (n * (n - 1)) : 0;
    const double q = m * n / (m + n) * (2 * cross / (m * n) - within_left - within_right);
    if (q > best.q) best = {tau, q};
  }
  return best;
}

// Fisher-Yates with a plain modulo draw: std::shuffle's use of the generator
// differs between standard libraries, and the answer must not.
void shuffle(std::vector<double>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[size_t(rng() % i)]);
}

double permutation_p(const std::vector<double>& segment, double observed, const ChangePointOptions& o,
                     std::mt19937_64& rng) {
  std::vector<double> v = segment;
  int as_large = 0;
  for (int r = 0; r < o.permutations; ++r) {
    shuffle(v, rng);
    // A relative tolerance: a permutation that reproduces the observed split
    // must count as "as large" despite rounding in the sums.
    if (best_split(v, o.min_segment).q >= observed * (1 - 1e-12)) ++as_large;
  }
  return double(as_large + 1) / double(o.permutations + 1);
}

}  // namespace

std::vector<ChangePoint> find_change_points(std::span<const double> series, const ChangePointOptions& options) {
  std::mt19937_64 rng(options.seed);
  std::vector<size_t> bounds{0, series.size()};  // segment edges, sorted
  std::vector<ChangePoint> found;
  for (;;) {
    // The strongest split of any current segment is the next candidate.
    size_t seg_start = 0;
    std::vector<double> seg_values;
    Split best;
    for (size_t s = 0; s + 1 < bounds.size(); ++s) {
      std::vector<double> v(series.begin() + std::ptrdiff_t(bounds[s]), series.begin() + std::ptrdiff_t(bounds[s + 1]));
      const Split split = best_split(v, options.min_segment);
      if (split.q > best.q) {
        best = split;
        seg_start = bounds[s];
        seg_values = std::move(v);
      }
    }
    if (best.q <= 0) break;  // nothing left to split, or only flat pieces
    const double p = permutation_p(seg_values, best.q, options, rng);
    if (p > options.alpha) break;
    const size_t at = seg_start + best.at;
    found.push_back({at, best.q, p});
    bounds.insert(std::upper_bound(bounds.begin(), bounds.end(), at), at);
  }
  std::sort(found.begin(), found.end(), [](const ChangePoint& a, const ChangePoint& b) { return a.index < b.index; });
  return found;
}

}  // namespace bitlab::history
