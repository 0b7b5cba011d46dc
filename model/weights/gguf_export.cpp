#include "model/weights/gguf_export.h"

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/gguf_model.h"

namespace bitlab {

const std::vector<GgufExportFormat>& gguf_export_formats() {
  static const std::vector<GgufExportFormat> formats = {
      {"gguf-i2s", "bitnet.cpp I2_S: 2 bits per weight, one scale per tensor", "bitnet-b1.58"},
  };
  return formats;
}

const GgufExportFormat& find_gguf_export_format(std::string_view name) {
  std::string known;
  for (const GgufExportFormat& f : gguf_export_formats()) {
    if (f.name == name) return f;
    if (!known.empty()) known += ", ";
    known += f.name;
  }
  throw UsageError(fmt::format("unknown GGUF format '{}' (known: {})", name, known));
}

void export_gguf(const ModelWeights& w, std::string_view format, const std::string& path, const GgufFile* vocab,
                 std::string_view arch) {
  const GgufExportFormat& f = find_gguf_export_format(format);
  if (!arch.empty() && arch != f.default_arch)
    throw UsageError(fmt::format("{} is written with architecture '{}' only", f.name, f.default_arch));
  export_gguf_i2s(w, path, vocab);
}

}  // namespace bitlab
