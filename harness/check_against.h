// `bitlab check --against FILE --ids-file IDS`: another engine's logits for a
// sequence of token ids, compared with the oracle's (the reference backend
// over the same ids with this lab's weights for --model): NMSE, cosine,
// max |Δ|, KL and top-1 agreement (compare_logits), printed and written as a
// check record to the result file.
//
// FILE is either
//  - a .npy file (float32 or float64, C order) of shape [P, V]: one row of
//    logits per id (P = the number of ids in IDS), V = the model's vocabulary;
//  - or the file `llama-perplexity --kl-divergence-base FILE` writes:
//    "_logits_", int32 n_ctx, int32 n_vocab, int32 n_chunk, the int32 ids of
//    n_chunk chunks of n_ctx ids, then per chunk the rows of positions
//    n_ctx/2 .. n_ctx-2, each as uint16[2 * ((n_vocab + 1) / 2) + 4]: a float
//    scale and a float minimum, then n_vocab log-probabilities quantised as
//    minimum + scale * q (values below the row's maximum logit - 16 are all the
//    minimum). Its ids are in the file; llama-perplexity puts BOS in place of
//    each chunk's first id, and so does the oracle here. The comparison is
//    then of log-probabilities (the oracle's put through the same floor), since
//    the file holds no logits.
#pragma once
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "harness/correctness.h"
#include "model/weights/canonical.h"

namespace bitlab::cli {

struct AgainstOptions {
  std::string against;   // the other engine's logits
  std::string ids_file;  // the ids they were computed for
  bool active() const { return !against.empty(); }
};

// Adds --against and --ids-file to `check`; call it after check's own options,
// which --against excludes where they have no meaning (--backends, --op,
// --tokens, --variant, --verbose).
std::shared_ptr<AgainstOptions> add_against_options(CLI::App* check);

// Runs the comparison; `model`, `threads` and `out` are check's own options.
// Returns 0 when the file agrees with the oracle within the end-to-end
// contract, 1 when not.
// The comparison itself, without printing or a result file: FILE (either
// format; the ids of a .npy come from `ids_file`) against the oracle on `w`,
// judged by the end-to-end rule. `bitlab bench --peer` checks a peer with it.
CheckRecord compare_against_oracle(const std::string& against, const std::string& ids_file, const ModelWeights& w,
                                   int threads);

int run_check_against(const AgainstOptions& o, const std::string& model, int threads, const std::string& out);

}  // namespace bitlab::cli
