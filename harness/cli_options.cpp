#include "harness/cli_options.h"

#include <algorithm>
#include <set>

#include <fmt/ranges.h>

#include "harness/model_spec.h"
#include "model/error.h"
#include "kernels/registry.h"

namespace bitlab::cli {

CLI::Validator real_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        double v = 0;
        const char* end = s.data() + s.size();
        const auto [stop, ec] = std::from_chars(s.data(), end, v);
        if (s.empty() || ec != std::errc() || stop != end || !std::isfinite(v))
          return fmt::format("'{}' is not a finite number (expected {:g} to {:g})", s, lo, hi);
        if (v < lo || v > hi) return fmt::format("{} is out of range (expected {:g} to {:g})", s, lo, hi);
        return {};
      },
      fmt::format("NUMBER in [{:g} - {:g}]", lo, hi));
}

CLI::Option* add_token_count(CLI::App* sub, const std::string& name, int64_t& target, const std::string& help) {
  return add_integer<int64_t>(sub, name, target, help, 1, kMaxTokenCount);
}

CLI::Option* add_threads(CLI::App* sub, int& target) {
  return add_integer(sub, "--threads", target, "CPU threads (0 = all cores)", 0, 1024);
}

CLI::Option* add_top_k(CLI::App* sub, int64_t& target) {
  return add_integer<int64_t>(sub, "--top-k", target,
                              "sample from the k most likely tokens (0, or k at least the vocabulary: all)", 0,
                              INT32_MAX);
}

CLI::Option* add_device(CLI::App* sub, int& target) {
  return add_integer(sub, "--device", target, "GPU index for the cuda and vulkan backends (`bitlab info` lists them)",
                     0, 255);
}

CLI::Option* add_seed(CLI::App* sub, const std::string& name, uint64_t& target, const std::string& help) {
  return add_integer<uint64_t>(sub, name, target, help, 0, UINT64_MAX);
}

CLI::Option* add_model(CLI::App* sub, std::string& target, const std::string& what) {
  return sub->add_option("--model", target, what + ": " + kModelSpecHelp)->capture_default_str();
}

CLI::Option* add_backend(CLI::App* sub, std::string& target) {
  target = default_backend();
  return sub
      ->add_option("--backend", target,
                   "backend (see `bitlab info`), or 'reference' for the oracle; default: the fastest CPU backend "
                   "usable here, i.e. the last of scalar, avx512, neon that `bitlab info --usable` lists")
      ->capture_default_str();
}

CLI::Option* add_backends(CLI::App* sub, std::vector<std::string>& target, const std::string& help) {
  return sub->add_option("--backends", target, help)->delimiter(',');
}

CLI::Option* add_variants(CLI::App* sub, std::vector<std::string>& target) {
  return sub
      ->add_option("--variant", target,
                   "pin a kernel variant by name (repeatable); each selected backend that lists it runs it for its op "
                   "(`bitlab info --kernels` lists them)")
      ->expected(1)
      ->delimiter(',');
}

void check_variants(const std::vector<std::string>& backends, const std::vector<std::string>& variants) {
  for (const std::string& name : variants) {
    bool listed = false;
    for (const std::string& b : backends)
      for (const KernelVariant& v : kernel_variants(b)) listed = listed || v.name == name;
    if (!listed)
      throw UsageError(fmt::format("--variant '{}': no selected backend lists it (selected: {})", name,
                                   fmt::join(backends, ", ")));
  }
}

BackendOptions backend_options(const std::string& backend, int threads, int device,
                               const std::vector<std::string>& variants, std::optional<WeightBits> bits) {
  BackendOptions o{.threads = threads, .device = device, .weight_bits = bits};
  for (const KernelVariant& v : kernel_variants(backend))
    if (std::find(variants.begin(), variants.end(), v.name) != variants.end()) o.variants.push_back(v.name);
  return o;
}

namespace {
constexpr const char* kWeightBitsHelp =
    "bits per stored ternary weight: 2 (four per byte) or 1.6 (base 3, five per byte; fewer bytes per decode step, "
    "the same output bits); default: the backend's default matmul (2)";
}  // namespace

CLI::Option* add_weight_bits(CLI::App* sub, const std::string& name, std::string& target) {
  return sub->add_option(name, target, kWeightBitsHelp)->check(CLI::IsMember({"2", "1.6"}));
}

CLI::Option* add_weight_bits(CLI::App* sub, const std::string& name, std::vector<std::string>& target) {
  return sub->add_option(name, target, std::string(kWeightBitsHelp) + "; a list runs each")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::IsMember({"2", "1.6"}));
}

std::optional<WeightBits> weight_bits_option(const std::string& value) {
  if (value.empty()) return std::nullopt;
  return parse_weight_bits(value);
}

void add_prompt_ids(CLI::App* sub, std::string& list, std::string& file, const std::vector<CLI::Option*>& excluded) {
  CLI::Option* l = sub->add_option("--prompt-ids", list,
                                   "the prompt as token ids, separated by commas or spaces (e.g. 128000,791,6460)");
  CLI::Option* f = sub->add_option("--prompt-ids-file", file,
                                   "the prompt as token ids from a file, separated by spaces, commas or newlines");
  l->excludes(f);
  for (CLI::Option* other : excluded) {
    l->excludes(other);
    f->excludes(other);
  }
}

namespace {
std::set<const CLI::Option*>& empty_allowed() {
  static std::set<const CLI::Option*> options;
  return options;
}
}  // namespace

CLI::Option* allow_empty(CLI::Option* opt) {
  empty_allowed().insert(opt);
  return opt;
}

void forbid_empty_values(CLI::App& app) {
  const CLI::Validator non_empty(
      [](std::string& s) { return s.empty() ? std::string("must not be empty") : std::string(); }, "", "NON-EMPTY");
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    for (CLI::Option* opt : sub->get_options())
      if (opt->get_type_size() != 0 && !empty_allowed().count(opt)) opt->check(non_empty);
}

namespace {

// The value given to `opt` in argv[i] ("--opt=v", "-ov") or argv[i + 1] ("--opt v", "-o v").
bool list_value_at(const CLI::Option* opt, int argc, char** argv, int i, std::string* value) {
  const std::string arg = argv[i];
  for (const std::string& name : opt->get_snames()) {
    const std::string flag = "-" + name;
    if (arg == flag && i + 1 < argc) {
      *value = argv[i + 1];
      return true;
    }
    if (arg.size() > flag.size() && arg.rfind(flag, 0) == 0) {
      *value = arg.substr(flag.size());
      return true;
    }
  }
  for (const std::string& name : opt->get_lnames()) {
    const std::string flag = "--" + name;
    if (arg == flag && i + 1 < argc) {
      *value = argv[i + 1];
      return true;
    }
    if (arg.rfind(flag + "=", 0) == 0) {
      *value = arg.substr(flag.size() + 1);
      return true;
    }
  }
  return false;
}

// An item's identity: its integer value where it is one, else its text.
std::string list_item_identity(const std::string& item) {
  long long v = 0;
  const char* end = item.data() + item.size();
  const auto [stop, ec] = std::from_chars(item.data(), end, v);
  return ec == std::errc() && stop == end && !item.empty() ? "int:" + std::to_string(v) : "text:" + item;
}

}  // namespace

void check_list_options(const CLI::App& app, int argc, char** argv) {
  for (const CLI::App* sub : app.get_subcommands()) {
    for (const CLI::Option* opt : sub->get_options()) {
      if (!opt->nonpositional() || opt->get_delimiter() != ',' || opt->count() == 0) continue;
      for (int i = 1; i < argc; ++i) {
        std::string value;
        if (!list_value_at(opt, argc, argv, i, &value)) continue;
        if (value.empty()) continue;  // forbid_empty_values names it
        if (value.front() == ',' || value.back() == ',' || value.find(",,") != std::string::npos)
          throw UsageError(fmt::format("{}: '{}' has an empty item", opt->get_name(), value));
      }
      std::set<std::string> seen;
      for (const std::string& item : opt->results())
        if (!seen.insert(list_item_identity(item)).second)
          throw UsageError(fmt::format("{}: '{}' is given twice", opt->get_name(), item));
    }
  }
}

void check_positions(const ModelConfig& cfg, int64_t prompt_len, int64_t gen, const char* gen_name) {
  if (prompt_len + gen > cfg.max_pos)
    throw UsageError(fmt::format("--prompt-len + {} = {} exceeds the model's {} positions", gen_name,
                                 prompt_len + gen, cfg.max_pos));
}

void check_tokens(const ModelConfig& cfg, const std::vector<int64_t>& tokens, const char* option) {
  for (int64_t t : tokens)
    if (t > cfg.max_pos)
      throw UsageError(fmt::format("{} {} exceeds the model's {} positions", option, t, cfg.max_pos));
}

}  // namespace bitlab::cli
