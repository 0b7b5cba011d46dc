// bitlab: the command line. Parses, runs one subcommand, and turns every error
// into one line on stderr and an exit code: 2 for bad usage (unknown backend
// or model, bad number, wrong shape), 1 for anything that failed while running.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "harness/commands.h"
#include "harness/results.h"
#include "model/error.h"

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

  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      fmt::print(stderr, "bitlab: unknown command '{}' (commands: {})\n", argv[1], fmt::join(names, ", "));
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    fmt::print(stderr, "bitlab: {} (see bitlab --help)\n", msg);
    return 2;
  }
  try {
    return action();
  } catch (const UsageError& e) {
    fmt::print(stderr, "bitlab: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bitlab: {}\n", e.what());
    return 1;
  }
}
