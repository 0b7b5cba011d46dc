#include "harness/check_against.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include "common/sysinfo.h"
#include "harness/correctness.h"
#include "harness/ids_file.h"
#include "harness/model_spec.h"
#include "harness/npy.h"
#include "harness/progress.h"
#include "harness/results.h"
#include "harness/terminal_text.h"
#include "model/config.h"
#include "model/error.h"
#include "harness/llama_logits.h"
#include "harness/noise_floor.h"
#include "model/reference_backend.h"
#include "model/transformer.h"
#include "model/weights/mapped_file.h"

namespace bitlab::cli {
namespace {

// What the other engine's file holds, once read: rows of `values` to compare
// with the oracle, the oracle's rows for them, and the same rows from the
// oracle nudged by one ulp per float op (noise_floor.h), kFloorRuns times.
struct Against {
  std::string format;               // "npy" or "llama-perplexity"
  std::vector<float> values;        // [rows, vocab]
  int64_t rows = 0;
  std::vector<float> oracle;        // [rows, vocab], the same quantity
  std::vector<std::vector<float>> perturbed;  // kFloorRuns x [rows, vocab], the same quantity
};

// Runs the oracle (run 0) and its nudged copies (runs 1..kFloorRuns, seeded as
// run_oracle seeds them) over every chunk of ids, each run's backend and
// weights set up once for all chunks: use(run, chunk, logits of all its rows).
void oracle_runs(const ModelWeights& w, const std::vector<std::vector<int32_t>>& chunks, int threads, Progress& p,
                 const std::function<void(int, size_t, const std::vector<float>&)>& use) {
  size_t longest = 0;
  for (const auto& c : chunks) longest = std::max(longest, c.size());
  const int runs = 1 + kFloorRuns;
  for (int i = 0; i < runs; ++i) {
    const double a = double(i) / runs, b = double(i + 1) / runs;
    std::unique_ptr<Backend> be = i == 0 ? make_reference_backend({.threads = threads})
                                         : make_perturbed_reference(0xf100'0000ull + uint64_t(i), 1);
    Transformer m(*be, w, int64_t(longest), [&](size_t done, size_t total) {
      p.update(a + 0.2 * (b - a) * double(done) / double(total), "uploading weights to the reference");
    });
    for (size_t ch = 0; ch < chunks.size(); ++ch) {
      p.update(a + (b - a) * (0.2 + 0.8 * double(ch) / double(chunks.size())),
               i == 0 ? fmt::format("reference forward, chunk {} of {}", ch + 1, chunks.size())
                      : fmt::format("noise floor {} of {}: nudged reference, chunk {} of {}", i, kFloorRuns, ch + 1,
                                    chunks.size()));
      m.reset();
      use(i, ch, m.forward(chunks[ch], true));
    }
  }
}

Against read_npy_against(const std::string& path, const std::string& ids_file, const ModelWeights& w, int threads,
                         Progress& p) {
  if (ids_file.empty()) throw UsageError(fmt::format("--against '{}' (a .npy file) needs --ids-file", path));
  const std::vector<int32_t> ids = read_ids_file(ids_file, w.config.vocab);
  if (int64_t(ids.size()) > w.config.max_pos)
    throw UsageError(fmt::format("ids file '{}' holds {} ids, the model has {} positions", ids_file, ids.size(),
                                 w.config.max_pos));
  Against a;
  a.format = "npy";
  a.rows = int64_t(ids.size());
  a.values = read_npy_matrix(path, a.rows, w.config.vocab).data;
  a.perturbed.resize(size_t(kFloorRuns));
  oracle_runs(w, {ids}, threads, p, [&](int run, size_t, const std::vector<float>& logits) {
    (run == 0 ? a.oracle : a.perturbed[size_t(run - 1)]) = logits;
  });
  return a;
}

// The oracle's row as llama-perplexity stores its own: log-probabilities,
// every logit below (maximum - 16) raised to that floor.
void floored_log_probs(const float* logits, int64_t vocab, float* out) {
  const float mx = *std::max_element(logits, logits + vocab);
  const float lo = std::max(*std::min_element(logits, logits + vocab), mx - 16.0f);
  double z = 0;
  for (int64_t i = 0; i < vocab; ++i) z += std::exp(double(logits[i]) - mx);
  const double lse = std::log(z);
  for (int64_t i = 0; i < vocab; ++i) out[i] = float(double(std::max(logits[i], lo)) - mx - lse);
}

Against read_llama_against(const std::shared_ptr<const MappedFile>& f, const std::string& ids_file,
                           const ModelWeights& w, int threads, Progress& p) {
  const ModelConfig& c = w.config;
  const LlamaLogitsFile file(f, c.vocab, c.max_pos);
  if (!ids_file.empty() && read_ids_file(ids_file, c.vocab) != file.ids())
    throw UsageError(fmt::format("ids file '{}' is not the {} ids stored in '{}'", ids_file, file.ids().size(),
                                 f->path()));
  const int64_t n_ctx = file.n_ctx(), n_chunk = file.n_chunk(), first = file.first(),
                rows_per_chunk = file.rows_per_chunk();
  Against a;
  a.format = "llama-perplexity";
  a.rows = file.rows();
  a.values.resize(size_t(a.rows * c.vocab));
  a.oracle.resize(a.values.size());
  a.perturbed.assign(size_t(kFloorRuns), std::vector<float>(a.values.size()));
  std::vector<std::vector<int32_t>> chunks;
  for (int64_t ch = 0; ch < n_chunk; ++ch) {
    chunks.emplace_back(file.ids().begin() + ch * n_ctx, file.ids().begin() + (ch + 1) * n_ctx - 1);
    chunks.back()[0] = c.bos;  // as llama-perplexity evaluates each chunk
  }
  for (int64_t k = 0; k < a.rows; ++k) file.row(k, a.values.data() + k * c.vocab);
  oracle_runs(w, chunks, threads, p, [&](int run, size_t ch, const std::vector<float>& logits) {
    float* dst = run == 0 ? a.oracle.data() : a.perturbed[size_t(run - 1)].data();
    for (int64_t r = 0; r < rows_per_chunk; ++r) {
      const int64_t k = int64_t(ch) * rows_per_chunk + r;
      floored_log_probs(logits.data() + (first + r) * c.vocab, c.vocab, dst + k * c.vocab);
    }
  });
  return a;
}

std::string metric(const std::optional<double>& v, const char* fmtstr) {
  return v ? fmt::format(fmt::runtime(fmtstr), *v) : std::string("-");
}

}  // namespace

std::shared_ptr<AgainstOptions> add_against_options(CLI::App* check) {
  auto a = std::make_shared<AgainstOptions>();
  CLI::Option* against = check->add_option(
      "--against", a->against,
      "compare another engine's logits with the reference's instead: a .npy [ids, vocabulary] (with --ids-file) or "
      "a llama-perplexity --kl-divergence-base file");
  check->add_option("--ids-file", a->ids_file, "the token ids the --against logits were computed for")
      ->needs(against);
  for (const char* name : {"--backends", "--op", "--tokens", "--variant", "--verbose", "--trace", "--plant"})
    if (CLI::Option* other = check->get_option_no_throw(name)) against->excludes(other);
  return a;
}

CheckRecord compare_against_oracle(const std::string& against, const std::string& ids_file, const ModelWeights& w,
                                   int threads) {
  const auto file = MappedFile::open(against);
  char magic[8] = {};
  if (file->size() >= sizeof magic) file->copy(0, magic, sizeof magic);
  const bool npy = std::memcmp(magic, "\x93NUMPY", 6) == 0;
  const bool llama = std::memcmp(magic, kLlamaLogitsMagic, 8) == 0;
  if (!npy && !llama)
    throw InputError(fmt::format("'{}' is neither a .npy file nor a llama-perplexity logits file", against));
  Against a;
  {
    Progress p("check against " + against);
    a = npy ? read_npy_against(against, ids_file, w, threads, p) : read_llama_against(file, ids_file, w, threads, p);
    p.done(fmt::format("{} positions", a.rows));
  }
  // The floor: how far the nudged oracle's rows lie from its own, in the same
  // representation as the file's; the file is held to the end-to-end rule on it.
  NoiseFloor floor;
  for (const std::vector<float>& nudged : a.perturbed) {
    const CheckRecord f = compare_logits(nudged, a.oracle, w.config.vocab);
    floor.nmse = std::max(floor.nmse, f.nmse.value_or(0.0));
    floor.kl = std::max(floor.kl, f.kl_divergence.value_or(0.0));
    floor.top1 = std::min(floor.top1, f.top1_agreement.value_or(1.0));
    ++floor.runs;
  }
  CheckRecord r = compare_logits(a.values, a.oracle, w.config.vocab);
  r.backend = "file";
  r.variant = a.format;
  r.check = fmt::format("against/{}/tokens:{}", w.config.name, a.rows);
  // A file with non-finite values has no metrics: compare_logits failed it already.
  if (r.nmse && r.kl_divergence && r.top1_agreement) judge_end_to_end(r, floor, a.rows);
  return r;
}

int run_check_against(const AgainstOptions& o, const std::string& model, int threads, const std::string& out) {
  if (!out.empty()) check_result_path(out);
  const auto file = MappedFile::open(o.against);
  char magic[8] = {};
  if (file->size() >= sizeof magic) file->copy(0, magic, sizeof magic);
  const bool npy = std::memcmp(magic, "\x93NUMPY", 6) == 0;
  const bool llama = std::memcmp(magic, kLlamaLogitsMagic, 8) == 0;
  if (!npy && !llama)
    throw InputError(fmt::format("'{}' is neither a .npy file nor a llama-perplexity logits file", o.against));
  if (npy) model_config(model);  // a bad --model before the ids and the weights
  const ModelWeights w = load_model(model, 1);
  const CheckRecord r = compare_against_oracle(o.against, o.ids_file, w, threads);

  fmt::print("{:<18} {:<32} {:>6} {:>10} {:>10} {:>9} {:>10} {:>6} {:>10} {:>8}\n", "file", "check", "result", "nmse",
             "max|diff|", "cosine", "KL", "top1", "floor", "ratio");
  fmt::print("{:<18} {:<32} {:>6} {:>10} {:>10} {:>9} {:>10} {:>6} {:>10} {:>8}\n", r.variant, r.check,
             r.pass ? "pass" : "FAIL", metric(r.nmse, "{:.2e}"), metric(r.max_abs_diff, "{:.2e}"),
             metric(r.cosine, "{:.7f}"), metric(r.kl_divergence, "{:.2e}"), metric(r.top1_agreement, "{:.3f}"),
             metric(r.floor_nmse, "{:.2e}"), metric(r.nmse_ratio, "{:.3g}x"));
  fmt::print("(floor: the NMSE of the reference against itself nudged by one ulp per float op, worst of {} runs; "
             "pass: NMSE and KL within {:g}x the floor's, top-1 within its margin)\n",
             kFloorRuns, kFloorMultiple);
  if (!npy) fmt::print("(log-probabilities as the file stores them, the reference's floored alike)\n");

  RunContext rc;
  rc.command = command_line();
  rc.threads = threads > 0 ? threads : logical_cores();
  rc.model = model;
  nlohmann::json doc = new_result(rc);
  doc["correctness"] = nlohmann::json::array({to_json(r)});
  const std::string path = out.empty() ? default_result_path("check") : out;
  write_result(path, doc);
  fmt::print("result file: {}\n", printable(path));
  if (!r.pass) fmt::print(stderr, "bitlab: '{}' differs from the reference\n", printable(o.against));
  return r.pass ? 0 : 1;
}

}  // namespace bitlab::cli
