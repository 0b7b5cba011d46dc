#include "harness/peers/peer_bench.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "harness/peers/llama_bench_runner.h"
#include "harness/peers/peer_check.h"
#include "harness/peers/peer_model_cache.h"
#include "harness/progress.h"
#include "harness/stats.h"
#include "model/error.h"

namespace bitlab::peers {

void add_peer_options(CLI::App* bench, PeerOptions& o) {
  bench->add_option("--peer", o.specs,
                    "a peer engine to measure beside bitlab, NAME[:FORMAT]=PATH to its llama-bench (repeatable): "
                    "bitnet.cpp (default format i2s), llama.cpp (tq2_0), ik_llama.cpp (iq2_bn); scripts/peers builds "
                    "them");
  bench->add_option("--peer-args", o.args,
                    "NAME[:FORMAT]=ARGS: more llama-bench options for the peers of that engine (and format), split "
                    "at spaces, e.g. 'ik_llama.cpp=-rtr 1' (repeatable; the peer's name gains them)");
  bench
      ->add_option("--peer-check", o.check,
                   "peer correctness with llama-perplexity beside llama-bench: auto (when the exports carry a "
                   "tokenizer, --peer-vocab), kl (always) or none")
      ->check(CLI::IsMember({"auto", "kl", "none"}))
      ->capture_default_str();
  bench
      ->add_option("--peer-vocab", o.vocab,
                   "GGUF file whose tokenizer the peers' exports carry (llama-perplexity tokenizes text)")
      ->check(CLI::ExistingFile);
  bench->add_option("--peer-cache", o.cache_dir,
                    "where exported peer models are kept (default: $XDG_CACHE_HOME/bitlab/peers)");
}

PeerBench::PeerBench(const PeerOptions& o) : o_(o) {
  for (const std::string& s : o.specs) {
    PeerSpec p = parse_peer_spec(s);
    check_peer_format(p);
    p.extra_args = peer_extra_args(o.args, p);
    if (access(p.binary.c_str(), X_OK) != 0)
      throw InputError(fmt::format("peer {}: llama-bench '{}' is not an executable file", p.display(), p.binary));
    for (const PeerSpec& q : peers_)
      if (q.display() == p.display()) throw UsageError(fmt::format("--peer {} given twice", p.display()));
    peers_.push_back(p);
  }
  if (o_.check == "kl")
    for (const PeerSpec& p : peers_)
      if (access(perplexity_tool(p).c_str(), X_OK) != 0)
        throw InputError(
            fmt::format("peer {}: no llama-perplexity beside its llama-bench ('{}'; --peer-check none "
                        "skips the check)",
                        p.display(), perplexity_tool(p)));
  // Absolute, because the peers run in work_dir_ (run_child's cwd) and are
  // handed the exported models' paths from the cache.
  o_.cache_dir = std::filesystem::absolute(o_.cache_dir.empty() ? default_peer_cache_dir() : o_.cache_dir).string();
  if (active()) {
    work_dir_ = std::filesystem::absolute(std::filesystem::temp_directory_path() /
                                          fmt::format("bitlab-peers-{}", getpid()))
                    .string();
    std::filesystem::create_directories(work_dir_);
  }
}

PeerBench::~PeerBench() = default;

std::vector<std::string> PeerBench::names() const {
  std::vector<std::string> n;
  for (const PeerSpec& p : peers_) n.push_back(p.display());
  return n;
}

const std::string& PeerBench::model_file(const PeerSpec& p, const ModelWeights& w) {
  const std::string key = fmt::format("{}/{:016x}", p.format, w.digest());
  auto it = exported_.find(key);
  if (it == exported_.end()) it = exported_.emplace(key, peer_model(w, p.format, o_.vocab, o_.cache_dir)).first;
  return it->second;
}

namespace {

nlohmann::json peer_object(const PeerSpec& p, const LlamaBenchTest& t, int64_t bitlab_context,
                           const std::string& command) {
  nlohmann::json j = {{"engine", p.engine},
                      {"format", p.format},
                      {"binary", p.binary},
                      {"build_commit", t.build_commit},
                      {"build_number", t.build_number},
                      {"model_type", t.model_type},
                      {"cpu_info", t.cpu_info},
                      {"network_differs", p.network_differs()},
                      {"context_tokens", t.context()},
                      {"bitlab_context_tokens", bitlab_context},
                      {"equal_depth", t.context() == bitlab_context},
                      {"rounds", 1},
                      {"command", command}};
  if (t.context() != bitlab_context)
    j["note"] = fmt::format("{} started from {} cached tokens, bitlab's from {} ({} cannot set the depth)",
                            t.decode() ? "decode" : "prefill", t.context(), bitlab_context, p.engine);
  return j;
}

// tokens_per_s and ttft_ms from the samples, as bitlab's rows derive them.
void derive(Measurement& m) {
  const double med = summarize(m.samples).median;
  m.derived["tokens_per_s"] = double(m.tokens) / med;
  if (m.name == "prefill") m.derived["ttft_ms"] = med * 1e3;
}

}  // namespace

void PeerBench::after_e2e_case(const ModelWeights& w, const std::string& model, int64_t prompt,
                               const std::vector<int64_t>& gens, int64_t depth, int threads, int repetitions) {
  for (const PeerSpec& p : peers_) {
    const std::string& file = model_file(p, w);
    for (size_t gi = 0; gi < gens.size(); ++gi) {
      cli::Progress progress(fmt::format("peer {} (prompt {}, gen {}, depth {}, {} threads)", p.display(), prompt,
                                         gens[gi], depth, threads));
      progress.update(0, "llama-bench");
      const PeerCase c{prompt, gens[gi], depth, threads, repetitions};
      const PeerCaseResult r = run_peer_case(p, file, c, work_dir_);
      const std::string depth_key = depth != 0 ? fmt::format("/depth:{}", depth) : "";
      const std::string gen_key = gens.size() > 1 ? fmt::format("/gen:{}", gens[gi]) : "";
      auto add = [&](const char* phase, const LlamaBenchTest& t, int64_t bitlab_context, const std::string& cmd) {
        Measurement m;
        m.kind = "e2e";
        m.backend = p.display();
        m.variant = p.format;
        m.name = phase;
        m.model = model;
        m.key = fmt::format("e2e/{}/{}/{}/prompt:{}/threads:{}{}{}", phase, p.display(), model, prompt, threads,
                            depth_key, phase == std::string("decode") ? gen_key : "");
        m.shape = {{"prompt", prompt}, {"threads", t.n_threads}, {"depth", depth}};
        if (t.decode()) {
          m.shape["gen"] = t.n_gen;
          m.tokens = 1;  // seconds per step, as bitlab's decode rows
          for (double s : t.samples) m.samples.push_back(s / double(t.n_gen));
        } else {
          m.tokens = t.n_prompt;
          m.samples = t.samples;
        }
        auto it = rows_.find(m.key);
        if (it == rows_.end()) {
          order_.push_back(m.key);
          it = rows_.emplace(m.key, Row{m, peer_object(p, t, bitlab_context, cmd)}).first;
        } else {
          it->second.m.samples.insert(it->second.m.samples.end(), m.samples.begin(), m.samples.end());
          it->second.peer["rounds"] = it->second.peer["rounds"].get<int>() + 1;
        }
        derive(it->second.m);
      };
      if (gi == 0 && r.prefill) add("prefill", *r.prefill, depth, r.commands.front());
      add("decode", r.decode, depth + prompt, r.commands.back());
      progress.done(fmt::format("{}decode {:.2f} tok/s",
                                r.prefill && gi == 0 ? fmt::format("prefill {:.2f} tok/s, ", r.prefill->avg_ts) : "",
                                r.decode.avg_ts));
    }
  }
}

void PeerBench::check_model(const ModelWeights& w, const std::string& model, int threads) {
  for (const PeerSpec& p : peers_) {
    nlohmann::json verdict;
    if (o_.check == "none") continue;
    if (o_.check == "auto" && o_.vocab.empty()) {
      verdict = {{"verdict", "skipped"},
                 {"reason", "the export carries no tokenizer for llama-perplexity's text (--peer-vocab FILE)"}};
    } else {
      verdict = check_peer(p, model_file(p, w), w, threads, work_dir_);
      fmt::print(stderr, "peer {}: correctness {} (KL {:.3g}, top-1 {:.3f})\n", p.display(),
                 verdict["verdict"].get<std::string>(), verdict.value("kl_divergence", 0.0),
                 verdict.value("top1_agreement", 0.0));
    }
    correctness_[p.display() + "\n" + model] = verdict;
  }
}

void PeerBench::append_rows(std::vector<nlohmann::json>& measurements) const {
  for (const std::string& key : order_) {
    const Row& r = rows_.at(key);
    nlohmann::json j = to_json(r.m);
    j["peer"] = r.peer;
    const auto c = correctness_.find(r.m.backend + "\n" + r.m.model);
    if (c != correctness_.end()) j["peer"]["correctness"] = c->second;
    measurements.push_back(std::move(j));
  }
}

void print_peer_ratios(std::FILE* out, const nlohmann::json& doc, const std::vector<std::string>& peers) {
  if (peers.empty()) return;
  // A case: phase, model and shape; bitlab's rows of the bf16 head and 2-bit weights only.
  auto case_of = [](const nlohmann::json& m) {
    return fmt::format("{} (prompt {}, depth {}, gen {}, threads {}, {})", m["name"].get<std::string>(),
                       m["shape"].value("prompt", int64_t(0)), m["shape"].value("depth", int64_t(0)),
                       m["shape"].value("gen", int64_t(0)), m["shape"].value("threads", int64_t(0)),
                       m.value("model", std::string()));
  };
  std::map<std::string, std::pair<double, std::string>> best;  // case -> fastest peer
  for (const auto& m : doc["measurements"]) {
    if (m["kind"] != "e2e" || !m.contains("peer")) continue;
    const double tps = m["derived"].value("tokens_per_s", 0.0);
    auto& b = best[case_of(m)];
    if (tps > b.first) b = {tps, m["backend"].get<std::string>()};
  }
  bool header = false;
  for (const auto& m : doc["measurements"]) {
    if (m["kind"] != "e2e" || m.contains("peer")) continue;
    const std::string key = m["key"].get<std::string>();
    if (key.find("/head:") != std::string::npos || m["derived"].value("weight_bits", 2.0) != 2.0) continue;
    const auto b = best.find(case_of(m));
    if (b == best.end()) continue;
    if (!header) fmt::print(out, "\nbitlab / best peer (tokens/s; >1: bitlab faster):\n");
    header = true;
    fmt::print(out, "  {}: {} / {} = {:.2f}x\n", case_of(m), m["backend"].get<std::string>(), b->second.second,
               m["derived"].value("tokens_per_s", 0.0) / b->second.first);
  }
  for (const auto& m : doc["measurements"])
    if (m.contains("peer") && m["peer"].contains("note"))
      fmt::print(out, "  note: {} {}\n", m["backend"].get<std::string>(), m["peer"]["note"].get<std::string>());
}

}  // namespace bitlab::peers
