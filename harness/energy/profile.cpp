#include "harness/energy/profile.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/atomic_write.h"

namespace bitlab {
namespace fs = std::filesystem;

fs::path default_profile_dir() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v && *v ? v : "";
  };
  if (const std::string d = env("BITLAB_ENERGY_PROFILE_DIR"); !d.empty()) return d;
  if (const std::string x = env("XDG_CONFIG_HOME"); !x.empty()) return fs::path(x) / "bitlab" / "energy-profiles";
  if (const std::string h = env("HOME"); !h.empty()) return fs::path(h) / ".config" / "bitlab" / "energy-profiles";
  return {};
}

std::string sanitise_model_name(const std::string& model) {
  std::string out;
  for (const char ch : model) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) && c < 128)
      out += char(std::tolower(c));
    else if (!out.empty() && out.back() != '-')
      out += '-';
    if (out.size() >= 100) break;  // a file name, not the model's whole story
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "unknown" : out;
}

fs::path profile_path(const fs::path& dir, const std::string& model) {
  return dir / (sanitise_model_name(model) + ".json");
}

nlohmann::json to_json(const EnergyProfile& p) {
  return {{"format", kEnergyProfileFormat},
          {"device_kind", p.device_kind},
          {"device_model", p.device_model},
          {"meter", p.meter},
          {"date", p.date},
          {"constants",
           {{"int8_mac_pj", p.int8_mac_pj},
            {"dram_byte_pj", p.dram_byte_pj},
            {"static_watts", p.static_watts},
            {"idle_watts", p.idle_watts},
            {"float_op_pj", p.float_op_pj}}},
          {"fit", p.fit}};
}

namespace {

const nlohmann::json& member(const nlohmann::json& j, const std::string& key, const std::string& where,
                             const std::string& path) {
  if (!j.is_object()) throw InputError(fmt::format("{}: {} is not an object", where, path.empty() ? "the top" : path));
  const auto it = j.find(key);
  if (it == j.end()) throw InputError(fmt::format("{}: {}{} is missing", where, path.empty() ? "" : path + ".", key));
  return *it;
}

std::string text(const nlohmann::json& j, const std::string& key, const std::string& where) {
  const auto& v = member(j, key, where, "");
  if (!v.is_string() || v.get<std::string>().empty())
    throw InputError(fmt::format("{}: {} must be a non-empty string", where, key));
  return v.get<std::string>();
}

double constant(const nlohmann::json& c, const std::string& key, const std::string& where) {
  const auto& v = member(c, key, where, "constants");
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
    throw InputError(fmt::format("{}: constants.{} must be a finite number >= 0", where, key));
  return v.get<double>();
}

}  // namespace

EnergyProfile profile_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(fmt::format("{}: not a JSON object", where));
  if (const std::string f = text(j, "format", where); f != kEnergyProfileFormat)
    throw InputError(fmt::format("{}: format '{}' is not {}", where, f, kEnergyProfileFormat));
  EnergyProfile p;
  p.device_kind = text(j, "device_kind", where);
  if (p.device_kind != "cpu" && p.device_kind != "gpu")
    throw InputError(fmt::format("{}: device_kind must be cpu or gpu", where));
  p.device_model = text(j, "device_model", where);
  p.meter = text(j, "meter", where);
  if (p.meter != "rapl" && p.meter != "nvml") throw InputError(fmt::format("{}: meter must be rapl or nvml", where));
  p.date = text(j, "date", where);
  const auto& c = member(j, "constants", where, "");
  p.int8_mac_pj = constant(c, "int8_mac_pj", where);
  p.dram_byte_pj = constant(c, "dram_byte_pj", where);
  p.static_watts = constant(c, "static_watts", where);
  p.idle_watts = constant(c, "idle_watts", where);
  p.float_op_pj = constant(c, "float_op_pj", where);
  if (p.idle_watts > p.static_watts)
    throw InputError(fmt::format("{}: constants.idle_watts exceeds constants.static_watts", where));
  if (const auto it = j.find("fit"); it != j.end()) p.fit = *it;
  return p;
}

EnergyProfile read_profile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("energy profile {}: cannot be read", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string where = "energy profile " + path.string();
  const nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) throw InputError(fmt::format("{}: not valid JSON", where));
  return profile_from_json(j, where);
}

void write_profile(const fs::path& path, const EnergyProfile& p) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  if (ec) throw InputError(fmt::format("energy profile folder {}: {}", path.parent_path().string(), ec.message()));
  write_text_atomically(path.string(), to_json(p).dump(2) + "\n");
}

std::optional<EnergyProfile> find_profile(const fs::path& dir, const std::string& kind, const std::string& model,
                                          std::string* note) {
  if (dir.empty()) return std::nullopt;
  const fs::path path = profile_path(dir, model);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  EnergyProfile p = read_profile(path);
  if (p.device_kind != kind || p.device_model != model) {
    if (note)
      *note = fmt::format("energy profile {} is for the {} '{}', not the {} '{}': textbook constants used",
                          path.string(), p.device_kind, p.device_model, kind, model);
    return std::nullopt;
  }
  return p;
}

ModelConstants constants_from(const EnergyProfile& p) {
  ModelConstants c;
  c.costs.int8_mac_pj = p.int8_mac_pj;
  c.costs.dram_byte_pj = p.dram_byte_pj;
  c.costs.float_op_pj = p.float_op_pj;
  c.costs.citation = fmt::format(
      "calibrated on {} with {}, {}: int8 MAC {:.4g} pJ, DRAM {:.4g} pJ/byte; fp32 op "
      "{:.4g} pJ (textbook)",
      p.device_model, p.meter, p.date, p.int8_mac_pj, p.dram_byte_pj, p.float_op_pj);
  c.static_watts = p.static_watts;
  c.label = fmt::format("modelled (calibrated on {} with {}, {})", p.device_model, p.meter, p.date);
  return c;
}

}  // namespace bitlab
