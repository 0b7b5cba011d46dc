// Result documents built in code for the history tests (test_history,
// test_report_trend): run `i` of a series has commit i and timestamp minute i,
// and each measurement carries five samples near the given seconds.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace bitlab::test {

inline std::string history_commit(int i) { return fmt::format("{:02x}{:038x}", 0xc0 + i, i); }

// Samples within ±spread of `seconds` (seeded); an e2e case also has tokens/s
// and a roofline fraction in `derived`.
inline nlohmann::json history_measurement(const std::string& key, const std::string& kind, double seconds,
                                          double spread, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> noise(-spread, spread);
  nlohmann::json samples = nlohmann::json::array();
  for (int s = 0; s < 5; ++s) samples.push_back(seconds * (1 + noise(rng)));
  nlohmann::json m = {{"key", key},
                      {"kind", kind},
                      {"backend", "scalar"},
                      {"variant", "portable"},
                      {"name", kind == "e2e" ? "decode" : "matmul_w2a8"},
                      {"unit", "s"},
                      {"samples", samples},
                      {"stats",
                       {{"count", 5}, {"min", 0}, {"median", 0}, {"mean", 0}, {"p10", 0}, {"p90", 0}, {"stddev", 0}}}};
  if (kind == "e2e") m["derived"] = {{"tokens_per_s", 1.0 / seconds}, {"roofline_fraction", 0.5}};
  return m;
}

inline nlohmann::json history_result_doc(int i, const std::vector<nlohmann::json>& measurements,
                                         const std::string& cpu = "Test CPU 9000") {
  return {{"schema", "bitlab-result/1"},
          {"context",
           {{"timestamp", fmt::format("2026-01-01T10:{:02}:00Z", i)},
            {"bitlab_version", "0.1.0"},
            {"command", "bitlab bench --quick"},
            {"git", {{"commit", history_commit(i)}, {"dirty", false}}},
            {"build", {{"compiler", "GNU"}, {"flags", "-O3"}, {"build_type", "Release"}}},
            {"host",
             {{"os", "Linux"},
              {"cpu_model", cpu},
              {"isa_flags", nlohmann::json::array()},
              {"logical_cores", 2},
              {"memory_bytes", 1}}},
            {"threads", 2},
            {"memory_bandwidth_gbps", 30.5},
            {"gpus", nlohmann::json::array()},
            {"energy_sensors", nlohmann::json::array()}}},
          {"measurements", measurements},
          {"correctness", nlohmann::json::array()}};
}

}  // namespace bitlab::test
