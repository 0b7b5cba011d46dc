// A trend: one metric of one case key across the history's runs, with the
// change points found in it, as a text table, JSON, or an SVG line chart.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/history/change_points.h"
#include "harness/history/store.h"

namespace bitlab::history {

struct Shift {
  ChangePoint at;
  double before = 0, after = 0;  // medians of the segments either side
};

struct Trend {
  SeriesFilter filter;
  std::vector<SeriesPoint> points;  // run-timestamp order
  std::vector<Shift> shifts;
  ChangePointOptions method;
};

Trend make_trend(const SeriesFilter& filter, std::vector<SeriesPoint> points, const ChangePointOptions& method = {});

std::string trend_text(const Trend& t);
nlohmann::json trend_json(const Trend& t);
// A self-contained SVG: the series in run order, each change point a dashed
// line labelled with its commit.
std::string trend_svg(const Trend& t);

}  // namespace bitlab::history
