// `bitlab results FILE... -o FORMAT`: existing result files rendered for
// other tools (harness/result_formats.h), all of them in one output.
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "harness/commands.h"
#include "harness/result_formats.h"

namespace bitlab::cli {
namespace {

struct ResultsOptions {
  std::vector<std::string> files;
  std::string output = "md";
};

int run_results(const ResultsOptions& o) {
  // The format first: a misspelt one fails before any file is read.
  const OutputFormat format = parse_output_format(o.output, "--output");
  std::vector<NamedResult> docs;
  for (const std::string& f : o.files) docs.push_back(load_named_result(f));
  const std::string text = render_results(docs, format);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

CLI::App* add_results(CLI::App& app, Action& action) {
  auto o = std::make_shared<ResultsOptions>();
  CLI::App* sub = app.add_subcommand(
      "results", "Print result files in a format other tools read (llama-bench sql/md, csv, jsonl, Google Benchmark)");
  sub->add_option("files", o->files, "result files (bitlab bench/check/energy); several make one output")
      ->required();
  sub->add_option("-o,--output", o->output,
                  fmt::format("format: {} (md and sql: the end-to-end cases as llama-bench writes them; gbench: "
                              "the kernel cases as Google Benchmark JSON)",
                              output_format_list()))
      ->capture_default_str();
  sub->callback([&action, o] { action = [o] { return run_results(*o); }; });
  return sub;
}

}  // namespace bitlab::cli
