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
CLI::App* add_score(CLI::App& app, Action& action);
CLI::App* add_results(CLI::App& app, Action& action);
CLI::App* add_history(CLI::App& app, Action& action);

// The tied-head choice (--head on run and generate, --heads on bench): "bf16",
// "int8" or "certified" (model/transformer.h HeadKind); `target` is one name or a list.
template <class T>
CLI::Option* add_head_option(CLI::App* sub, const std::string& name, T& target) {
  return sub
      ->add_option(name, target,
                   "LM head: bf16 (the released model), int8 (a per-row int8 quantisation of the table, half "
                   "the bytes per decode step) or certified (greedy decoding reads the int8 table and rescores "
                   "with bf16 only the rows that could win: the bf16 head's tokens exactly)")
      ->capture_default_str()
      ->check(CLI::IsMember({"bf16", "int8", "certified"}));
}

}  // namespace bitlab::cli
