#include "harness/energy/figure.h"

#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "model/error.h"

namespace bitlab {

double measure_idle_watts(EnergyMeter& meter, double seconds) {
  if (!meter.measures_hardware()) throw UsageError("idle baseline: the " + meter.source() + " meter measures nothing");
  if (seconds <= 0) throw UsageError("idle baseline: the window must be longer than 0 s");
  meter.start();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const EnergyReading r = meter.stop();
  if (r.seconds <= 0) throw DeviceError(fmt::format("{}: idle window of {} s measured as empty", r.source, seconds));
  return r.total_joules() / r.seconds;
}

EnergyFigure make_figure(const EnergyReading& r, int64_t tokens, std::optional<double> idle_watts) {
  if (tokens < 1) throw UsageError(fmt::format("energy figure over {} tokens", tokens));
  EnergyFigure f;
  f.source = r.source;
  f.method = r.method;
  f.seconds = r.seconds;
  f.tokens = tokens;
  f.joules = r.total_joules();
  f.domains = r.joules;
  f.idle_watts = idle_watts;
  f.static_watts = r.static_watts;
  if (f.estimate()) {
    f.label = r.label.empty() ? "modelled (estimate)" : r.label;
  } else {
    std::vector<std::string> names;
    for (const auto& [domain, j] : r.joules) names.push_back(domain);
    f.label = fmt::format("measured ({}: {}, gross; {})", r.source, fmt::join(names, " + "),
                          idle_watts ? "net figures subtract the idle baseline" : "no idle baseline");
  }
  return f;
}

nlohmann::json to_json(const EnergyFigure& f) {
  nlohmann::json j = {{"source", f.source},
                      {"method", f.method},
                      {"label", f.label},
                      {"estimate", f.estimate()},
                      {"joules_per_token", f.joules_per_token()},
                      {"seconds", f.seconds},
                      {"tokens", f.tokens},
                      {"joules", f.joules},
                      {"domains", f.domains}};
  // An estimate carries its parts instead of watts: a model's watts are its
  // own constant, and printed as "average W" they would read as measured.
  if (const auto w = f.average_watts()) j["average_watts"] = *w;
  if (f.estimate() && f.static_watts) {
    j["static_watts"] = *f.static_watts;
    j["static_joules"] = *f.static_joules();
    j["dynamic_joules"] = *f.dynamic_joules();
  }
  if (const auto tpj = f.tokens_per_joule()) j["tokens_per_joule"] = *tpj;
  if (const auto net = f.net_joules()) {
    j["idle_watts"] = *f.idle_watts;
    j["net_joules"] = *net;
    j["net_joules_per_token"] = *f.net_joules_per_token();
    if (*net > 0) j["net_tokens_per_joule"] = double(f.tokens) / *net;
  }
  return j;
}

}  // namespace bitlab
