#include "harness/peers/peer_spec.h"

#include <sstream>

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/gguf_export.h"

namespace bitlab::peers {

const std::vector<EngineDefault>& engine_defaults() {
  // Each engine's fastest ternary type on x86 that runs the lab's weights as they are.
  static const std::vector<EngineDefault> d = {
      {"bitnet.cpp", "gguf-i2s"}, {"llama.cpp", "gguf-tq2_0"}, {"ik_llama.cpp", "gguf-iq2_bn"}};
  return d;
}

std::string PeerSpec::display() const {
  const std::string_view f = format.starts_with("gguf-") ? std::string_view(format).substr(5) : format;
  std::string suffix;
  for (const std::string& a : extra_args)
    for (char c : a)
      if (c != '-' && c != ' ') suffix += c;
  return fmt::format("{}/{}{}{}", engine, f, suffix.empty() ? "" : "+", suffix);
}

std::string PeerSpec::arch() const {
  for (const GgufExportFormat& f : gguf_export_formats())
    if (f.name == format) return f.default_arch;
  // Formats this build does not write yet, as the exporter will name them.
  return engine == "llama.cpp" ? "bitnet" : "bitnet-b1.58";
}

DepthFlag PeerSpec::depth_flag() const {
  if (engine == "llama.cpp") return DepthFlag::Depth;
  if (engine == "ik_llama.cpp") return DepthFlag::GenAfterPrompt;
  return DepthFlag::None;
}

std::vector<std::string> PeerSpec::network_differs() const {
  std::vector<std::string> d;
  // Arch "bitnet" is the graph llama.cpp wrote for the older BitNet models.
  if (arch() == "bitnet") d.emplace_back("SiLU-gated FFN instead of relu²");
  if (engine == "bitnet.cpp") d.emplace_back("f16 K/V cache and f16 attention");
  if (engine == "ik_llama.cpp") {
    d.emplace_back("activation scales per 64 values (Q8_K64), not per token");
    d.emplace_back("f16 K/V cache");
  }
  if (engine == "llama.cpp") d.emplace_back("f16 K/V cache");
  return d;
}

bool PeerSpec::different_network() const { return arch() == "bitnet"; }

PeerSpec parse_peer_spec(std::string_view arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == arg.size())
    throw UsageError(fmt::format(
        "--peer '{}': expected NAME[:FORMAT]=PATH, e.g. llama.cpp=/opt/llama.cpp/build/bin/llama-bench", arg));
  std::string_view name = arg.substr(0, eq);
  PeerSpec p;
  p.binary = std::string(arg.substr(eq + 1));
  const size_t colon = name.find(':');
  if (colon != std::string_view::npos) {
    std::string_view f = name.substr(colon + 1);
    if (f.empty()) throw UsageError(fmt::format("--peer '{}': empty FORMAT after ':'", arg));
    p.format = f.starts_with("gguf-") ? std::string(f) : "gguf-" + std::string(f);
    name = name.substr(0, colon);
  }
  std::string known;
  for (const EngineDefault& e : engine_defaults()) {
    if (name == e.engine) {
      p.engine = e.engine;
      if (p.format.empty()) p.format = e.format;
      return p;
    }
    known += known.empty() ? e.engine : fmt::format(", {}", e.engine);
  }
  throw UsageError(fmt::format("--peer '{}': unknown engine '{}' (known: {})", arg, name, known));
}

void check_peer_format(const PeerSpec& p) {
  try {
    find_gguf_export_format(p.format);
  } catch (const UsageError& e) {
    throw UsageError(fmt::format("--peer {}: {}", p.engine, e.what()));
  }
}

std::vector<std::string> peer_extra_args(const std::vector<std::string>& entries, const PeerSpec& p) {
  std::vector<std::string> out;
  for (const std::string& e : entries) {
    const size_t eq = e.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == e.size())
      throw UsageError(fmt::format("--peer-args '{}': expected NAME[:FORMAT]=ARGS, e.g. 'ik_llama.cpp=-rtr 1'", e));
    // The same NAME[:FORMAT] grammar as --peer (a stand-in path to parse it).
    PeerSpec who;
    try {
      who = parse_peer_spec(e.substr(0, eq) + "=-");
    } catch (const UsageError&) {
      throw UsageError(fmt::format("--peer-args '{}': unknown engine '{}'", e, e.substr(0, e.find_first_of(":="))));
    }
    const bool format_named = e.substr(0, eq).find(':') != std::string::npos;
    if (who.engine != p.engine || (format_named && who.format != p.format)) continue;
    std::istringstream words(e.substr(eq + 1));
    for (std::string w; words >> w;) out.push_back(w);
  }
  return out;
}

}  // namespace bitlab::peers
