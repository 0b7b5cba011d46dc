#include "harness/energy/session.h"

#include <algorithm>

#include <fmt/format.h>

#include "harness/energy/modelled.h"
#include "harness/energy/nvml.h"
#include "harness/energy/rapl.h"
#include "common/sysinfo.h"
#include "model/error.h"

namespace bitlab {
void check_energy_source(const std::string& s) {
  if (s != "auto" && s != "rapl" && s != "nvml" && s != "modelled" && s != "none")
    throw UsageError(fmt::format("unknown energy source '{}' (known: auto, rapl, nvml, modelled, none)", s));
}

EnergySession::EnergySession(EnergyOptions o, const std::vector<std::string>& kinds) : o_(std::move(o)) {
  check_energy_source(o_.source);
  if (o_.idle_seconds <= 0) throw UsageError("the idle baseline needs a window longer than 0 s");
  if (o_.source == "none") return;
  const bool cpu = std::count(kinds.begin(), kinds.end(), "cpu") > 0;
  const bool gpu = std::count(kinds.begin(), kinds.end(), "gpu") > 0;
  const bool want_rapl = o_.source == "rapl" || (o_.source == "auto" && cpu);
  const bool want_nvml = o_.source == "nvml" || (o_.source == "auto" && gpu);
  if (want_rapl) {
    try {
      rapl_ = std::make_unique<RaplMeter>();
    } catch (const DeviceError& e) {
      if (o_.source == "rapl") throw DeviceError(fmt::format("energy source rapl: {}", e.what()));
      notes_.push_back(fmt::format("rapl unavailable: {}", e.what()));
    }
  }
  if (want_nvml) {
    try {
      NvmlMeter::Options no;
      no.device = o_.nvml_device;
      nvml_ = std::make_unique<NvmlMeter>(std::make_shared<const NvmlLibrary>(), no);
    } catch (const DeviceError& e) {
      if (o_.source == "nvml") throw DeviceError(fmt::format("energy source nvml: {}", e.what()));
      notes_.push_back(fmt::format("nvml unavailable: {}", e.what()));
    }
  }
  // The model of each kind: calibrated on this CPU (GPU) model where a profile
  // names it (a GPU is known by name only through NVML), else textbook.
  auto constants = [&](const std::string& kind, const std::string& model) {
    std::string note;
    const auto p = model.empty() ? std::nullopt : find_profile(o_.profile_dir, kind, model, &note);
    if (!note.empty()) notes_.push_back(note);
    return p ? constants_from(*p) : textbook_constants(kind);
  };
  model_cpu_ = std::make_unique<ModelledMeter>(constants("cpu", cpu_model_name()));
  const auto* gpu_meter = dynamic_cast<const NvmlMeter*>(nvml_.get());
  model_gpu_ = std::make_unique<ModelledMeter>(constants("gpu", gpu_meter ? gpu_meter->device_name() : ""));
}

const ModelConstants& EnergySession::model_constants(const std::string& kind) const {
  if (!model_cpu_) throw UsageError("energy source none: no model");
  return (kind == "gpu" ? model_gpu_ : model_cpu_)->constants();
}

EnergySession::~EnergySession() = default;

void EnergySession::measure_idle(const std::function<void(const std::string&)>& say) {
  idle_.clear();
  for (EnergyMeter* m : {rapl_.get(), nvml_.get()}) {
    if (!m) continue;
    if (say) say(fmt::format("{}: idle baseline over {:.1f} s", m->source(), o_.idle_seconds));
    idle_.emplace_back(m, measure_idle_watts(*m, o_.idle_seconds));
  }
}

std::vector<EnergyMeter*> EnergySession::meters_for(const std::string& kind) const {
  std::vector<EnergyMeter*> out;
  if (!model_cpu_) return out;
  EnergyMeter* hw = nullptr;
  if (o_.source == "rapl") hw = rapl_.get();
  else if (o_.source == "nvml") hw = nvml_.get();
  else if (o_.source == "auto") hw = kind == "gpu" ? nvml_.get() : rapl_.get();
  if (hw) out.push_back(hw);
  out.push_back(kind == "gpu" ? model_gpu_.get() : model_cpu_.get());
  return out;
}

double EnergySession::min_window_seconds(const std::vector<EnergyMeter*>& meters) const {
  double w = std::max(o_.min_window_s, 0.0);
  for (const EnergyMeter* m : meters) w = std::max(w, m->min_window_seconds());
  return w;
}

std::optional<double> EnergySession::idle_watts(const EnergyMeter& m) const {
  for (const auto& [meter, watts] : idle_)
    if (meter == &m) return watts;
  return std::nullopt;
}

std::vector<EnergyFigure> EnergySession::figures(const std::vector<EnergyMeter*>& meters,
                                                 const std::vector<EnergyReading>& readings, int64_t tokens) const {
  std::vector<EnergyFigure> out;
  for (size_t i = 0; i < meters.size() && i < readings.size(); ++i) {
    out.push_back(make_figure(readings[i], tokens, idle_watts(*meters[i])));
  }
  return out;
}

EnergyWindow::EnergyWindow(std::vector<EnergyMeter*> meters, Backend& backend)
    : meters_(std::move(meters)), be_(backend) {
  if (meters_.empty()) return;
  be_.synchronize();  // no earlier work may land inside the window
  for (EnergyMeter* m : meters_) m->start();
  started_ = steady_seconds();
}

EnergyWindow::~EnergyWindow() {
  for (EnergyMeter* m : meters_) {
    try {
      m->stop();
    } catch (...) {  // already unwinding or abandoned: the reading is not wanted
    }
  }
}

void EnergyWindow::count(const OpCounts& n) {
  for (EnergyMeter* m : meters_) {
    m->count(n);
    m->poll();
  }
}

double EnergyWindow::elapsed_seconds() const { return meters_.empty() ? 0 : steady_seconds() - started_; }

std::vector<EnergyReading> EnergyWindow::stop() {
  std::vector<EnergyReading> out;
  if (meters_.empty()) return out;
  be_.synchronize();  // all of the work inside the window
  for (EnergyMeter* m : meters_) out.push_back(m->stop());
  meters_.clear();
  return out;
}

}  // namespace bitlab
