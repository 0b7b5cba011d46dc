#include "harness/peers/peer_check.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "harness/check_against.h"
#include "harness/peers/child_process.h"
#include "model/error.h"

namespace bitlab::peers {

std::string perplexity_tool(const PeerSpec& p) {
  return (std::filesystem::path(p.binary).parent_path() / "llama-perplexity").string();
}

namespace {

// Text that tokenizes (Llama-3 BPE) to well over 2 x 64 tokens: llama-perplexity
// needs two contexts' worth, and uses the first.
const char* const kText =
    "The lab measures ternary language models on ordinary processors. Each weight is minus one, zero or plus one, "
    "and each activation is a small integer with one scale per token. A matrix product then needs no "
    "multiplications, only additions and subtractions, and the memory that holds the weights shrinks to less than "
    "two bits for each of them. Decoding one token reads every weight once, so its speed is set by the memory "
    "bandwidth; reading a prompt reuses each weight for many tokens, so its speed is set by the arithmetic. "
    "Engines differ in how they pack the weights, how they quantise the activations, and in the order in which "
    "they add the products, and so their answers differ in the last bits. A comparison of engines is fair only "
    "when they run the same weights on the same tokens with the same number of threads, one after the other, "
    "on a machine that does nothing else.\n";

// The context length of the check: 64 positions (31 scored rows), fewer for a small model.
int64_t check_context(const ModelWeights& w) { return std::min<int64_t>(64, w.config.max_pos); }

}  // namespace

nlohmann::json check_peer(const PeerSpec& p, const std::string& model_file, const ModelWeights& w, int threads,
                          const std::string& work_dir) {
  const std::string what = "peer " + p.display();
  const std::string tool = perplexity_tool(p);
  // Files are named per peer (engine, format, arguments), so two formats of
  // one engine keep theirs.
  const std::string& dir = work_dir;
  std::string tag = p.display();
  for (char& ch : tag)
    if (ch == '/' || ch == '+') ch = '-';
  const std::string text = dir + "/peer-check.txt";
  std::ofstream(text) << kText << kText;
  const std::string base = fmt::format("{}/kl-base-{}.bin", dir, tag);
  std::filesystem::remove(base);
  const std::vector<std::string> argv = {tool, "-m", model_file, "-f", text, "--kl-divergence-base", base,
                                         "-c", std::to_string(check_context(w)), "--chunks", "1",
                                         "-t", std::to_string(threads)};
  const std::string log = fmt::format("{}/llama-perplexity-{}.log", dir, tag);
  const ChildResult cr = run_child(argv, log, log + ".err", what + " (correctness)", dir);
  if (cr.exit_code != 0) {
    const std::string said = last_line_of(log + ".err");
    throw InputError(fmt::format("{}: llama-perplexity exited with status {} (log {}){}", what, cr.exit_code,
                                 log + ".err", said.empty() ? "" : ": " + said));
  }
  if (!std::filesystem::is_regular_file(base))
    throw InputError(fmt::format("{}: llama-perplexity wrote no --kl-divergence-base file '{}'", what, base));
  CheckRecord r;
  try {
    r = cli::compare_against_oracle(base, "", w, threads);
  } catch (const std::runtime_error& e) {
    throw InputError(fmt::format("{}: its --kl-divergence-base file: {}", what, e.what()));
  }
  nlohmann::json j = {{"tool", tool}, {"method", "llama-perplexity --kl-divergence-base, the oracle on the same ids"},
                      {"check", r.check}};
  auto put = [&](const char* key, const std::optional<double>& v) {
    if (v) j[key] = *v;
  };
  put("kl_divergence", r.kl_divergence);
  put("top1_agreement", r.top1_agreement);
  put("nmse", r.nmse);
  put("kl_threshold", r.kl_threshold);
  put("top1_threshold", r.top1_threshold);
  put("nmse_threshold", r.threshold);
  j["verdict"] = p.different_network() ? "different network" : r.pass ? "pass" : "fail";
  return j;
}

}  // namespace bitlab::peers
