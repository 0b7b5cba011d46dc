// Reads a bitlab result document (results/schema/result.schema.json) for
// `bitlab compare`: only the fields compare uses, each checked for its type,
// with every problem a UsageError naming the file and the field. Kept free of
// the rest of the harness so that the fuzz target links it alone.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace bitlab::cli {

struct ResultTiming {
  std::string key;
  std::vector<double> samples;  // seconds: finite and positive
};

struct ResultCheck {
  std::string backend, variant, check;
  bool pass = false;
  std::string detail;  // nmse / threshold, when the document has them
};

struct ResultDoc {
  std::string path, label;  // label: "<commit>[-dirty] on <cpu>"
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
