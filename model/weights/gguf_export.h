// One entry point for writing the lab's weights in a peer engine's GGUF
// dialect, so `bitlab export` and `bitlab bench --peer` name formats the same
// way and every peer runs exactly the weights the lab benchmarks.
//
//   gguf-i2s     bitnet.cpp's I2_S (2 bits per weight, one scale per tensor)
//   (further formats are registered in gguf_export.cpp)
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "model/weights/gguf.h"
#include "model/weights/canonical.h"

namespace bitlab {

struct GgufExportFormat {
  std::string name;          // "gguf-i2s", ...
  std::string description;   // one line for --help and the export's summary
  std::string default_arch;  // general.architecture written unless overridden
};

// Every format `export_gguf` writes, in a stable order.
const std::vector<GgufExportFormat>& gguf_export_formats();

// Throws UsageError naming the known formats when `name` is not one of them.
const GgufExportFormat& find_gguf_export_format(std::string_view name);

// Writes `w` to `path` as `format`. `vocab` (may be null): a GGUF file whose
// tokenizer metadata is copied. `arch` empty = the format's default
// architecture name ("bitnet-b1.58": 2B4T's relu² graph; "bitnet": the
// SiLU-gated graph llama.cpp and ik_llama.cpp also read).
void export_gguf(const ModelWeights& w, std::string_view format, const std::string& path,
                 const GgufFile* vocab = nullptr, std::string_view arch = {});

}  // namespace bitlab
