// bitlab: the command line. Parses, runs one subcommand, and turns every error
// into one line on stderr and an exit code: 2 for bad usage (unknown backend
// or model, bad number, wrong shape), 1 for anything that failed while running.
#include <algorithm>
#include <cstdio>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "harness/cli_options.h"
#include "harness/commands.h"
#include "harness/results.h"
#include "harness/terminal_text.h"
#include "model/error.h"
#include "model/weights/json_error.h"

namespace {

// The one sink of every error: names and paths inside a message may come from
// files or the command line, so control characters are shown escaped and the
// message stays one line.
int fail(int code, std::string_view message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.remove_suffix(1);
  fmt::print(stderr, "bitlab: {}\n", bitlab::cli::printable(message));
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bitlab;
  remember_command_line(argc, argv);
  CLI::App app{"bitlab: a benchmark and kernel lab for BitNet b1.58 2B4T (ternary weights, int8 activations)",
               "bitlab"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "bitlab 0.1.0");
  cli::Action action;
  cli::add_info(app, action);
  cli::add_run(app, action);
  cli::add_compare(app, action);
  cli::add_report(app, action);
  cli::add_bench(app, action);
  cli::add_check(app, action);
  cli::add_energy(app, action);
  cli::add_export(app, action);
  cli::add_tokenize(app, action);
  cli::add_detokenize(app, action);
  cli::add_generate(app, action);
  cli::add_score(app, action);
  cli::add_results(app, action);
  cli::add_history(app, action);
  cli::forbid_empty_values(app);

  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end())
      return fail(2, fmt::format("unknown command '{}' (commands: {})", argv[1], fmt::join(names, ", ")));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return fail(2, fmt::format("{} (see bitlab --help)", e.what()));
  }
  try {
    cli::check_list_options(app, argc, argv);
  } catch (const UsageError& e) {
    return fail(2, e.what());
  }
  const std::string command = app.get_subcommands().empty() ? "bitlab" : app.get_subcommands().front()->get_name();
  try {
    return action();
  } catch (const UsageError& e) {
    return fail(2, e.what());
  } catch (const std::bad_alloc&) {
    return fail(1, fmt::format("out of memory while running '{}' (try a smaller --model, --prompt-len, --gen or "
                               "--tokens, or fewer --threads)",
                               command));
  } catch (const nlohmann::json::exception& e) {
    return fail(1, fmt::format("'{}': bad JSON: {}", command, json_error_text(e.what())));
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
}
