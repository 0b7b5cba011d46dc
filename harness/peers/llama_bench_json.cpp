#include "harness/peers/llama_bench_json.h"

#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "model/error.h"

namespace bitlab::peers {

int64_t LlamaBenchTest::context() const {
  // ik_llama.cpp's -gp reports the prompt it generated after as n_prompt.
  const bool gen_after_prompt = n_gen > 0 && n_prompt > 0;
  return n_depth + (gen_after_prompt ? n_prompt : 0);
}

namespace {

LlamaBenchTest read_test(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object()) throw InputError(fmt::format("{}: llama-bench output holds a test that is not an object", what));
  LlamaBenchTest t;
  try {
    t.n_prompt = j.at("n_prompt").get<int64_t>();
    t.n_gen = j.at("n_gen").get<int64_t>();
    t.n_depth = j.value("n_depth", int64_t(0));
    t.n_threads = j.at("n_threads").get<int64_t>();
    t.test = j.value("test", std::string());
    t.avg_ts = j.value("avg_ts", 0.0);
    t.stddev_ts = j.value("stddev_ts", 0.0);
    t.build_commit = j.value("build_commit", std::string());
    t.build_number = j.value("build_number", int64_t(0));
    t.model_type = j.value("model_type", std::string());
    t.cpu_info = j.value("cpu_info", std::string());
    for (const auto& ns : j.at("samples_ns")) {
      const double s = ns.get<double>() / 1e9;
      if (!(s > 0)) throw InputError(fmt::format("{}: llama-bench sample {} ns is not a positive time", what, ns.dump()));
      t.samples.push_back(s);
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: llama-bench output lacks a field: {}", what, e.what()));
  }
  if (t.samples.empty()) throw InputError(fmt::format("{}: llama-bench test without samples_ns", what));
  if (t.n_prompt < 0 || t.n_gen < 0 || t.n_depth < 0 || (t.n_prompt == 0 && t.n_gen == 0))
    throw InputError(fmt::format("{}: llama-bench test with n_prompt {}, n_gen {}, n_depth {}", what, t.n_prompt,
                                 t.n_gen, t.n_depth));
  return t;
}

}  // namespace

std::vector<LlamaBenchTest> parse_llama_bench_json(const std::string& text, const std::string& what) {
  std::vector<nlohmann::json> tests;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw InputError(fmt::format("{}: llama-bench printed nothing", what));
  try {
    if (text[first] == '[') {
      for (const auto& j : nlohmann::json::parse(text)) tests.push_back(j);
    } else {
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);)
        if (line.find_first_not_of(" \t\r") != std::string::npos) tests.push_back(nlohmann::json::parse(line));
    }
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(fmt::format("{}: llama-bench output is not JSON ({})", what, e.what()));
  }
  std::vector<LlamaBenchTest> out;
  for (const auto& j : tests) out.push_back(read_test(j, what));
  if (out.empty()) throw InputError(fmt::format("{}: llama-bench output holds no tests", what));
  return out;
}

}  // namespace bitlab::peers
