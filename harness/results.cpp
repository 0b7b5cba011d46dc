#include "harness/results.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <utility>

#include <fmt/format.h>

#include "harness/bandwidth.h"
#include "harness/build_info.h"
#include "harness/energy/sensors.h"
#include "harness/op_cases/op_case.h"
#include "model/error.h"
#include "common/sysinfo.h"
#include "model/weights/atomic_write.h"

namespace bitlab {
namespace {

// Output of a shell command run in the source tree, trimmed; empty on failure.
std::string run_in_source(const std::string& cmd) {
  const std::string full = fmt::format("cd '{}' 2>/dev/null && {} 2>/dev/null", kBuildSourceDir, cmd);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(full.c_str(), "r"), pclose);
  if (!pipe) return {};
  std::string out;
  std::array<char, 256> buf{};
  while (fgets(buf.data(), int(buf.size()), pipe.get())) out += buf.data();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string utc_timestamp(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// The commit the sources are at, and whether tracked files differ from it.
// Dirty: tracked files changed; untracked ones (a results/ file being written)
// do not count. A copy of the tree without its .git (shipped to a GPU machine)
// cannot ask git, so BITLAB_SOURCE_COMMIT names it there: HASH or HASH-dirty.
std::pair<std::string, bool> source_commit() {
  if (const char* env = std::getenv("BITLAB_SOURCE_COMMIT"); env && *env) {
    std::string commit = env;
    const bool dirty = commit.ends_with("-dirty");
    if (dirty) commit.resize(commit.size() - 6);
    return {commit, dirty};
  }
  const std::string commit = run_in_source("git rev-parse HEAD");
  if (commit.empty()) return {"unknown", false};
  return {commit, !run_in_source("git status --porcelain --untracked-files=no").empty()};
}

}  // namespace

nlohmann::json make_context(const RunContext& rc) {
  using nlohmann::json;
  const auto [commit, dirty] = source_commit();
  json gpus = json::array();
  for (const DeviceInfo& g : rc.gpus)
    gpus.push_back({{"backend", g.backend}, {"name", g.name}, {"driver", g.driver}, {"memory_bytes", g.memory_bytes}});
  json sensors = json::array();
  for (const SensorStatus& s : energy_sensors())
    sensors.push_back({{"name", s.name}, {"available", s.available}, {"reason", s.reason}});
  json ctx = {
      {"timestamp", utc_timestamp("%Y-%m-%dT%H:%M:%SZ")},
      {"bitlab_version", kBuildVersion},
      {"command", rc.command},
      {"git", {{"commit", commit}, {"dirty", dirty}}},
      {"build", {{"compiler", kBuildCompiler}, {"flags", kBuildFlags}, {"build_type", kBuildType}}},
      {"host",
       {{"os", os_description()},
        {"cpu_model", cpu_model_name()},
        {"isa_flags", cpu_flags()},
        {"logical_cores", logical_cores()},
        {"memory_bytes", total_memory_bytes()},
        {"last_level_cache_bytes", last_level_cache_bytes()}}},
      {"threads", rc.threads},
      {"memory_bandwidth_gbps", rc.bandwidth_gbps},
      {"model", rc.model},
      {"gpus", gpus},
      {"energy_sensors", sensors},
  };
  if (rc.int8_peak_gmacs > 0) {
    ctx["int8_peak_gmacs"] = rc.int8_peak_gmacs;
    ctx["int8_peak_isa"] = rc.int8_peak_isa;
  }
  if (rc.load) add_machine_load(ctx, *rc.load);
  return ctx;
}

nlohmann::json to_json(const Measurement& m) {
  nlohmann::json j = {{"key", m.key},         {"kind", m.kind},   {"backend", m.backend},
                      {"variant", m.variant}, {"name", m.name},   {"unit", "s"},
                      {"samples", m.samples}, {"stats", to_json(summarize(m.samples))}};
  if (!m.model.empty()) j["model"] = m.model;
  if (!m.shape.empty()) j["shape"] = m.shape;
  if (m.bytes > 0) j["bytes"] = m.bytes;
  if (m.ops > 0) j["ops"] = m.ops;
  if (m.tokens > 0) j["tokens"] = m.tokens;
  if (!m.derived.empty()) j["derived"] = m.derived;
  if (!m.energy.empty()) {
    j["energy"] = to_json(m.energy.front());
    for (size_t i = 1; i < m.energy.size(); ++i) j["other_energy"].push_back(to_json(m.energy[i]));
  }
  for (const OpShare& b : m.breakdown)
    j["breakdown"].push_back({{"op", b.op}, {"seconds", b.seconds}, {"calls", b.calls}, {"share", b.share}});
  return j;
}

std::string head_key_suffix(HeadKind h) {
  return h == HeadKind::BF16 ? std::string() : std::string("/head:") + head_name(h);
}

std::string weight_bits_key_suffix(WeightBits b) {
  return b == WeightBits::Two ? std::string() : std::string("/weight_bits:") + weight_bits_name(b);
}

nlohmann::json new_result(const RunContext& rc) {
  return {{"schema", opcase::kResultSchema},
          {"context", make_context(rc)},
          {"measurements", nlohmann::json::array()},
          {"correctness", nlohmann::json::array()}};
}

void write_result(const std::string& path, const nlohmann::json& doc) {
  const std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  write_text_atomically(path, doc.dump(2) + "\n");
}

void check_result_path(const std::string& path) { refuse_non_regular_target(path); }

std::string default_result_path(const std::string& stem) {
  return fmt::format("results/{}-{}.json", stem, utc_timestamp("%Y%m%dT%H%M%SZ"));
}

namespace {
std::string& stored_command_line() {
  static std::string s = "bitlab";
  return s;
}
}  // namespace

void remember_command_line(int argc, char** argv) {
  std::string s = "bitlab";
  for (int i = 1; i < argc; ++i) s += std::string(" ") + argv[i];
  stored_command_line() = s;
}

const std::string& command_line() { return stored_command_line(); }

}  // namespace bitlab
