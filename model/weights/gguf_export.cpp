#include "model/weights/gguf_export.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/bn_formats.h"
#include "model/weights/f16_formats.h"
#include "model/weights/gguf_writer.h"
#include "model/weights/half.h"
#include "model/weights/ternary_formats.h"
#include "model/weights/tl2_formats.h"
#include "model/weights/tq_formats.h"

namespace bitlab {

namespace {

// How a format holds a ternary matrix: its type, bytes and encoder, and the
// precision of the scale it carries inside (blocks or rows).
struct TernaryCodec {
  std::string_view format;
  GgmlType type;
  bool scale_f32;  // the stored scale is fp32 (else fp16)
  std::function<uint64_t(int64_t n, int64_t k)> bytes;
  // Writes `w` with `stored_scale` as the in-block / in-row scale.
  std::function<void(const CanonicalTernary& w, float stored_scale, std::span<uint8_t> out)> encode;
  // Throws UsageError naming `tensor` for a shape the format cannot hold
  // beyond the block multiples of GgufExportFormat (empty: none).
  std::function<void(const CanonicalTernary& w, const std::string& tensor)> check = {};
};

const std::vector<TernaryCodec>& codecs() {
  static const std::vector<TernaryCodec> all = {
      {"gguf-i2s", GgmlType::I2_S, true, [](int64_t n, int64_t k) { return uint64_t(n) * uint64_t(k) / 4 + 32; },
       [](const CanonicalTernary& w, float s, std::span<uint8_t> out) {
         CanonicalTernary copy = w;  // encode_i2s writes the matrix's own scale
         copy.scale = s;
         encode_i2s(copy, out);
       }},
      {"gguf-tq2_0", GgmlType::TQ2_0, false, tq2_0_bytes, encode_tq2_0},
      {"gguf-tq1_0", GgmlType::TQ1_0, false, tq1_0_bytes, encode_tq1_0},
      {"gguf-f16", GgmlType::F16, false, f16_ternary_bytes, encode_f16_ternary},
      {"gguf-iq2_bn", GgmlType::IQ2_BN, true,
       [](int64_t n, int64_t k) { return uint64_t(n) * iq2_bn_row_bytes(k); }, encode_iq2_bn},
      {"gguf-iq1_bn", GgmlType::IQ1_BN, false,
       [](int64_t n, int64_t k) { return uint64_t(n) * iq1_bn_row_bytes(k); }, encode_iq1_bn},
      {"gguf-tl2", GgmlType::TL2, true, tl2_bytes, encode_tl2,
       [](const CanonicalTernary& w, const std::string& tensor) { tl2_tiling(tensor, w.n, w.k); }},
  };
  return all;
}

const TernaryCodec& codec(std::string_view format) {
  for (const TernaryCodec& c : codecs())
    if (c.format == format) return c;
  throw UsageError(fmt::format("GGUF format '{}' has no encoder", format));
}

// Architectures whose graphs multiply each matrix by an optional F32
// `blk.N.<matrix>.scale` tensor (llama.cpp's and ik_llama.cpp's "bitnet").
bool reads_scale_tensors(std::string_view arch) { return arch == "bitnet"; }

const char* const kIkQuantize = "ik_llama.cpp";

// Layer tensors in the order they are written; `ternary` < 0: a norm.
struct LayerTensor {
  const char* gguf;  // after "blk.N."
  int ternary;       // index into {q, k, v, o, gate, up, down}
  int norm;          // index into {attn_norm, attn_sub_norm, ffn_norm, ffn_sub_norm}
};
constexpr LayerTensor kLayerTensors[] = {
    {"attn_norm", -1, 0}, {"attn_q", 0, -1},   {"attn_k", 1, -1},        {"attn_v", 2, -1},
    {"attn_output", 3, -1}, {"attn_sub_norm", -1, 1}, {"ffn_norm", -1, 2}, {"ffn_gate", 4, -1},
    {"ffn_up", 5, -1},      {"ffn_down", 6, -1},  {"ffn_sub_norm", -1, 3},
};

std::string tensor_name(int64_t l, const char* t, const char* what) { return fmt::format("blk.{}.{}.{}", l, t, what); }

const CanonicalTernary& matrix(const LayerWeights& L, int i) {
  const CanonicalTernary* m[] = {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down};
  return *m[i];
}
const std::vector<float>& norm(const LayerWeights& L, int i) {
  const std::vector<float>* n[] = {&L.attn_norm, &L.attn_sub_norm, &L.ffn_norm, &L.ffn_sub_norm};
  return *n[i];
}

// Refuses a matrix the format cannot hold, naming its GGUF tensor.
void check_shape(const GgufExportFormat& f, const CanonicalTernary& t, const std::string& name) {
  if (f.row_multiple > 0 && t.k % f.row_multiple != 0)
    throw UsageError(fmt::format("cannot export as {}: tensor '{}' [{}, {}] has rows of {} weights, not a multiple of "
                                 "{}'s {}-weight block",
                                 f.name, name, t.n, t.k, t.k, f.ggml_type, f.row_multiple));
  if (f.row_multiple == 0 && (uint64_t(t.n) * uint64_t(t.k)) % uint64_t(f.tensor_multiple) != 0)
    throw UsageError(fmt::format("cannot export as {}: tensor '{}' [{}, {}] cannot be stored as {}: needs a multiple "
                                 "of {} weights",
                                 f.name, name, t.n, t.k, f.ggml_type, f.tensor_multiple));
}

void add_metadata(GgufWriter& out, const ModelWeights& w, const std::string& a, const GgufFile* vocab) {
  const ModelConfig& c = w.config;
  out.add_string("general.architecture", a);
  out.add_string("general.name", c.name);
  out.add_u32(a + ".vocab_size", uint32_t(c.vocab));
  out.add_u32(a + ".context_length", uint32_t(c.max_pos));
  out.add_u32(a + ".embedding_length", uint32_t(c.hidden));
  out.add_u32(a + ".block_count", uint32_t(c.n_layers));
  out.add_u32(a + ".feed_forward_length", uint32_t(c.ffn));
  out.add_u32(a + ".rope.dimension_count", uint32_t(c.head_dim));
  out.add_u32(a + ".attention.head_count", uint32_t(c.n_heads));
  out.add_u32(a + ".attention.head_count_kv", uint32_t(c.n_kv_heads));
  out.add_f32(a + ".rope.freq_base", float(c.rope_theta));
  out.add_f32(a + ".attention.layer_norm_rms_epsilon", c.norm_eps);
  out.add_string("bitlab.weights.source", w.source);
  out.add_u64("bitlab.weights.digest", w.digest());
  if (vocab != nullptr) {
    const GgufValue& tokens = vocab->get_array("tokenizer.ggml.tokens", GgufType::String);
    if (int64_t(tokens.count) != c.vocab)
      throw UsageError(fmt::format("vocabulary '{}' has {} tokens, the model has {}", vocab->what, tokens.count,
                                   c.vocab));
    for (const auto& [key, value] : vocab->metadata)
      if (key.rfind("tokenizer.", 0) == 0) out.add_value(std::string(key), value);
  } else {
    out.add_string("tokenizer.ggml.model", "no_vocab");
    out.add_u32("tokenizer.ggml.bos_token_id", uint32_t(c.bos));
    out.add_u32("tokenizer.ggml.eos_token_id", uint32_t(c.eos));
  }
}

}  // namespace

const std::vector<GgufExportFormat>& gguf_export_formats() {
  static const std::string f16_engines = fmt::format(
      "llama.cpp, {} (their llama-quantize makes TQ1_0/TQ2_0 or IQ1_BN/IQ2_BN of it)", kIkQuantize);
  static const std::vector<GgufExportFormat> formats = {
      {"gguf-i2s", "bitnet.cpp I2_S: 2 bits per weight, one fp32 scale per tensor", "bitnet-b1.58", "I2_S",
       {{"bitnet-b1.58", "bitnet.cpp, ik_llama.cpp"}}, 0, 128},
      {"gguf-tq2_0", "llama.cpp TQ2_0: 2 bits per weight in 256-weight blocks, scales in .scale tensors", "bitnet",
       "TQ2_0", {{"bitnet", "llama.cpp"}}, kTqBlock},
      {"gguf-tq1_0", "llama.cpp TQ1_0: 1.69 bits per weight (base 3) in 256-weight blocks, scales in .scale tensors",
       "bitnet", "TQ1_0", {{"bitnet", "llama.cpp"}}, kTqBlock},
      {"gguf-f16", "fp16 ternary values, the input of llama-quantize for any other type", "bitnet", "F16",
       {{"bitnet", f16_engines}, {"bitnet-b1.58", kIkQuantize}}, 1},
      {"gguf-iq2_bn", "ik_llama.cpp IQ2_BN: 2 bits per weight, one fp32 scale per row", "bitnet-b1.58", "IQ2_BN",
       {{"bitnet-b1.58", kIkQuantize}, {"bitnet", kIkQuantize}}, kBnBlock},
      {"gguf-iq1_bn", "ik_llama.cpp IQ1_BN: 1.625 bits per weight (base 3), one fp16 scale per row", "bitnet-b1.58",
       "IQ1_BN", {{"bitnet-b1.58", kIkQuantize}, {"bitnet", kIkQuantize}}, kBnBlock},
      {"gguf-tl2",
       "bitnet.cpp TL2: lookup-table layout tiled for its generated x86 kernels, one fp32 scale per tensor",
       "bitnet-b1.58", "TL2", {{"bitnet-b1.58", "bitnet.cpp built with TL2 kernels for these shapes"}}, 0, 1},
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

const GgufExportArch& find_gguf_export_arch(const GgufExportFormat& f, std::string_view arch) {
  const std::string_view a = arch.empty() ? std::string_view(f.default_arch) : arch;
  const auto it = std::find_if(f.archs.begin(), f.archs.end(), [&](const GgufExportArch& x) { return x.name == a; });
  if (it != f.archs.end()) return *it;
  std::string allowed;
  for (const GgufExportArch& x : f.archs) allowed += (allowed.empty() ? "'" : ", '") + x.name + "'";
  throw UsageError(fmt::format("{} is not written with architecture '{}' (allowed: {})", f.name, a, allowed));
}

std::string GgufExportSummary::describe() const {
  std::string scales;
  if (scale_tensors) scales = "scales exact in fp32 .scale tensors";
  else if (!scales_f16) scales = "scales exact in fp32";
  else if (exact()) scales = "scales exact in fp16";
  else
    scales = fmt::format("WARNING: {} of {} scales rounded to fp16 (max relative error {:.2g}), not the lab's",
                         rounded_scales.size(), ternary_tensors, max_scale_rel_error);
  return fmt::format("GGUF v3, {} ternary, arch {}, {}; read by {}", ggml_type, arch, scales, engines);
}

GgufExportSummary export_gguf(const ModelWeights& w, std::string_view format, const std::string& path,
                              const GgufFile* vocab, std::string_view arch) {
  const GgufExportFormat& f = find_gguf_export_format(format);
  const TernaryCodec& tc = codec(f.name);
  const GgufExportArch& fa = find_gguf_export_arch(f, arch);
  const std::string& a = fa.name;
  w.validate();
  const ModelConfig& c = w.config;
  for (int64_t l = 0; l < c.n_layers; ++l)
    for (const LayerTensor& lt : kLayerTensors)
      if (lt.ternary >= 0) {
        const CanonicalTernary& t = matrix(w.layers[size_t(l)], lt.ternary);
        const std::string name = tensor_name(l, lt.gguf, "weight");
        check_shape(f, t, name);
        if (tc.check) tc.check(t, name);
      }

  GgufExportSummary s;
  s.format = f.name;
  s.ggml_type = f.ggml_type;
  s.arch = a;
  s.engines = fa.engines;
  s.scale_tensors = !tc.scale_f32 && reads_scale_tensors(a);
  s.scales_f16 = !tc.scale_f32 && !s.scale_tensors;

  GgufWriter out;
  add_metadata(out, w, a, vocab);
  auto floats = [](const std::vector<float>& v) {
    return [&v](const GgufWriter::Emit& emit) { emit(v.data(), v.size() * 4); };
  };
  auto u = [](int64_t x) { return uint64_t(x); };
  out.add_tensor("token_embd.weight", {u(c.hidden), u(c.vocab)}, GgmlType::BF16,
                 [&](const GgufWriter::Emit& emit) { emit(w.embedding.data.data(), w.embedding.data.size_bytes()); });
  out.add_tensor("output_norm.weight", {u(c.hidden)}, GgmlType::F32, floats(w.final_norm));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[size_t(l)];
    for (const LayerTensor& lt : kLayerTensors) {
      if (lt.ternary < 0) {
        const std::vector<float>& v = norm(L, lt.norm);
        out.add_tensor(tensor_name(l, lt.gguf, "weight"), {u(int64_t(v.size()))}, GgmlType::F32, floats(v));
        continue;
      }
      const CanonicalTernary& t = matrix(L, lt.ternary);
      const std::string name = tensor_name(l, lt.gguf, "weight");
      ++s.ternary_tensors;
      const float stored = s.scale_tensors ? 1.0f : t.scale;
      if (s.scales_f16 && !exact_in_f16(t.scale)) {
        s.rounded_scales.push_back(name);
        const double err = std::fabs(double(f16_to_f32(f32_to_f16(t.scale))) - double(t.scale)) / std::fabs(t.scale);
        s.max_scale_rel_error = std::max(s.max_scale_rel_error, err);
      }
      out.add_tensor(name, {u(t.k), u(t.n)}, tc.type, [&t, &tc, stored](const GgufWriter::Emit& emit) {
        std::vector<uint8_t> buf(size_t(tc.bytes(t.n, t.k)));
        tc.encode(t, stored, buf);
        emit(buf.data(), buf.size());
      });
      if (s.scale_tensors)
        out.add_tensor(tensor_name(l, lt.gguf, "scale"), {1}, GgmlType::F32,
                       [&t](const GgufWriter::Emit& emit) { emit(&t.scale, 4); });
    }
  }
  out.write(path);
  return s;
}

}  // namespace bitlab
