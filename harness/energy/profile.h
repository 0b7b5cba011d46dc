// A machine's energy profile: the modelled meter's constants fitted by
// `bitlab energy --calibrate` (calibration.h) on one CPU or GPU model, kept as
// JSON in <dir>/<sanitised model name>.json. The modelled meter uses it on the
// same model and only there (the file names a model, and its contents must
// name the same one); everything in the file is checked before it is used.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/energy/modelled.h"

namespace bitlab {

inline constexpr const char* kEnergyProfileFormat = "bitlab-energy-profile/1";

struct EnergyProfile {
  std::string device_kind;                        // "cpu" or "gpu"
  std::string device_model;                       // the CPU's model name (/proc/cpuinfo) or the GPU's NVML name
  std::string meter;                              // what it was calibrated against: "rapl" or "nvml"
  std::string date;                               // YYYY-MM-DD (UTC)
  double int8_mac_pj = 0;                         // fitted
  double dram_byte_pj = 0;                        // fitted (against the DRAM domain where RAPL has one)
  double static_watts = 0;                        // fitted: idle power + the power of being busy that no count explains
  double idle_watts = 0;                          // measured: the part of static_watts drawn when idle
  double float_op_pj = 0;                         // textbook: the calibration kernels do too few float ops to fit it
  nlohmann::json fit = nlohmann::json::object();  // the fit's report (R², residuals, confidence intervals)
};

// BITLAB_ENERGY_PROFILE_DIR if set, else $XDG_CONFIG_HOME/bitlab/energy-profiles,
// else $HOME/.config/bitlab/energy-profiles; empty when none of them is set.
std::filesystem::path default_profile_dir();
// "AMD EPYC 9B45 96-Core Processor" -> "amd-epyc-9b45-96-core-processor"; "unknown" when nothing is left.
std::string sanitise_model_name(const std::string& model);
std::filesystem::path profile_path(const std::filesystem::path& dir, const std::string& model);

nlohmann::json to_json(const EnergyProfile& p);
// Throws InputError naming `where` (the file) and the key at the first thing
// that is missing, of the wrong type, not finite or negative.
EnergyProfile profile_from_json(const nlohmann::json& j, const std::string& where);
EnergyProfile read_profile(const std::filesystem::path& path);
// Written whole or not at all; creates the folder.
void write_profile(const std::filesystem::path& path, const EnergyProfile& p);

// The profile for `model` under `dir`, if there is one for exactly that kind
// and model; a file there for another model (two names that sanitise alike)
// is not used and `note` says why. A corrupt file throws InputError.
std::optional<EnergyProfile> find_profile(const std::filesystem::path& dir, const std::string& kind,
                                          const std::string& model, std::string* note = nullptr);

// The meter's constants from a profile, labelled "modelled (calibrated on <model> with <meter>, <date>)".
ModelConstants constants_from(const EnergyProfile& p);

}  // namespace bitlab
