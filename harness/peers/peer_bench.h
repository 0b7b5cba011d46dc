// `bitlab bench --peer NAME=PATH`: peer engines measured inside the bench, on
// exactly the lab's weights (exported in each peer's format, cached), with
// the sizes and thread count of bitlab's own e2e cases. Each peer runs right
// after each bitlab e2e case of a CPU backend, so peers and bitlab alternate
// through the run (a busy neighbour slows both alike); the rounds' samples of
// one case make one row. Rows are ordinary e2e measurements whose `backend`
// is the peer ("llama.cpp/tq2_0") and which carry a `peer` object.
#pragma once
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "harness/peers/peer_spec.h"
#include "harness/results.h"

namespace bitlab::peers {

struct PeerOptions {
  std::vector<std::string> specs;  // --peer, each NAME[:FORMAT]=PATH
  std::vector<std::string> args;   // --peer-args, each NAME[:FORMAT]=ARGS
  std::string check = "auto";      // --peer-check: auto, kl or none
  std::string vocab;               // --peer-vocab: a GGUF whose tokenizer the exports carry
  std::string cache_dir;           // --peer-cache: "" = default_peer_cache_dir()
};

void add_peer_options(CLI::App* bench, PeerOptions& o);

class PeerBench {
 public:
  // Parses and checks every --peer (UsageError) before any long work.
  explicit PeerBench(const PeerOptions& o);
  ~PeerBench();
  bool active() const { return !peers_.empty(); }
  // The peers' column names, in --peer order.
  std::vector<std::string> names() const;

  // One bitlab e2e case was just measured: each peer runs it (every decode
  // step count), adding to the rows of earlier rounds of the same case.
  void after_e2e_case(const ModelWeights& w, const std::string& model, int64_t prompt, const std::vector<int64_t>& gens,
                      int64_t depth, int threads, int repetitions);
  // After a model's cases: each peer's correctness on it (per --peer-check).
  void check_model(const ModelWeights& w, const std::string& model, int threads);
  // The rows, with their peer objects, appended to `measurements`.
  void append_rows(std::vector<nlohmann::json>& measurements) const;

 private:
  const std::string& model_file(const PeerSpec& p, const ModelWeights& w);
  PeerOptions o_;
  std::vector<PeerSpec> peers_;
  std::string work_dir_;
  std::map<std::string, std::string> exported_;  // format + digest -> file
  struct Row {
    Measurement m;
    nlohmann::json peer;
  };
  std::vector<std::string> order_;  // row keys, first measured first
  std::map<std::string, Row> rows_;
  std::map<std::string, nlohmann::json> correctness_;  // display + model -> peer.correctness
};

// "decode (prompt 16): avx512 / best peer = 1.31x (llama.cpp/tq2_0)": bitlab's
// tokens/s over the fastest peer's on each case both measured.
void print_peer_ratios(std::FILE* out, const nlohmann::json& doc, const std::vector<std::string>& peers);

}  // namespace bitlab::peers
