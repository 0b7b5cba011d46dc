// `bitlab compare`: tells real timing regressions from noise and always fails
// on a correctness loss. Three ways to get the two sides:
//   compare BASE.json NEW.json                 two result files
//   compare FILE --backends BASE,NEW           two backends of one file
//   compare --ab BASE_BITLAB NEW_BITLAB [-- bench options]
//                                              two builds run in interleaved rounds (ab_runner.h)
// Per case: the ratio NEW/BASE of the sides' centres (the mean of per-round
// medians, compare_stats.h; under --ab the paired rounds' ratios combined,
// paired_rounds.h) with a confidence interval, and the Mann–Whitney U p-value
// on the pooled samples (rank_test.h; under --ab the combined estimate's own).
// A case is a
// regression when the whole interval lies above 1 + threshold AND p < alpha:
// the interval says the change is larger than the threshold, the rank test
// that it is not a few outliers. Improvements mirror it below 1 − threshold.
// A geometric-mean line summarises all cases. Context differences that make
// timings incomparable are warned about (context_diff.h).
// Exit code: 0 clean, 1 a regression or a correctness failure (a verdict), 2 no
// verdict: a missing, unreadable or malformed result file (as diff uses 2), a
// missing binary or a failed bench run under --ab, so a CI gate can tell
// "slower" from "could not compare". --warn-only reports timing regressions
// but exits 0 for them (correctness failures still exit 1).
#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include "harness/ab_runner.h"
#include "harness/cli_options.h"
#include "harness/commands.h"
#include "harness/compare_stats.h"
#include "harness/context_diff.h"
#include "harness/rank_test.h"
#include "harness/result_reader.h"
#include "harness/terminal_text.h"
#include "model/error.h"

namespace bitlab::cli {
namespace {

struct CompareOptions {
  std::vector<std::string> inputs;    // two result files, one with --backends, or the bench options with --ab
  std::vector<std::string> ab;        // --ab BASE_BITLAB NEW_BITLAB
  std::vector<std::string> backends;  // --backends BASE,NEW
  std::string threshold = "5%";
  std::vector<std::string> threshold_for;  // KEYGLOB=PCT
  double alpha = 0.05;
  double confidence = 0.95;
  int resamples = 2000;
  std::string filter;
  int rounds = 8;  // --ab: fewer cannot absorb one disturbed round (paired_rounds.h)
  std::string work_dir;
  bool warn_only = false;
  std::string format = "text";
  bool ab_only_given = false;  // --rounds or --work-dir, which mean nothing without --ab
};

using Check = ResultCheck;

// "5%" or "0.05"; a bare number ≥ 1 is refused as ambiguous ("5" meaning 5 %?).
double parse_threshold(const std::string& s, const std::string& option = "--threshold") {
  const bool percent = !s.empty() && s.back() == '%';
  const std::string num = percent ? s.substr(0, s.size() - 1) : s;
  size_t used = 0;
  double v = NAN;
  try {
    v = std::stod(num, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != num.size() || !std::isfinite(v) || v < 0)
    throw UsageError(fmt::format("{} {}: expected a fraction like 0.05 or a percentage like 5%", option, s));
  if (!percent && v >= 1) throw UsageError(fmt::format("{} {}: ambiguous, write {}% or {}", option, s, v, v / 100));
  return percent ? v / 100 : v;
}

// --threshold-for KEYGLOB=PCT: a case's own threshold; the last matching one applies.
struct Thresholds {
  double fallback = 0.05;
  std::vector<std::pair<std::string, double>> by_glob;
  double for_key(const std::string& key) const {
    double t = fallback;
    for (const auto& [glob, v] : by_glob)
      if (::fnmatch(glob.c_str(), key.c_str(), 0) == 0) t = v;
    return t;
  }
};

Thresholds parse_thresholds(const CompareOptions& o) {
  Thresholds t;
  t.fallback = parse_threshold(o.threshold);
  for (const std::string& s : o.threshold_for) {
    const size_t eq = s.rfind('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError(fmt::format("--threshold-for {}: expected KEYGLOB=PCT, e.g. 'kernel/lm_head/*=10%'", s));
    t.by_glob.emplace_back(s.substr(0, eq),
                           parse_threshold(s.substr(eq + 1), "--threshold-for " + s.substr(0, eq) + "="));
  }
  return t;
}

// Seconds in the unit that keeps 3–4 significant digits readable.
std::string format_time(double s) {
  if (s < 1e-6) return fmt::format("{:.1f} ns", s * 1e9);
  if (s < 1e-3) return fmt::format("{:.2f} µs", s * 1e6);
  if (s < 1) return fmt::format("{:.3f} ms", s * 1e3);
  return fmt::format("{:.3f} s", s);
}

// One side of the comparison: its cases' samples grouped by run (one group
// for a result file, one per round under --ab), in the order of its first file.
struct Side {
  std::string path, label;
  std::vector<ResultContext> contexts;  // one per run
  std::vector<std::pair<std::string, SampleGroups>> timings;
  std::vector<Check> checks;
  size_t runs = 1;
};

Side side_of(const std::vector<ResultDoc>& runs, const std::string& path) {
  Side s;
  s.path = path;
  s.label = runs.front().label;
  s.runs = runs.size();
  s.checks = runs.front().checks;
  std::map<std::string, size_t> at;
  for (const ResultDoc& d : runs) {
    s.contexts.push_back(d.context);
    for (const ResultTiming& m : d.measurements) {
      auto [it, fresh] = at.try_emplace(m.key, s.timings.size());
      if (fresh) s.timings.push_back({m.key, {}});
      s.timings[it->second].second.push_back(m.samples);
    }
  }
  return s;
}

// A key without its backend segment (the first after the kind), so the same
// case of two backends gets one key: kernel/matmul_w2a8/avx512/N:.. →
// kernel/matmul_w2a8/N:... A pinned variant's "/variant:" stays: variants
// belong to one backend, so such a case is listed as added or removed.
std::string without_backend(const std::string& key, const std::string& backend) {
  const size_t at = key.find("/" + backend + "/");
  return at == std::string::npos ? key : key.substr(0, at) + key.substr(at + backend.size() + 1);
}

// The measurements of one backend of a document, keyed without the backend.
Side backend_side(const ResultDoc& doc, const std::string& backend) {
  Side s;
  s.path = doc.path + " " + backend;
  s.label = doc.label;
  s.contexts.push_back(doc.context);
  for (const ResultTiming& m : doc.measurements) {
    const std::string b = m.backend.empty() ? backend : m.backend;
    if (b == backend && m.key.find("/" + backend + "/") != std::string::npos)
      s.timings.push_back({without_backend(m.key, backend), {m.samples}});
  }
  if (s.timings.empty()) throw UsageError(fmt::format("{}: no measurement of backend {}", doc.path, backend));
  return s;
}

void apply_filter(Side& s, const std::regex& re) {
  std::erase_if(s.timings, [&](const auto& t) { return !std::regex_search(t.first, re); });
}

struct Row {
  std::string key;
  double base_centre = 0, new_centre = 0, threshold = 0;
  RatioInterval ci;
  RankTestResult test;  // the verdict's test: Mann–Whitney, or under --ab the paired estimate's p
  double rank_p = 1;    // Mann–Whitney U on the pooled samples, shown in every mode
  Verdict verdict = Verdict::Same;
};

struct CheckLine {
  const Check* check;  // the NEW entry, or the BASE one when NEW lacks it
  std::string what;
};

struct Comparison {
  std::vector<Row> rows;
  std::vector<std::string> added, removed;
  std::vector<CheckLine> failures;    // each one fails the comparison
  std::vector<CheckLine> notes;       // fixed checks: shown, not failures
  std::vector<std::string> warnings;  // context differences
  RatioInterval geomean;
  // The geometric mean judged as a case is, against the default threshold: a
  // change that slows every case a little (each interval too wide alone on a
  // noisy machine) still fails when their geometric mean's interval lies
  // wholly beyond the threshold. Only with two cases or more (one case's
  // geometric mean is the case).
  Verdict geomean_verdict = Verdict::Same;
  size_t checks = 0, regressions = 0, improvements = 0;
  bool regressed() const { return regressions > 0 || geomean_verdict == Verdict::Regression; }
};

std::vector<double> pooled(const SampleGroups& g) {
  std::vector<double> out;
  for (const auto& v : g) out.insert(out.end(), v.begin(), v.end());
  return out;
}

Row judge(const std::string& key, const SampleGroups& base, const SampleGroups& cur, double threshold,
          const CompareOptions& o) {
  Row r;
  r.key = key;
  r.threshold = threshold;
  r.base_centre = centre(base);
  r.new_centre = centre(cur);
  BootstrapOptions bo;
  bo.confidence = o.confidence;
  bo.resamples = o.resamples;
  bo.seed = case_seed(bo.seed, key);
  // --ab: round r of each build ran back to back (compare_stats.h, paired rounds).
  bo.paired = o.ab.size() == 2 && base.size() == cur.size();
  r.ci = bootstrap_ratio(base, cur, bo);
  if (bo.paired && base.size() >= 2) {
    // Paired rounds: the rank test on pooled samples would mix the rounds'
    // shared shifts back in; the combined estimate's own two-sided p (from its
    // t-distributed replicates, a Monte Carlo p) is the test instead.
    const auto& reps = r.ci.replicates;
    const auto below = double(std::count_if(reps.begin(), reps.end(), [](double x) { return x < 1; }));
    const auto n = double(reps.size());
    r.test.p_value = std::min(1.0, 2 * (std::min(below, n - below) + 1) / (n + 1));
    r.rank_p = mann_whitney_u(pooled(cur), pooled(base)).p_value;
  } else {
    // x = new, y = base: U large when new is slower; p is two-sided either way.
    r.test = mann_whitney_u(pooled(cur), pooled(base));
    r.rank_p = r.test.p_value;
  }
  const bool significant = r.test.p_value < o.alpha;
  if (significant && r.ci.low > 1 + threshold)
    r.verdict = Verdict::Regression;
  else if (significant && r.ci.high < 1 - threshold)
    r.verdict = Verdict::Improvement;
  return r;
}

Comparison compare(const Side& base, const Side& cur, const Thresholds& th, const CompareOptions& o) {
  Comparison c;
  std::map<std::string, const SampleGroups*> in_new;
  for (const auto& [key, g] : cur.timings) in_new[key] = &g;
  std::set<std::string> in_base;
  for (const auto& [key, g] : base.timings) {
    in_base.insert(key);
    auto it = in_new.find(key);
    if (it == in_new.end()) {
      c.removed.push_back(key);
      continue;
    }
    Row r = judge(key, g, *it->second, th.for_key(key), o);
    c.regressions += r.verdict == Verdict::Regression;
    c.improvements += r.verdict == Verdict::Improvement;
    c.rows.push_back(std::move(r));
  }
  for (const auto& [key, g] : cur.timings)
    if (!in_base.count(key)) c.added.push_back(key);
  if (!c.rows.empty()) {
    std::vector<RatioInterval> cis;
    for (const Row& r : c.rows) cis.push_back(r.ci);
    c.geomean = geometric_mean(cis, o.confidence);
    if (c.rows.size() > 1 && c.geomean.low > 1 + th.fallback) c.geomean_verdict = Verdict::Regression;
    if (c.rows.size() > 1 && c.geomean.high < 1 - th.fallback) c.geomean_verdict = Verdict::Improvement;
  }

  // Correctness matches on backend + check, not variant: a check that passed for
  // a backend must still pass whichever kernel variant the new build picks.
  using CheckKey = std::pair<std::string, std::string>;
  std::map<CheckKey, std::vector<const Check*>> base_checks, new_checks;
  for (const Check& k : base.checks) base_checks[{k.backend, k.check}].push_back(&k);
  for (const Check& k : cur.checks) new_checks[{k.backend, k.check}].push_back(&k);
  auto all_pass = [](const std::vector<const Check*>& v) {
    for (const Check* k : v)
      if (!k->pass) return false;
    return true;
  };
  c.checks = cur.checks.size();
  for (const Check& k : cur.checks) {
    if (k.pass) continue;
    auto b = base_checks.find({k.backend, k.check});
    const bool passed_before = b != base_checks.end() && all_pass(b->second);
    c.failures.push_back({&k, passed_before
                                  ? "correctness loss: passed in BASE, fails in NEW"
                                  : (b == base_checks.end() ? "fails in NEW" : "fails in NEW (failed in BASE too)")});
  }
  for (const auto& [key, v] : base_checks) {
    auto n = new_checks.find(key);
    if (n == new_checks.end() && all_pass(v))
      c.failures.push_back({v.front(), "correctness loss: passed in BASE, missing in NEW"});
    else if (n != new_checks.end() && !all_pass(v) && all_pass(n->second))
      c.notes.push_back({n->second.front(), "fixed: failed in BASE, passes in NEW"});
  }
  return c;
}

std::string interval(const RatioInterval& r) { return fmt::format("[{:.3f}, {:.3f}]", r.low, r.high); }

std::string rule(const CompareOptions& o, const Thresholds& th) {
  const bool paired = o.ab.size() == 2;
  return fmt::format(
      "the {:g}% {} interval of NEW/BASE lies wholly beyond {:g}%{} and {} p < {:g} (two-sided); the geometric "
      "mean of two cases or more when its interval lies wholly beyond {:g}%",
      o.confidence * 100, paired ? "paired-rounds" : "bootstrap", th.fallback * 100,
      th.by_glob.empty() ? "" : " (or the case's own threshold)", paired ? "the paired estimate's" : "Mann-Whitney U",
      o.alpha, th.fallback * 100);
}

// Fields of the documents (keys, paths, names) may hold control characters:
// shown escaped (terminal_text.h) in the text report.
void print_text(const CompareOptions& o, const Thresholds& th, const Side& base, const Side& cur, const Comparison& c) {
  fmt::print("base  {}  ({})\nnew   {}  ({})\n", printable(base.path), printable(base.label), printable(cur.path),
             printable(cur.label));
  fmt::print("verdict: {}\n", rule(o, th));
  if (o.ab.size() == 2)
    fmt::print("centres: the mean of the per-round medians; ratio: the {} paired rounds' ratios of medians, "
               "combined by a random-effects meta-analysis\n",
               base.runs);
  else if (base.runs > 1 || cur.runs > 1)
    fmt::print("centres: the mean of the per-round medians over {} round(s)\n", std::max(base.runs, cur.runs));
  fmt::print("\n");
  size_t w = 3;
  for (const Row& r : c.rows) w = std::max(w, printable(r.key).size());
  if (!c.rows.empty()) {
    const std::string ci_head = fmt::format("{:g}% CI", o.confidence * 100);
    fmt::print("{:<{}}  {:>12}  {:>12}  {:>7}  {:>16}  {:>8}  {:>8}  {}\n", "key", w, "base median", "new median",
               "ratio", ci_head, "p", "rank p", "verdict");
    for (const Row& r : c.rows)
      fmt::print("{:<{}}  {:>12}  {:>12}  {:>7.3f}  {:>16}  {:>8.2g}  {:>8.2g}  {}{}\n", printable(r.key), w,
                 format_time(r.base_centre), format_time(r.new_centre), r.ci.ratio, interval(r.ci), r.test.p_value,
                 r.rank_p, to_string(r.verdict),
                 r.threshold == th.fallback ? "" : fmt::format(" (threshold {:g}%)", r.threshold * 100));
    fmt::print("{:<{}}  {:>12}  {:>12}  {:>7.3f}  {:>16}  {:>8}  {:>8}  {}\n",
               fmt::format("geomean of {} case(s)", c.rows.size()), w, "", "", c.geomean.ratio, interval(c.geomean), "",
               "", to_string(c.geomean_verdict));
  }
  for (const std::string& k : c.added) fmt::print("added    {}\n", printable(k));
  for (const std::string& k : c.removed) fmt::print("removed  {}\n", printable(k));
  for (const CheckLine& l : c.failures)
    fmt::print("FAIL     {} {} {}: {}{}\n", printable(l.check->backend), printable(l.check->variant),
               printable(l.check->check), l.what, l.check->detail.empty() ? "" : " (" + l.check->detail + ")");
  for (const CheckLine& l : c.notes)
    fmt::print("note     {} {} {}: {}\n", printable(l.check->backend), printable(l.check->variant),
               printable(l.check->check), l.what);
  for (const std::string& wn : c.warnings) fmt::print("warning  {}\n", printable(wn));
  fmt::print(
      "\nsummary: {} regression(s), {} improvement(s), {} same, {} added, {} removed; "
      "correctness: {} check(s) in NEW, {} failure(s){}\n",
      c.regressions, c.improvements, c.rows.size() - c.regressions - c.improvements, c.added.size(), c.removed.size(),
      c.checks, c.failures.size(), o.warn_only && c.regressed() ? " (--warn-only: regressions do not fail)" : "");
}

// Any field of a document as inert Markdown text: a hostile result file must
// not inject HTML, links, emphasis or table cells into a pull-request comment.
// HTML specials and `|` become entities (an entity pipe does not split a table
// cell), the other characters that start Markdown syntax are backslash-escaped,
// and control characters are shown escaped (a newline would end the row).
std::string md(const std::string& s) {
  std::string out;
  for (char ch : printable(s)) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '|': out += "&#124;"; break;
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '(':
      case ')':
      case '#':
      case '!':
      case '~':
        out += '\\';
        out += ch;
        break;
      default: out += ch;
    }
  }
  return out;
}

void print_markdown(const CompareOptions& o, const Thresholds& th, const Side& base, const Side& cur,
                    const Comparison& c) {
  const bool failed = (c.regressed() && !o.warn_only) || !c.failures.empty();
  fmt::print("### bitlab compare: {}\n\n", failed ? "**failed**" : "passed");
  fmt::print("Base {} ({}) → new {} ({}). A change counts when {}.\n\n", md(base.path), md(base.label), md(cur.path),
             md(cur.label), rule(o, th));
  if (!c.rows.empty()) {
    fmt::print(
        "| key | base median | new median | ratio | {:g}% CI | p | rank p | verdict |\n"
        "|---|---:|---:|---:|---:|---:|---:|---|\n",
        o.confidence * 100);
    for (const Row& r : c.rows) {
      const char* v = to_string(r.verdict);
      fmt::print("| {} | {} | {} | {:.3f} | {} | {:.2g} | {:.2g} | {} |\n", md(r.key), format_time(r.base_centre),
                 format_time(r.new_centre), r.ci.ratio, interval(r.ci), r.test.p_value, r.rank_p,
                 r.verdict == Verdict::Same ? fmt::format("{}", v) : fmt::format("**{}**", v));
    }
    fmt::print("| geomean of {} case(s) | | | {:.3f} | {} | | | {} |\n\n", c.rows.size(), c.geomean.ratio,
               interval(c.geomean), to_string(c.geomean_verdict));
  }
  for (const std::string& k : c.added) fmt::print("- added: {}\n", md(k));
  for (const std::string& k : c.removed) fmt::print("- removed: {}\n", md(k));
  if (!c.added.empty() || !c.removed.empty()) fmt::print("\n");
  if (!c.failures.empty() || !c.notes.empty()) {
    fmt::print("| correctness | backend | variant | check | detail |\n|---|---|---|---|---|\n");
    for (const CheckLine& l : c.failures)
      fmt::print("| **{}** | {} | {} | {} | {} |\n", md(l.what), md(l.check->backend), md(l.check->variant),
                 md(l.check->check), md(l.check->detail));
    for (const CheckLine& l : c.notes)
      fmt::print("| {} | {} | {} | {} | {} |\n", md(l.what), md(l.check->backend), md(l.check->variant),
                 md(l.check->check), md(l.check->detail));
    fmt::print("\n");
  }
  for (const std::string& wn : c.warnings) fmt::print("- warning: {}\n", md(wn));
  if (!c.warnings.empty()) fmt::print("\n");
  fmt::print("{} regression(s), {} improvement(s), {} same; {} correctness check(s) in new, {} failure(s).\n",
             c.regressions, c.improvements, c.rows.size() - c.regressions - c.improvements, c.checks,
             c.failures.size());
}

void print_json(const CompareOptions& o, const Side& base, const Side& cur, const Comparison& c, int exit_code) {
  using nlohmann::json;
  json cases = json::array();
  for (const Row& r : c.rows)
    cases.push_back({{"key", r.key},
                     {"base_centre", r.base_centre},
                     {"new_centre", r.new_centre},
                     {"ratio", r.ci.ratio},
                     {"ci_low", r.ci.low},
                     {"ci_high", r.ci.high},
                     {"p_value", r.test.p_value},
                     {"rank_p_value", r.rank_p},
                     {"threshold", r.threshold},
                     {"verdict", to_string(r.verdict)}});
  auto checks = [](const std::vector<CheckLine>& v) {
    json a = json::array();
    for (const CheckLine& l : v)
      a.push_back({{"backend", l.check->backend},
                   {"variant", l.check->variant},
                   {"check", l.check->check},
                   {"what", l.what},
                   {"detail", l.check->detail}});
    return a;
  };
  json doc = {{"base", {{"path", base.path}, {"label", base.label}, {"runs", base.runs}}},
              {"new", {{"path", cur.path}, {"label", cur.label}, {"runs", cur.runs}}},
              {"confidence", o.confidence},
              {"resamples", o.resamples},
              {"alpha", o.alpha},
              {"cases", cases},
              {"added", c.added},
              {"removed", c.removed},
              {"correctness_failures", checks(c.failures)},
              {"correctness_notes", checks(c.notes)},
              {"context_warnings", c.warnings},
              {"regressions", c.regressions},
              {"improvements", c.improvements},
              {"exit_code", exit_code}};
  if (!c.rows.empty())
    doc["geomean"] = {
        {"ratio", c.geomean.ratio}, {"ci_low", c.geomean.low}, {"ci_high", c.geomean.high}, {"cases", c.rows.size()},
        {"verdict", to_string(c.geomean_verdict)}};
  // error_handler replace: keys and labels come from files and may hold invalid UTF-8.
  fmt::print("{}\n", doc.dump(2, ' ', false, json::error_handler_t::replace));
}

// A comparison that compared nothing must not pass a CI gate: NEW without any
// measurement or check, or NEW sharing none of BASE's measurements (a renamed
// key scheme, the wrong file, a --filter matching nothing), is a failure naming
// what is missing.
void require_overlap(const Side& base, const Side& cur, const Comparison& c) {
  if (cur.timings.empty() && cur.checks.empty())
    throw InputError(fmt::format("{} has no measurements and no correctness checks: nothing to compare with {}",
                                 cur.path, base.path));
  if (base.timings.empty() && base.checks.empty())
    throw InputError(fmt::format("{} has no measurements and no correctness checks: nothing to compare {} with",
                                 base.path, cur.path));
  if (!base.timings.empty() && c.rows.empty()) {
    constexpr size_t kShown = 3;
    std::string missing;
    for (size_t i = 0; i < std::min(kShown, c.removed.size()); ++i) missing += (i ? ", " : "") + c.removed[i];
    if (c.removed.size() > kShown) missing += fmt::format(" and {} more", c.removed.size() - kShown);
    throw InputError(
        fmt::format("{} shares no measurement with {} (missing in NEW: {})", cur.path, base.path, missing));
  }
}

// The two sides, as the options say (header comment).
std::pair<Side, Side> load_sides(const CompareOptions& o) {
  if (o.ab.empty() && o.ab_only_given) throw UsageError("compare: --rounds and --work-dir apply to --ab only");
  if (!o.ab.empty()) {
    if (!o.backends.empty()) throw UsageError("compare: --ab and --backends do not go together");
    AbOptions ab;
    ab.base_bin = o.ab[0];
    ab.new_bin = o.ab[1];
    ab.bench_args = o.inputs;
    ab.rounds = o.rounds;
    ab.work_dir = o.work_dir;
    const AbResults res = run_ab(ab, [](const std::string& line) { fmt::print(stderr, "{}\n", line); });
    return {side_of(res.base, ab.base_bin), side_of(res.current, ab.new_bin)};
  }
  if (!o.backends.empty()) {
    if (o.backends.size() != 2 || o.backends[0] == o.backends[1])
      throw UsageError("compare --backends: expected two different backends, BASE,NEW (e.g. scalar,avx512)");
    if (o.inputs.size() != 1)
      throw UsageError(fmt::format("compare --backends: expected one result file, got {}", o.inputs.size()));
    if (o.inputs[0].empty()) throw UsageError("compare --backends: the result file name must not be empty");
    const ResultDoc doc = read_result_file(o.inputs[0]);
    return {backend_side(doc, o.backends[0]), backend_side(doc, o.backends[1])};
  }
  if (o.inputs.size() != 2)
    throw UsageError(
        fmt::format("compare: expected the base and the new result file (BASE.json NEW.json), got {} "
                    "file(s); or FILE --backends BASE,NEW, or --ab BASE_BITLAB NEW_BITLAB",
                    o.inputs.size()));
  for (size_t i = 0; i < 2; ++i)
    if (o.inputs[i].empty())
      throw UsageError(fmt::format("compare: {}: the result file name must not be empty", i ? "new" : "base"));
  const ResultDoc base = read_result_file(o.inputs[0]);
  const ResultDoc cur = read_result_file(o.inputs[1]);
  return {side_of({base}, base.path), side_of({cur}, cur.path)};
}

std::vector<std::string> context_warnings(const Side& base, const Side& cur, bool same_file) {
  std::vector<std::string> out;
  if (!same_file) out = context_differences(base.contexts.front(), cur.contexts.front());
  for (const auto& [s, who] : {std::pair{&base, "BASE"}, std::pair{&cur, "NEW"}}) {
    if (same_file && s == &cur) break;  // one file: one context
    for (size_t i = 0; i < s->contexts.size(); ++i) {
      const std::string name = s->contexts.size() > 1 ? fmt::format("{} round {}", who, i + 1) : std::string(who);
      // Two files: the first context's busy note came with context_differences.
      if (!same_file && i == 0) continue;
      if (std::string b = busy_machine(s->contexts[i], same_file ? "the run" : name); !b.empty()) out.push_back(b);
    }
  }
  return out;
}

int run_compare(const CompareOptions& o) {
  const Thresholds th = parse_thresholds(o);
  if (!(o.alpha > 0 && o.alpha < 1)) throw UsageError(fmt::format("--alpha {}: must lie in (0, 1)", o.alpha));
  if (!(o.confidence > 0 && o.confidence < 1))
    throw UsageError(fmt::format("--confidence {}: must lie in (0, 1)", o.confidence));
  std::regex filter;
  if (!o.filter.empty()) {
    try {
      filter = std::regex(o.filter, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw UsageError(fmt::format("--filter {}: not a regular expression: {}", o.filter, e.what()));
    }
  }
  auto [base, cur] = load_sides(o);
  if (!o.filter.empty()) {
    apply_filter(base, filter);
    apply_filter(cur, filter);
    if (base.timings.empty() && cur.timings.empty())
      throw InputError(fmt::format("--filter {} matches no measurement of {} or {}", o.filter, base.path, cur.path));
  }
  Comparison c = compare(base, cur, th, o);
  require_overlap(base, cur, c);
  c.warnings = context_warnings(base, cur, !o.backends.empty());
  for (const std::string& w : c.warnings) fmt::print(stderr, "compare: warning: {}\n", printable(w));
  const bool fails = (c.regressed() && !o.warn_only) || !c.failures.empty();
  const int code = fails ? 1 : 0;
  if (o.format == "markdown")
    print_markdown(o, th, base, cur, c);
  else if (o.format == "json")
    print_json(o, base, cur, c, code);
  else
    print_text(o, th, base, cur, c);
  return code;
}

}  // namespace

CLI::App* add_compare(CLI::App& app, Action& action) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* sub = app.add_subcommand(
      "compare",
      "Compare timings and correctness: two result files (BASE.json NEW.json), two backends of one file (FILE "
      "--backends BASE,NEW), or two builds run in interleaved rounds (--ab BASE_BITLAB NEW_BITLAB [-- bench "
      "options]); exit 1 on a regression or a correctness loss, 2 when there is no verdict");
  // Empty values are checked per mode in load_sides (a bench option may be empty).
  allow_empty(sub->add_option("files", o->inputs,
                              "BASE.json NEW.json; or FILE with --backends; with --ab, the bench options after --"));
  sub->add_option("--ab", o->ab,
                  "BASE_BITLAB NEW_BITLAB: run both builds' bench in alternating rounds (ABBA BAAB ...) with the "
                  "options after --, then compare the pooled rounds")
      ->expected(2);
  sub->add_option("--backends", o->backends,
                  "BASE,NEW: compare two backends of one result file, case by case (ratios NEW/BASE)")
      ->delimiter(',')
      ->allow_extra_args(false);
  CLI::Option* rounds = add_integer(sub, "--rounds", o->rounds, "--ab: rounds, each one run of each build (8 absorb one disturbed round)",
                                          1, 1000);
  CLI::Option* work_dir = sub->add_option(
      "--work-dir", o->work_dir, "--ab: keep the runs' result files here (default: a temporary folder, removed)");
  sub->add_option("--threshold", o->threshold, "smallest change of the ratio that counts: 5% or 0.05")
      ->capture_default_str();
  sub->add_option("--threshold-for", o->threshold_for,
                  "KEYGLOB=PCT: the threshold of the cases whose key matches the glob (repeatable; the last match "
                  "applies), e.g. 'e2e/*=10%'")
      ->allow_extra_args(false);
  add_real(sub, "--alpha", o->alpha, "significance level of the two-sided Mann-Whitney U test", 0.0, 1.0);
  add_real(sub, "--confidence", o->confidence, "confidence of the bootstrap interval of each ratio", 0.0, 1.0);
  add_integer(sub, "--resamples", o->resamples,
              "bootstrap resamples (fixed seed: the same inputs give the same verdict)", 100, 1000000);
  sub->add_option("--filter", o->filter, "compare only the cases whose key matches this regular expression");
  sub->add_flag("--warn-only", o->warn_only, "report timing regressions but exit 0 for them");
  sub->add_option("--format", o->format, "text, markdown for a pull request, or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "markdown", "json"}));
  sub->callback([&action, o, rounds, work_dir] {
    o->ab_only_given = rounds->count() > 0 || work_dir->count() > 0;
    action = [o] { return run_compare(*o); };
  });
  return sub;
}

}  // namespace bitlab::cli
