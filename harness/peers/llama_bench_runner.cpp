#include "harness/peers/llama_bench_runner.h"

#include <atomic>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "harness/peers/child_process.h"
#include "model/error.h"

namespace bitlab::peers {

std::vector<std::vector<std::string>> llama_bench_args(const PeerSpec& p, const std::string& model, const PeerCase& c) {
  std::vector<std::string> common = {"-m", model, "-t", std::to_string(c.threads), "-r", std::to_string(c.repetitions),
                                     "-o", "json"};
  common.insert(common.end(), p.extra_args.begin(), p.extra_args.end());
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.begin(), common.begin(), common.end());
    return a;
  };
  const std::string P = std::to_string(c.prompt), N = std::to_string(c.gen);
  const std::string ctx = std::to_string(c.depth + c.prompt);
  std::vector<std::vector<std::string>> runs;
  switch (p.depth_flag()) {
    case DepthFlag::Depth:
      runs.push_back(with({"-p", P, "-n", "0", "-d", std::to_string(c.depth)}));
      runs.push_back(with({"-p", "0", "-n", N, "-d", ctx}));
      break;
    case DepthFlag::GenAfterPrompt:
      if (c.depth == 0) runs.push_back(with({"-p", P, "-n", "0"}));
      runs.push_back(with({"-p", "0", "-n", "0", "-gp", ctx + "," + N}));
      break;
    case DepthFlag::None:
      if (c.depth == 0) runs.push_back(with({"-p", P, "-n", "0"}));
      runs.push_back(with({"-p", "0", "-n", N}));
      break;
  }
  return runs;
}

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

PeerCaseResult run_peer_case(const PeerSpec& p, const std::string& model, const PeerCase& c,
                             const std::string& work_dir) {
  static std::atomic<int> serial{0};
  PeerCaseResult r;
  bool have_decode = false;
  for (const std::vector<std::string>& args : llama_bench_args(p, model, c)) {
    std::vector<std::string> argv{p.binary};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string line = p.binary;
    for (const std::string& a : args) line += " " + a;
    r.commands.push_back(line);
    const std::string base = fmt::format("{}/llama-bench-{}", work_dir, serial++);
    const std::string what = "peer " + p.display();
    const ChildResult cr = run_child(argv, base + ".json", base + ".log", what, work_dir);
    if (cr.exit_code != 0) {
      const std::string said = last_line_of(base + ".log");
      throw InputError(fmt::format("{}: llama-bench {} (log {}){}", what,
                                   cr.signal ? fmt::format("killed by signal {}", cr.signal)
                                             : fmt::format("exited with status {}", cr.exit_code),
                                   base + ".log", said.empty() ? "" : ": " + said));
    }
    std::vector<LlamaBenchTest> tests;
    try {
      tests = parse_llama_bench_json(slurp(base + ".json"), what);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{} (in {})", e.what(), base + ".json"));
    }
    for (const LlamaBenchTest& t : tests) {
      if (t.decode()) {
        r.decode = t;
        have_decode = true;
      } else {
        r.prefill = t;
      }
    }
  }
  if (!have_decode) throw InputError(fmt::format("peer {}: llama-bench reported no decode test", p.display()));
  if (c.depth == 0 || p.depth_flag() == DepthFlag::Depth)
    if (!r.prefill) throw InputError(fmt::format("peer {}: llama-bench reported no prefill test", p.display()));
  return r;
}

}  // namespace bitlab::peers
