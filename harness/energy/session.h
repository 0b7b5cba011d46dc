// The energy side of `bitlab bench` and `bitlab energy`: which meters each
// backend gets, their idle baselines, and windows around the work.
//
// source "auto": CPU backends get RAPL (package + DRAM), GPU backends NVML
// (the board); where that sensor is not usable here, the note says why and
// only the model remains. Every backend also gets the model, labelled an
// estimate, beside any measurement: CPU backends the CPU's, GPU backends the
// GPU's, each with the calibrated constants of its model where a profile
// (profile.h) names it, else the textbook ones.
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/energy/figure.h"
#include "harness/energy/meter.h"
#include "harness/energy/modelled.h"
#include "harness/energy/profile.h"
#include "model/backend.h"

namespace bitlab {

struct EnergyOptions {
  std::string source = "auto";  // auto | rapl | nvml | modelled | none
  double idle_seconds = 2;      // idle baseline per hardware meter, before any run
  double min_window_s = 0;      // shortest window per phase (never below the meters' own minimum)
  unsigned nvml_device = 0;
  std::filesystem::path profile_dir = default_profile_dir();  // calibrated profiles (empty: none)
};

// "auto, rapl, nvml, modelled, none": throws UsageError on anything else.
void check_energy_source(const std::string& source);

class EnergySession {
 public:
  // Opens the hardware meters that backends of these kinds ("cpu", "gpu") use.
  // A source named outright that cannot be opened throws DeviceError; "auto"
  // notes why and goes on with the model.
  EnergySession(EnergyOptions o, const std::vector<std::string>& backend_kinds);
  ~EnergySession();

  bool measures_hardware() const { return rapl_ || nvml_; }
  // Idle baselines of the hardware meters; `say` hears what is being measured.
  void measure_idle(const std::function<void(const std::string&)>& say = {});
  // Hardware meter first (if any), then the model; empty with source "none".
  std::vector<EnergyMeter*> meters_for(const std::string& backend_kind) const;
  // The longest of the meters' minimum windows and the option.
  double min_window_seconds(const std::vector<EnergyMeter*>& meters) const;
  // One figure per reading, each with its meter's idle baseline where it has one.
  std::vector<EnergyFigure> figures(const std::vector<EnergyMeter*>& meters, const std::vector<EnergyReading>& readings,
                                    int64_t tokens) const;
  // The idle power measured for `m`, if measure_idle() ran.
  std::optional<double> idle_watts(const EnergyMeter& m) const;
  // The modelled meter's constants for a backend kind ("cpu", "gpu").
  const ModelConstants& model_constants(const std::string& backend_kind) const;
  // Why a sensor a backend would use is not in use, one line each.
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  EnergyOptions o_;
  std::unique_ptr<EnergyMeter> rapl_, nvml_;
  std::unique_ptr<ModelledMeter> model_cpu_, model_gpu_;
  std::vector<std::pair<const EnergyMeter*, double>> idle_;  // meter, idle watts
  std::vector<std::string> notes_;
};

// Starts every meter (after synchronising the backend), counts the work as it
// runs, stops them all (after synchronising again). No meters: does nothing.
class EnergyWindow {
 public:
  EnergyWindow(std::vector<EnergyMeter*> meters, Backend& backend);
  ~EnergyWindow();  // stops meters still running (an exception left the window early)
  EnergyWindow(const EnergyWindow&) = delete;
  EnergyWindow& operator=(const EnergyWindow&) = delete;
  void count(const OpCounts& n);
  double elapsed_seconds() const;
  std::vector<EnergyReading> stop();

 private:
  std::vector<EnergyMeter*> meters_;
  Backend& be_;
  double started_ = 0;
};

}  // namespace bitlab
