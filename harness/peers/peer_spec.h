// A peer engine named on `bitlab bench --peer NAME[:FORMAT]=PATH`: which
// engine, which GGUF dialect of the lab's weights it runs (model/weights/
// gguf_export.h), its llama-bench binary, and how its network and its
// llama-bench differ from what bitlab measures.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace bitlab::peers {

// How a peer's llama-bench puts tokens in the KV cache before the timed work:
// llama.cpp's `-d N`, ik_llama.cpp's `-gp PROMPT,GEN` (decode only), or not at
// all (bitnet.cpp's fork: every test starts from an empty context).
enum class DepthFlag { Depth, GenAfterPrompt, None };

struct PeerSpec {
  std::string engine;  // "bitnet.cpp", "llama.cpp" or "ik_llama.cpp"
  std::string format;  // a gguf_export format name, "gguf-i2s", ...
  std::string binary;  // the peer's llama-bench
  // --peer-args: more llama-bench options for this peer (e.g. ik_llama.cpp's
  // "-rtr 1", run-time repacking), added to every run of it.
  std::vector<std::string> extra_args;
  // "llama.cpp/tq2_0": the backend column and the rows' `backend`; with
  // extra arguments they follow a '+' without dashes or spaces
  // ("ik_llama.cpp/iq2_bn+rtr1"), so two settings of one engine stay apart.
  std::string display() const;
  // The GGUF architecture the export writes (the format's default).
  std::string arch() const;
  DepthFlag depth_flag() const;
  // How the peer's graph differs from 2B4T's, one phrase each.
  std::vector<std::string> network_differs() const;
  // Whether the peer computes another function (not just other rounding):
  // its correctness check is then flagged, not failed.
  bool different_network() const;
};

// The three engines and each one's default format, in a stable order.
struct EngineDefault {
  const char* engine;
  const char* format;
};
const std::vector<EngineDefault>& engine_defaults();

// Parses NAME[:FORMAT]=PATH (FORMAT with or without "gguf-"). A name that is
// not a known engine, a missing '=' or an empty part is a UsageError naming
// the argument. The format is checked against the exporter later
// (check_peer_formats), so one message lists the formats this build writes.
PeerSpec parse_peer_spec(std::string_view arg);

// UsageError naming the peer when its format is not one export_gguf writes.
void check_peer_format(const PeerSpec& p);

// The llama-bench options --peer-args gives `p`: every NAME[:FORMAT]=ARGS whose
// engine is p's (and format, where named), ARGS split at spaces, in order. An
// entry without '=' or ARGS, or naming an unknown engine, is a UsageError.
std::vector<std::string> peer_extra_args(const std::vector<std::string>& entries, const PeerSpec& p);

}  // namespace bitlab::peers
