// A peer's correctness on the lab's weights: its llama-perplexity (beside its
// llama-bench) writes its log-probabilities for a fixed text to a
// --kl-divergence-base file, and the oracle is run over the same ids
// (compare_against_oracle, the comparison of `bitlab check --against`).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "harness/peers/peer_spec.h"
#include "model/weights/canonical.h"

namespace bitlab::peers {

// llama-perplexity in the folder of the peer's llama-bench.
std::string perplexity_tool(const PeerSpec& p);

// Runs the check; returns the peer's `correctness` object: tool, positions,
// kl_divergence, top1_agreement, nmse, verdict ("pass", "fail", or
// "different network" for a peer computing another function), and the
// limits it was held to. A tool that fails or writes no readable file is an
// InputError naming the peer.
nlohmann::json check_peer(const PeerSpec& p, const std::string& model_file, const ModelWeights& w, int threads,
                          const std::string& work_dir);

}  // namespace bitlab::peers
