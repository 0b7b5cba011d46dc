// Reads a bitlab result document (results/schema/result.schema.json) for
// `bitlab compare`: only the fields compare uses, each checked for its type,
// with every problem a UsageError naming the file and the field. Kept free of
// the rest of the harness so that the fuzz target links it alone.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace bitlab::cli {

struct ResultTiming {
  std::string key;
  std::vector<double> samples;  // seconds: finite and positive
  // Read when present (`bitlab history` keys and values on them); "" / NaN when absent.
  std::string kind, backend, variant;
  double tokens_per_s = std::numeric_limits<double>::quiet_NaN();       // derived, e2e
  double roofline_fraction = std::numeric_limits<double>::quiet_NaN();  // derived
};

struct ResultCheck {
  std::string backend, variant, check;
  bool pass = false;
  std::string detail;  // nmse / threshold, when the document has them
};

// What of the run's context decides whether two files' timings are
// comparable (harness/context_diff.h). Read leniently: a field missing or of
// another type is left unknown (NaN, -1, ""), since older files lack some and
// the machine-load fields are optional.
struct ResultContext {
  std::string command, model, cpu_model;
  bool dirty = false;
  int64_t threads = -1, logical_cores = -1;
  double bandwidth_gbps = NAN;
  double load_average = NAN;    // "load_average": a number, or the first of an array (1-minute)
  double steal_fraction = NAN;  // "steal_fraction": CPU time stolen by the hypervisor, 0..1
};

struct ResultDoc {
  std::string path, label;  // label: "<commit>[-dirty] on <cpu>"
  std::string commit, cpu_model;
  bool dirty = false;
  // The run's context where the document has it ("" / 0 when absent): what
  // `bitlab history` keys a run on.
  std::string timestamp, command;
  int threads = 0;
  double bandwidth_gbps = 0;
  uint64_t content_hash = 0;  // FNV-1a 64 of the document's bytes: the same file added twice
  ResultContext context;
  std::vector<ResultTiming> measurements;
  std::vector<ResultCheck> checks;
};

// Documents nest five levels; a deeper one is not a result file.
inline constexpr int kMaxResultDepth = 32;
// Result files are kilobytes to a few megabytes.
inline constexpr size_t kMaxResultBytes = size_t(64) << 20;

// Parses `bytes` as a result document; `name` (a path) is what errors call it.
ResultDoc parse_result(std::string_view bytes, const std::string& name);
// The bytes of `path`, a regular file of at most kMaxResultBytes (a FIFO or
// device is refused without blocking on it); a UsageError names the path.
std::string read_result_bytes(const std::string& path);
// Reads `path` (read_result_bytes) and parses it.
ResultDoc read_result_file(const std::string& path);

}  // namespace bitlab::cli
