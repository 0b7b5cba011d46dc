// Reads a bitlab result document (results/schema/result.schema.json) for
// `bitlab compare`: only the fields compare uses, each checked for its type,
// with every problem a UsageError naming the file and the field. Kept free of
// the rest of the harness so that the fuzz target links it alone.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bitlab::cli {

struct ResultTiming {
  std::string key;
  std::vector<double> samples;  // seconds: finite and positive
  std::string backend;          // the measurement's "backend" ("" when absent)
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
// Reads `path`, a regular file (a FIFO or device is refused without blocking
// on it), and parses it.
ResultDoc read_result_file(const std::string& path);

}  // namespace bitlab::cli
