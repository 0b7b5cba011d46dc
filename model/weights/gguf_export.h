// One entry point for writing the lab's weights in a peer engine's GGUF
// dialect, so `bitlab export` and `bitlab bench --peer` name formats the same
// way and every peer runs exactly the weights the lab benchmarks.
//
//   gguf-i2s     bitnet.cpp's I2_S (2 bits per weight, one fp32 scale per tensor)
//   gguf-tq2_0   llama.cpp's TQ2_0 (2 bits, 256-weight blocks)
//   gguf-tq1_0   llama.cpp's TQ1_0 (1.69 bits, base 3)
//   gguf-f16     fp16 ternary values, the input of llama-quantize (both llama.cpps)
//   gguf-iq2_bn  ik_llama.cpp's IQ2_BN (2 bits, an fp32 scale per row)
//   gguf-iq1_bn  ik_llama.cpp's IQ1_BN (1.625 bits, an fp16 scale per row)
//   gguf-tl2     bitnet.cpp's TL2 (1.67 bits, tiled for its generated kernels, fp32 scale)
//
// Every file holds the same tensors (llama.cpp names, F32 norms, the BF16
// embedding that is also the tied LM head) and the lab's ternary codes
// unchanged. Scales: where the format stores them in fp32 (I2_S, TL2, IQ2_BN) the
// tensor's scale is written as is. Where it stores fp16 and the architecture
// reads per-tensor `blk.N.<matrix>.scale` F32 tensors ("bitnet", in llama.cpp
// and ik_llama.cpp), the blocks hold 1 and the scale goes there, exact.
// Otherwise (IQ1_BN or F16 under "bitnet-b1.58") the file can hold only the
// fp16 rounding of the scale: the summary counts the tensors where that
// differs from the lab's.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "model/weights/gguf.h"
#include "model/weights/canonical.h"

namespace bitlab {

// An architecture a format may be written with, and who runs that combination.
struct GgufExportArch {
  std::string name;     // general.architecture
  std::string engines;  // "llama.cpp", "ik_llama.cpp", ...
};

struct GgufExportFormat {
  std::string name;          // "gguf-i2s", ...
  std::string description;   // one line for --help and the export's summary
  std::string default_arch;  // general.architecture written unless overridden (archs[0])
  std::string ggml_type;     // "I2_S", "TQ2_0", ... : the type of the ternary matrices
  std::vector<GgufExportArch> archs;  // every architecture allowed, the default first
  // Rows (the k weights of one output) must be a multiple of this; 0: the
  // whole matrix must hold a multiple of `tensor_multiple` weights instead.
  int64_t row_multiple = 0;
  int64_t tensor_multiple = 1;
};

// Every format `export_gguf` writes, in a stable order.
const std::vector<GgufExportFormat>& gguf_export_formats();

// Throws UsageError naming the known formats when `name` is not one of them.
const GgufExportFormat& find_gguf_export_format(std::string_view name);

// The architecture `arch` (empty: the default) resolves to for format `f`;
// throws UsageError listing the allowed ones if `f` is not written with it.
const GgufExportArch& find_gguf_export_arch(const GgufExportFormat& f, std::string_view arch);

// What a written file holds, for the export's summary.
struct GgufExportSummary {
  std::string format, ggml_type, arch, engines;
  bool scale_tensors = false;  // scales in `.scale` tensors (blocks hold 1)
  bool scales_f16 = false;     // the file holds the scales as fp16 (in blocks or rows)
  int ternary_tensors = 0;
  // Tensors whose scale the file holds only rounded to fp16, and the largest
  // relative error of that rounding.
  std::vector<std::string> rounded_scales;
  double max_scale_rel_error = 0;

  bool exact() const { return rounded_scales.empty(); }
  // One line: type, architecture, engines, where the scales are and whether exact.
  std::string describe() const;
};

// Writes `w` to `path` as `format`. `vocab` (may be null): a GGUF file whose
// tokenizer metadata is copied. `arch` empty = the format's default
// architecture name ("bitnet-b1.58": 2B4T's relu² graph; "bitnet": the
// SiLU-gated graph llama.cpp and ik_llama.cpp also read). Throws UsageError
// for an architecture the format is not read with, or a matrix whose shape
// the format cannot hold (naming the tensor), before anything is written.
GgufExportSummary export_gguf(const ModelWeights& w, std::string_view format, const std::string& path,
                              const GgufFile* vocab = nullptr, std::string_view arch = {});

}  // namespace bitlab
