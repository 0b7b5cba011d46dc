// libFuzzer target: any bytes through the result-file reader `bitlab compare`
// uses. Every input either parses or is refused with a UsageError; anything
// else (another exception, a crash, a hang) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "harness/result_reader.h"
#include "model/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const bitlab::cli::ResultDoc d =
        bitlab::cli::parse_result(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    for (const auto& m : d.measurements)
      if (m.samples.empty()) __builtin_trap();  // the reader promises samples
  } catch (const bitlab::UsageError&) {
  }
  return 0;
}
