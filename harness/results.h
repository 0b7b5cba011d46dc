// Result documents (results/schema/result.schema.json): the context a run
// happened in, and measurements with their raw samples and statistics.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/energy/figure.h"
#include "harness/machine_load.h"
#include "harness/stats.h"
#include "model/backend.h"
#include "model/transformer.h"

namespace bitlab {

struct RunContext {
  std::string command;      // the command line
  int threads = 1;
  double bandwidth_gbps = 0;
  // The measured int8 multiply-add peak (harness/compute_peak.h), 1e9 MAC/s,
  // and the instruction path it was measured on; 0: not measured (the
  // context then leaves both out).
  double int8_peak_gmacs = 0;
  std::string int8_peak_isa;
  std::string model;
  std::vector<DeviceInfo> gpus;
  // What else the machine did during the run (bench); absent: the context leaves it out.
  std::optional<MachineLoad> load;
};

// Collects timestamp, git commit and dirty flag, build, host, sensors.
nlohmann::json make_context(const RunContext& rc);

// One op's part of a run (harness/op_profile.h): seconds over the run, calls,
// and the fraction of the run's wall time. "other" is the time between ops.
struct OpShare {
  std::string op;
  double seconds = 0;
  int64_t calls = 0;
  double share = 0;
};

struct Measurement {
  std::string key, kind, backend, variant, name;
  std::string model;  // e2e: the model spec measured (a bench may sweep several)
  std::map<std::string, int64_t> shape;
  std::vector<double> samples;  // seconds
  double bytes = 0, ops = 0;    // per sample; 0 = not applicable
  int64_t tokens = 0;           // per sample (e2e)
  std::map<std::string, double> derived;
  // e2e: the phase's energy, one figure per source. The first is the schema's
  // `energy` (a measurement where a sensor is in use), the rest `other_energy`.
  std::vector<EnergyFigure> energy;
  // e2e prefill: where one extra, profiled prefill spent its time, the most first.
  std::vector<OpShare> breakdown;
};

nlohmann::json to_json(const Measurement& m);
// What result keys end with for a head: "" for bf16, "/head:int8", "/head:certified".
std::string head_key_suffix(HeadKind h);
// "" for the 2-bit layout, "/weight_bits:1.6" for the base-3 one.
std::string weight_bits_key_suffix(WeightBits b);

// A new document with the context and empty measurement/correctness lists.
nlohmann::json new_result(const RunContext& rc);
// Writes pretty JSON whole or not at all (write_text_atomically: a failure
// leaves the old file and no temporary); creates the parent folder. A target
// that is not a regular file is a UsageError, a failed write a DeviceError.
void write_result(const std::string& path, const nlohmann::json& doc);
// Refuses (UsageError) a path write_result would refuse, so a command fails
// before its measurements rather than after.
void check_result_path(const std::string& path);
// The default file name: results/<stem>-<UTC time as YYYYMMDDTHHMMSSZ>.json,
// where the stem names the command (bench, check, energy).
std::string default_result_path(const std::string& stem);
// The command line as one string, for the context block: main() remembers it.
void remember_command_line(int argc, char** argv);
const std::string& command_line();

}  // namespace bitlab
