// What a result file says about energy for one measurement: gross joules over
// a window, the idle baseline and what is left once it is subtracted, per token
// and per second, and where the figure came from.
#pragma once
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/energy/meter.h"

namespace bitlab {

// Idle power in watts (all domains together): sleeps `seconds` inside a window
// of `meter`, before a run. Only for meters that measure hardware.
double measure_idle_watts(EnergyMeter& meter, double seconds);

struct EnergyFigure {
  std::string source, method;
  // What made the figure, shown verbatim by the report: "measured (rapl: ...)"
  // or the model's label ("modelled (textbook constants: ...)", "modelled (calibrated on ...)").
  std::string label;
  double seconds = 0;  // the window
  int64_t tokens = 0;  // tokens processed in the window
  double joules = 0;   // gross: everything the sensor saw (all of the package / the whole GPU board)
  std::map<std::string, double> domains;  // gross joules per domain
  std::optional<double> idle_watts;       // measured sources: the baseline taken before the run
  std::optional<double> static_watts;     // modelled: the stated or calibrated static power

  bool estimate() const { return source == "modelled"; }
  double joules_per_token() const { return joules / double(tokens); }
  // Measured sources only: a model's watts are its own constants, never to be
  // shown as if a meter had read them.
  std::optional<double> average_watts() const {
    if (estimate()) return std::nullopt;
    return seconds > 0 ? joules / seconds : 0;
  }
  // Modelled: static_watts x seconds, and the rest (op and byte counts x per-op energies).
  std::optional<double> static_joules() const {
    return static_watts ? std::optional(domains.count("static") ? domains.at("static") : 0.0) : std::nullopt;
  }
  std::optional<double> dynamic_joules() const {
    if (!static_watts) return std::nullopt;
    double sum = 0;  // the parts themselves: joules - static would lose them when static dominates
    for (const auto& [domain, j] : domains)
      if (domain != "static") sum += j;
    return sum;
  }
  // Gross minus idle power over the window: what the work added. Can fall
  // below zero when the work is small against the noise in the baseline.
  std::optional<double> net_joules() const {
    if (!idle_watts) return std::nullopt;
    return joules - *idle_watts * seconds;
  }
  std::optional<double> net_joules_per_token() const {
    const auto net = net_joules();
    return net ? std::optional(*net / double(tokens)) : std::nullopt;
  }
  std::optional<double> tokens_per_joule() const {
    return joules > 0 ? std::optional(double(tokens) / joules) : std::nullopt;
  }
};

// Throws UsageError on tokens < 1.
EnergyFigure make_figure(const EnergyReading& r, int64_t tokens, std::optional<double> idle_watts);

// The schema's `energy` object (results/schema/result.schema.json).
nlohmann::json to_json(const EnergyFigure& f);

}  // namespace bitlab
