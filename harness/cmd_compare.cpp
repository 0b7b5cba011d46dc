// `bitlab compare BASE.json NEW.json`: tells real timing regressions from noise
// (medians moved by more than --threshold AND a Mann–Whitney U test below
// --alpha, see rank_test.h) and always fails on a correctness loss.
// Exit code: 0 clean, 1 a regression or a correctness failure (a verdict), 2 no
// verdict: a missing, unreadable or malformed result file (as diff uses 2), so a
// CI gate can tell "slower" from "could not compare".
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include "harness/cli_options.h"
#include "harness/commands.h"
#include "harness/rank_test.h"
#include "harness/result_reader.h"
#include "harness/terminal_text.h"
#include "model/error.h"

namespace bitlab::cli {
namespace {

struct CompareOptions {
  std::string base, current;
  std::string threshold = "5%";
  double alpha = 0.05;
  std::string format = "text";
};

using Timing = ResultTiming;
using Check = ResultCheck;

// "5%" or "0.05"; a bare number ≥ 1 is refused as ambiguous ("5" meaning 5 %?).
double parse_threshold(const std::string& s) {
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
    throw UsageError(fmt::format("--threshold {}: expected a fraction like 0.05 or a percentage like 5%", s));
  if (!percent && v >= 1)
    throw UsageError(fmt::format("--threshold {}: ambiguous, write {}% or {}", s, v, v / 100));
  return percent ? v / 100 : v;
}

// Seconds in the unit that keeps 3–4 significant digits readable.
std::string format_time(double s) {
  if (s < 1e-6) return fmt::format("{:.1f} ns", s * 1e9);
  if (s < 1e-3) return fmt::format("{:.2f} µs", s * 1e6);
  if (s < 1) return fmt::format("{:.3f} ms", s * 1e3);
  return fmt::format("{:.3f} s", s);
}

struct Row {
  std::string key;
  Change change;
};

struct CheckLine {
  const Check* check;  // the NEW entry, or the BASE one when NEW lacks it
  std::string what;
};

struct Comparison {
  std::vector<Row> rows;
  std::vector<std::string> added, removed;
  std::vector<CheckLine> failures;  // each one fails the comparison
  std::vector<CheckLine> notes;     // fixed checks: shown, not failures
  size_t checks = 0, regressions = 0, improvements = 0;
};

Comparison compare(const ResultDoc& base, const ResultDoc& cur, double threshold, double alpha) {
  Comparison c;
  std::map<std::string, const Timing*> in_new;
  for (const Timing& m : cur.measurements) in_new[m.key] = &m;
  std::set<std::string> in_base;
  for (const Timing& m : base.measurements) {
    in_base.insert(m.key);
    auto it = in_new.find(m.key);
    if (it == in_new.end()) {
      c.removed.push_back(m.key);
      continue;
    }
    Row r{m.key, judge_change(m.samples, it->second->samples, threshold, alpha)};
    c.regressions += r.change.verdict == Verdict::Regression;
    c.improvements += r.change.verdict == Verdict::Improvement;
    c.rows.push_back(std::move(r));
  }
  for (const Timing& m : cur.measurements)
    if (!in_base.count(m.key)) c.added.push_back(m.key);

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
    c.failures.push_back({&k, passed_before ? "correctness loss: passed in BASE, fails in NEW"
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

// Fields of the documents (keys, paths, names) may hold control characters:
// shown escaped (terminal_text.h) in the text report.
void print_text(const CompareOptions& o, const ResultDoc& base, const ResultDoc& cur, const Comparison& c,
                double threshold) {
  fmt::print("base  {}  ({})\nnew   {}  ({})\n", printable(base.path), printable(base.label), printable(cur.path),
             printable(cur.label));
  fmt::print("verdict: a median moved by more than {:g}% and Mann-Whitney U p < {:g} (two-sided)\n\n",
             threshold * 100, o.alpha);
  size_t w = 3;
  for (const Row& r : c.rows) w = std::max(w, printable(r.key).size());
  if (!c.rows.empty()) {
    fmt::print("{:<{}}  {:>12}  {:>12}  {:>7}  {:>8}  {}\n", "key", w, "base median", "new median", "ratio", "p",
               "verdict");
    for (const Row& r : c.rows)
      fmt::print("{:<{}}  {:>12}  {:>12}  {:>7.3f}  {:>8.2g}  {}\n", printable(r.key), w,
                 format_time(r.change.base_median), format_time(r.change.new_median), r.change.ratio,
                 r.change.test.p_value, to_string(r.change.verdict));
  }
  for (const std::string& k : c.added) fmt::print("added    {}\n", printable(k));
  for (const std::string& k : c.removed) fmt::print("removed  {}\n", printable(k));
  for (const CheckLine& l : c.failures)
    fmt::print("FAIL     {} {} {}: {}{}\n", printable(l.check->backend), printable(l.check->variant),
               printable(l.check->check), l.what, l.check->detail.empty() ? "" : " (" + l.check->detail + ")");
  for (const CheckLine& l : c.notes)
    fmt::print("note     {} {} {}: {}\n", printable(l.check->backend), printable(l.check->variant),
               printable(l.check->check), l.what);
  fmt::print("\nsummary: {} regression(s), {} improvement(s), {} same, {} added, {} removed; "
             "correctness: {} check(s) in NEW, {} failure(s)\n",
             c.regressions, c.improvements, c.rows.size() - c.regressions - c.improvements, c.added.size(),
             c.removed.size(), c.checks, c.failures.size());
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
      case '\\': case '`': case '*': case '_': case '[': case ']': case '(': case ')': case '#': case '!':
      case '~':
        out += '\\';
        out += ch;
        break;
      default: out += ch;
    }
  }
  return out;
}

void print_markdown(const CompareOptions& o, const ResultDoc& base, const ResultDoc& cur, const Comparison& c,
                    double threshold) {
  const bool failed = c.regressions > 0 || !c.failures.empty();
  fmt::print("### bitlab compare: {}\n\n", failed ? "**failed**" : "passed");
  fmt::print("Base {} ({}) → new {} ({}). A change counts when the median moves by more than {:g}% "
             "and a two-sided Mann–Whitney U test gives p < {:g}.\n\n",
             md(base.path), md(base.label), md(cur.path), md(cur.label), threshold * 100, o.alpha);
  if (!c.rows.empty()) {
    fmt::print("| key | base median | new median | ratio | p | verdict |\n|---|---:|---:|---:|---:|---|\n");
    for (const Row& r : c.rows) {
      const char* v = to_string(r.change.verdict);
      fmt::print("| {} | {} | {} | {:.3f} | {:.2g} | {} |\n", md(r.key), format_time(r.change.base_median),
                 format_time(r.change.new_median), r.change.ratio, r.change.test.p_value,
                 r.change.verdict == Verdict::Same ? fmt::format("{}", v) : fmt::format("**{}**", v));
    }
    fmt::print("\n");
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
  fmt::print("{} regression(s), {} improvement(s), {} same; {} correctness check(s) in new, {} failure(s).\n",
             c.regressions, c.improvements, c.rows.size() - c.regressions - c.improvements, c.checks,
             c.failures.size());
}

// A comparison that compared nothing must not pass a CI gate: NEW without any
// measurement or check, or NEW sharing none of BASE's measurements (a renamed
// key scheme, the wrong file), is a failure naming what is missing.
void require_overlap(const ResultDoc& base, const ResultDoc& cur, const Comparison& c) {
  if (cur.measurements.empty() && cur.checks.empty())
    throw InputError(fmt::format("{} has no measurements and no correctness checks: nothing to compare with {}",
                                 cur.path, base.path));
  if (base.measurements.empty() && base.checks.empty())
    throw InputError(fmt::format("{} has no measurements and no correctness checks: nothing to compare {} with",
                                 base.path, cur.path));
  if (!base.measurements.empty() && c.rows.empty()) {
    constexpr size_t kShown = 3;
    std::string missing;
    for (size_t i = 0; i < std::min(kShown, c.removed.size()); ++i)
      missing += (i ? ", " : "") + c.removed[i];
    if (c.removed.size() > kShown) missing += fmt::format(" and {} more", c.removed.size() - kShown);
    throw InputError(fmt::format("{} shares no measurement with {} (missing in NEW: {})", cur.path, base.path,
                                 missing));
  }
}

int run_compare(const CompareOptions& o) {
  const double threshold = parse_threshold(o.threshold);
  if (!(o.alpha > 0 && o.alpha < 1)) throw UsageError(fmt::format("--alpha {}: must lie in (0, 1)", o.alpha));
  const ResultDoc base = read_result_file(o.base), cur = read_result_file(o.current);
  const Comparison c = compare(base, cur, threshold, o.alpha);
  require_overlap(base, cur, c);
  if (o.format == "markdown")
    print_markdown(o, base, cur, c, threshold);
  else
    print_text(o, base, cur, c, threshold);
  return c.regressions > 0 || !c.failures.empty() ? 1 : 0;
}

}  // namespace

CLI::App* add_compare(CLI::App& app, Action& action) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* sub = app.add_subcommand(
      "compare", "Compare two result files: regressions beyond noise (rank test) and correctness losses; exit 1 on either");
  sub->add_option("base", o->base, "the result file to compare against")->required();
  sub->add_option("new", o->current, "the result file under test")->required();
  sub->add_option("--threshold", o->threshold, "smallest median change that counts: 5% or 0.05")
      ->capture_default_str();
  add_real(sub, "--alpha", o->alpha, "significance level of the two-sided Mann-Whitney U test", 0.0, 1.0);
  sub->add_option("--format", o->format, "text, or markdown for a pull request")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "markdown"}));
  sub->callback([&action, o] { action = [o] { return run_compare(*o); }; });
  return sub;
}

}  // namespace bitlab::cli
