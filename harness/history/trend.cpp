#include "harness/history/trend.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace bitlab::history {
namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string commit_label(const SeriesPoint& p) { return p.commit.substr(0, 12) + (p.dirty ? "-dirty" : ""); }

std::string unit_of(const std::string& metric) {
  if (metric == "median" || metric == "mean" || metric == "sd") return " (s)";
  if (metric == "tokens_per_s") return " (tokens/s)";
  return "";
}

std::string percent(double before, double after) {
  return before != 0 ? fmt::format("{:+.1f}%", 100 * (after - before) / before) : "n/a";
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
    }
  }
  return out;
}

}  // namespace

Trend make_trend(const SeriesFilter& filter, std::vector<SeriesPoint> points, const ChangePointOptions& method) {
  Trend t{filter, std::move(points), {}, method};
  std::vector<double> values;
  for (const SeriesPoint& p : t.points) values.push_back(p.value);
  const std::vector<ChangePoint> cps = find_change_points(values, method);
  for (size_t i = 0; i < cps.size(); ++i) {
    // The segments either side: from the previous change point to the next.
    const size_t lo = i ? cps[i - 1].index : 0, hi = i + 1 < cps.size() ? cps[i + 1].index : values.size();
    const auto first = values.begin();
    t.shifts.push_back({cps[i], median_of({first + std::ptrdiff_t(lo), first + std::ptrdiff_t(cps[i].index)}),
                        median_of({first + std::ptrdiff_t(cps[i].index), first + std::ptrdiff_t(hi)})});
  }
  return t;
}

std::string trend_text(const Trend& t) {
  std::string out = fmt::format("{}: {}{} over {} run{}", t.filter.key, t.filter.metric, unit_of(t.filter.metric),
                                t.points.size(), t.points.size() == 1 ? "" : "s");
  if (!t.filter.machine.empty()) out += fmt::format(", machine ~ '{}'", t.filter.machine);
  if (!t.filter.backend.empty()) out += fmt::format(", backend {}", t.filter.backend);
  out += "\n";
  out += fmt::format("  {:>4} {:>6}  {:<18} {:<20} {:<10} {:<28} {:>14}\n", "#", "run", "commit", "time", "backend",
                     "machine", t.filter.metric);
  for (size_t i = 0; i < t.points.size(); ++i) {
    const SeriesPoint& p = t.points[i];
    const bool moved = std::any_of(t.shifts.begin(), t.shifts.end(), [&](const Shift& s) { return s.at.index == i; });
    out += fmt::format("{} {:>4} {:>6}  {:<18} {:<20} {:<10} {:<28} {:>14.6g}\n", moved ? ">" : " ", i, p.run_id,
                       commit_label(p), p.timestamp, p.backend, p.cpu_model.substr(0, 28), p.value);
  }
  const std::string method = fmt::format("e-divisive means, {} permutations, alpha {}", t.method.permutations,
                                         t.method.alpha);
  if (t.points.size() < 2 * t.method.min_segment)
    return out + fmt::format("too few runs to look for change points (at least {})\n", 2 * t.method.min_segment);
  if (t.shifts.empty()) return out + fmt::format("no change points ({})\n", method);
  out += fmt::format("change points ({}):\n", method);
  for (const Shift& s : t.shifts) {
    const SeriesPoint& p = t.points[s.at.index];
    out += fmt::format("  at commit {} (run {}, point {}): {} {:.6g} -> {:.6g} ({}), p = {:.3g}\n", commit_label(p),
                       p.run_id, s.at.index, t.filter.metric, s.before, s.after, percent(s.before, s.after),
                       s.at.p_value);
  }
  return out;
}

nlohmann::json trend_json(const Trend& t) {
  nlohmann::json points = nlohmann::json::array();
  for (const SeriesPoint& p : t.points)
    points.push_back({{"run_id", p.run_id},
                      {"commit", p.commit},
                      {"dirty", p.dirty},
                      {"timestamp", p.timestamp},
                      {"cpu_model", p.cpu_model},
                      {"backend", p.backend},
                      {"value", p.value}});
  nlohmann::json shifts = nlohmann::json::array();
  for (const Shift& s : t.shifts) {
    const SeriesPoint& p = t.points[s.at.index];
    shifts.push_back({{"index", s.at.index},
                      {"run_id", p.run_id},
                      {"commit", p.commit},
                      {"before", s.before},
                      {"after", s.after},
                      {"p_value", s.at.p_value},
                      {"statistic", s.at.statistic}});
  }
  return {{"key", t.filter.key},
          {"metric", t.filter.metric},
          {"machine", t.filter.machine},
          {"backend", t.filter.backend},
          {"method",
           {{"name", "e-divisive means"},
            {"permutations", t.method.permutations},
            {"alpha", t.method.alpha},
            {"min_segment", t.method.min_segment}}},
          {"points", points},
          {"change_points", shifts}};
}

std::string trend_svg(const Trend& t) {
  constexpr double W = 720, H = 360, left = 80, right = 20, top = 40, bottom = 50;
  double lo = INFINITY, hi = -INFINITY;
  for (const SeriesPoint& p : t.points) lo = std::min(lo, p.value), hi = std::max(hi, p.value);
  if (!(hi > lo)) lo -= 0.5 * std::max(std::fabs(lo), 1e-12), hi += 0.5 * std::max(std::fabs(hi), 1e-12);
  const size_t n = t.points.size();
  const auto x = [&](size_t i) { return left + (n > 1 ? double(i) / double(n - 1) : 0.5) * (W - left - right); };
  const auto y = [&](double v) { return top + (hi - v) / (hi - lo) * (H - top - bottom); };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"20\" font-size=\"13\">{3}: {4}{5}</text>\n",
      W, H, left, xml_escape(t.filter.key), xml_escape(t.filter.metric), xml_escape(unit_of(t.filter.metric)));
  s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n", left, top, H - bottom);
  s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n", left, H - bottom,
                   W - right);
  for (const double v : {lo, 0.5 * (lo + hi), hi})
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.4g}</text>\n", left - 6, y(v) + 4, v);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">runs in time order ({} points)</text>\n",
                   0.5 * (left + W - right), H - 12, n);
  for (const Shift& sh : t.shifts) {
    const double cx = 0.5 * (x(sh.at.index - 1) + x(sh.at.index));
    s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"firebrick\" stroke-dasharray=\"4 3\"/>\n",
                     cx, top, H - bottom);
    s += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"firebrick\">{}</text>\n", cx + 3, top + 10,
                     xml_escape(commit_label(t.points[sh.at.index])));
  }
  std::string path;
  for (size_t i = 0; i < n; ++i) path += fmt::format("{}{:.2f},{:.2f}", i ? " L" : "M", x(i), y(t.points[i].value));
  if (n > 0) s += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"steelblue\" stroke-width=\"1.5\"/>\n", path);
  for (size_t i = 0; i < n; ++i)
    s += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"3\" fill=\"steelblue\"><title>{} {:.6g}</title></circle>\n",
                     x(i), y(t.points[i].value), xml_escape(commit_label(t.points[i])), t.points[i].value);
  return s + "</svg>\n";
}

}  // namespace bitlab::history
