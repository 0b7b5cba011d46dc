// What every command's options share: numbers parsed strictly and bounded (an
// option outside its range, overflowing its type or with trailing junk is a
// one-line usage error naming it), no empty values, and the options most
// commands take (--model, --backend(s), --threads, --device, seeds).
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "model/backend.h"
#include "model/config.h"

namespace bitlab::cli {

// Parse-time cap on token counts (--prompt-len, --gen, --tokens, --max-tokens):
// above any model's positions, and small enough that sums and products of
// these counts with the model's widths cannot overflow int64. Each command
// then holds them to its model's positions (check_positions, check_tokens).
inline constexpr int64_t kMaxTokenCount = int64_t(1) << 20;

// Accepts the whole string as one integer of type T within [lo, hi]; refuses a
// sign on an unsigned type ("-1" is not 2^64-1), overflow, and trailing text.
template <class T>
CLI::Validator integer_in(T lo, T hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        T v{};
        const char* end = s.data() + s.size();
        const auto [stop, ec] = std::from_chars(s.data(), end, v);
        if ((ec == std::errc() || ec == std::errc::result_out_of_range) && stop == end &&
            (ec != std::errc() || v < lo || v > hi))
          return fmt::format("{} is out of range (expected {} to {})", s, lo, hi);
        if (ec != std::errc() || stop != end || s.empty())
          return fmt::format("'{}' is not an integer (expected {} to {})", s, lo, hi);
        return {};
      },
      fmt::format("INT in [{} - {}]", lo, hi));
}

// A finite decimal number within [lo, hi] (no nan, no inf, no trailing text).
CLI::Validator real_in(double lo, double hi);

// An integer option bounded to [lo, hi] (each element, for a list).
template <class T>
CLI::Option* add_integer(CLI::App* sub, const std::string& name, T& target, const std::string& help, T lo, T hi) {
  return sub->add_option(name, target, help)->capture_default_str()->check(integer_in<T>(lo, hi));
}
template <class T>
CLI::Option* add_integers(CLI::App* sub, const std::string& name, std::vector<T>& target, const std::string& help,
                          T lo, T hi) {
  return sub->add_option(name, target, help)->delimiter(',')->capture_default_str()->check(integer_in<T>(lo, hi));
}
template <class T>
CLI::Option* add_real(CLI::App* sub, const std::string& name, T& target, const std::string& help, double lo,
                      double hi) {
  return sub->add_option(name, target, help)->capture_default_str()->check(real_in(lo, hi));
}

// A token count from 1 to kMaxTokenCount.
CLI::Option* add_token_count(CLI::App* sub, const std::string& name, int64_t& target, const std::string& help);
CLI::Option* add_threads(CLI::App* sub, int& target);
// --top-k: 0 (or any k at least the vocabulary) samples from every token; token
// ids are int32, so no k above INT32_MAX means anything.
CLI::Option* add_top_k(CLI::App* sub, int64_t& target);
CLI::Option* add_device(CLI::App* sub, int& target);
CLI::Option* add_seed(CLI::App* sub, const std::string& name, uint64_t& target, const std::string& help);
CLI::Option* add_model(CLI::App* sub, std::string& target, const std::string& what);
// --backend, defaulting to default_backend() (kernels/registry.h): run and
// generate measure the fastest CPU backend unless told otherwise.
CLI::Option* add_backend(CLI::App* sub, std::string& target);
CLI::Option* add_backends(CLI::App* sub, std::vector<std::string>& target, const std::string& help);

// --variant NAME, repeatable (or comma-separated): kernel variants to pin
// (model/backend.h KernelVariant; `bitlab info` lists each backend's).
CLI::Option* add_variants(CLI::App* sub, std::vector<std::string>& target);
// Each name of `variants` must be listed by at least one of `backends`
// (kernel_variants): a UsageError naming the first that is not.
void check_variants(const std::vector<std::string>& backends, const std::vector<std::string>& variants);
// The options a command opens `backend` with: its threads and device, and the
// names of `variants` that `backend` lists, pinned.
// `bits`, when given, picks the weight layout (BackendOptions::weight_bits).
BackendOptions backend_options(const std::string& backend, int threads, int device,
                               const std::vector<std::string>& variants, std::optional<WeightBits> bits = {});
// --weight-bits 2|1.6 (one), or a comma-separated list of them (bench).
CLI::Option* add_weight_bits(CLI::App* sub, const std::string& name, std::string& target);
CLI::Option* add_weight_bits(CLI::App* sub, const std::string& name, std::vector<std::string>& target);
// The layout an option's value asks for: unset for the empty string (the
// option not given), else parse_weight_bits.
std::optional<WeightBits> weight_bits_option(const std::string& value);

// --prompt-ids 1,2,3 and --prompt-ids-file FILE: a prompt given as token ids
// (harness/ids_file.h), one or the other. Each excludes the options of
// `excluded` (the command's other ways to give a prompt).
void add_prompt_ids(CLI::App* sub, std::string& list, std::string& file, const std::vector<CLI::Option*>& excluded);

// Marks an option whose value may be the empty string (a prompt, a text).
CLI::Option* allow_empty(CLI::Option* opt);
// Every value-taking option of `app`'s subcommands not marked allow_empty
// refuses "": an empty --model, --backend or --out is a slip, never a choice.
void forbid_empty_values(CLI::App& app);

// After parsing, for every comma-separated list option of the chosen command:
// an empty item ("1,,2", ",1", "1,"; the parser drops them silently) and an
// item given twice (equal as text, or as integers: "1,01") are usage errors,
// since each item names one measurement and a key may appear once in a result.
void check_list_options(const CLI::App& app, int argc, char** argv);

// `prompt_len + gen` positions must fit the model's (both are at most
// kMaxTokenCount, so the sum cannot overflow). `gen_name` is the option that
// sets gen.
void check_positions(const ModelConfig& cfg, int64_t prompt_len, int64_t gen, const char* gen_name = "--gen");
// Each of `tokens` (named `option`) must fit the model's positions.
void check_tokens(const ModelConfig& cfg, const std::vector<int64_t>& tokens, const char* option);

}  // namespace bitlab::cli
