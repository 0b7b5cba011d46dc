// The `bitlab` subcommands. Each adds itself to the CLI11 app and sets the
// function main() runs once parsing succeeded.
#pragma once
#include <functional>

#include <CLI/CLI.hpp>

namespace bitlab::cli {

using Action = std::function<int()>;

// Each returns the subcommand it added; `action` is set when it is chosen.
CLI::App* add_info(CLI::App& app, Action& action);
CLI::App* add_run(CLI::App& app, Action& action);
CLI::App* add_compare(CLI::App& app, Action& action);
CLI::App* add_report(CLI::App& app, Action& action);
CLI::App* add_bench(CLI::App& app, Action& action);
CLI::App* add_check(CLI::App& app, Action& action);
CLI::App* add_energy(CLI::App& app, Action& action);
CLI::App* add_export(CLI::App& app, Action& action);
CLI::App* add_tokenize(CLI::App& app, Action& action);
CLI::App* add_detokenize(CLI::App& app, Action& action);
CLI::App* add_generate(CLI::App& app, Action& action);

}  // namespace bitlab::cli
