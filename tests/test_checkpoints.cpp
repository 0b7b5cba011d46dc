// Real-checkpoint formats end to end: the ternary layouts against docs/design.md §3 by
// hand, synthetic -> export -> read bit-identically for GGUF and safetensors,
// the safetensors reader on bad bytes, and model-level checks (missing, extra,
// mis-shaped or mis-typed tensors, the weight_scale direction).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>

#include <fmt/format.h>

#include "model/tensor.h"
#include "model/weights/float_read.h"
#include "model/weights/gguf_model.h"
#include "model/weights/gguf_writer.h"
#include "model/weights/hf_model.h"
#include "model/weights/safetensors.h"
#include "model/weights/synthetic.h"
#include "model/weights/ternary_formats.h"
#include "tests/io_test_util.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

using test::Bytes;
using test::expect_fifo_refused;
using test::expect_input_error;

// A small config whose every matrix holds a multiple of 128 codes (I2_S) and
// of 4 rows (the safetensors packing), with odd-looking sizes elsewhere.
ModelConfig small_config() {
  ModelConfig c = tiny_config();
  c.name = "small-test";
  c.ffn = 96;
  c.vocab = 300;
  return c;
}

void expect_same_weights(const ModelWeights& a, const ModelWeights& b) {
  ASSERT_EQ(a.layers.size(), b.layers.size());
  EXPECT_TRUE(std::equal(a.embedding.data.begin(), a.embedding.data.end(), b.embedding.data.begin(),
                         b.embedding.data.end()));
  EXPECT_EQ(a.final_norm, b.final_norm);
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const LayerWeights &x = a.layers[l], &y = b.layers[l];
    EXPECT_EQ(x.attn_norm, y.attn_norm);
    EXPECT_EQ(x.attn_sub_norm, y.attn_sub_norm);
    EXPECT_EQ(x.ffn_norm, y.ffn_norm);
    EXPECT_EQ(x.ffn_sub_norm, y.ffn_sub_norm);
    const CanonicalTernary* mx[] = {&x.q, &x.k, &x.v, &x.o, &x.gate, &x.up, &x.down};
    const CanonicalTernary* my[] = {&y.q, &y.k, &y.v, &y.o, &y.gate, &y.up, &y.down};
    for (int m = 0; m < 7; ++m) {
      EXPECT_EQ(mx[m]->packed, my[m]->packed) << mx[m]->name;
      EXPECT_EQ(mx[m]->scale, my[m]->scale) << mx[m]->name;  // bit-identical fp32
    }
  }
  EXPECT_EQ(a.digest(), b.digest());
}

TEST(TernaryFormats, I2sMatchesTheDesignLayoutByHand) {
  // 2 rows x 128 columns: one block per row. Put T = +1 at (0, 0), -1 at (0, 33),
  // +1 at (0, 127) and -1 at (1, 64); everything else 0.
  std::vector<int8_t> t(256, 0);
  t[0] = 1;
  t[33] = -1;
  t[127] = 1;
  t[128 + 64] = -1;
  const CanonicalTernary w = pack_ternary("m", 2, 128, t, 0.5f);
  std::vector<uint8_t> out(256 / 4 + 32);
  encode_i2s(w, out);
  // Code j of a block: byte j % 32, shift 6 - 2 * (j / 32); zero weights are code 1.
  std::vector<uint8_t> want(64, 0x55);
  want[0] = uint8_t((2 << 6) | (1 << 4) | (1 << 2) | 1);   // j=0: code 2 at shift 6
  want[1] = uint8_t((1 << 6) | (0 << 4) | (1 << 2) | 1);   // j=33: code 0 at shift 4
  want[31] = uint8_t((1 << 6) | (1 << 4) | (1 << 2) | 2);  // j=127: code 2 at shift 0
  want[32 + 0] = uint8_t((1 << 6) | (1 << 4) | (0 << 2) | 1);  // row 1, j=64: code 0 at shift 2
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 64), want);
  float scale;
  std::memcpy(&scale, out.data() + 64, 4);
  EXPECT_EQ(scale, 0.5f);
  for (size_t i = 68; i < out.size(); ++i) EXPECT_EQ(out[i], 0) << i;
  const CanonicalTernary back = decode_i2s("m", 2, 128, out);
  EXPECT_EQ(back.packed, w.packed);
  EXPECT_EQ(back.scale, 0.5f);
  out[5] = 0xff;  // code 3 in byte 5
  expect_input_error([&] { decode_i2s("m", 2, 128, out); }, {"'m'", "code 3", "byte 5"});
}

TEST(TernaryFormats, I2sMatchesTheFormulaOnEveryShape) {
  // Whole-block rows (k % 128 == 0) and blocks spanning rows take different
  // paths; both must equal docs/design.md §3 applied to the flattened tensor.
  for (auto [n, k] : {std::pair<int64_t, int64_t>{2, 128}, {3, 256}, {4, 32}, {6, 64}, {1, 384}, {5, 128}}) {
    const CanonicalTernary w = test::random_matrix("f", n, k, uint64_t(n * 1000 + k), 0.25f);
    std::vector<uint8_t> want(size_t(n * k / 4 + 32), 0);
    for (int64_t e = 0; e < n * k; ++e) {
      const int64_t j = e % 128;
      const unsigned code = unsigned(w.at(e / k, e % k) + 1);
      want[size_t(e / 128 * 32 + j % 32)] |= uint8_t(code << (6 - 2 * (j / 32)));
    }
    const float scale = 0.25f;
    std::memcpy(want.data() + n * k / 4, &scale, 4);
    std::vector<uint8_t> got(want.size());
    encode_i2s(w, got);
    EXPECT_EQ(got, want) << n << " x " << k;
    EXPECT_EQ(decode_i2s("f", n, k, want).packed, w.packed) << n << " x " << k;
  }
}

TEST(TernaryFormats, HfPackingMatchesTheDesignLayoutByHand) {
  // n = 8 rows, k = 3: packed [2, 3]; bits 2j..2j+1 of packed row p hold row j*2+p.
  std::vector<int8_t> t(24, 0);
  t[5 * 3 + 1] = 1;   // row 5 = j 2, p 1 -> packed[1][1] bits 4..5 = code 2
  t[6 * 3 + 2] = -1;  // row 6 = j 3, p 0 -> packed[0][2] bits 6..7 = code 0
  const CanonicalTernary w = pack_ternary("h", 8, 3, t, 1.0f);
  std::vector<uint8_t> out(6);
  encode_hf_packed(w, out);
  std::vector<uint8_t> want(6, 0x55);
  want[1 * 3 + 1] = uint8_t(0x55 & ~(3 << 4)) | (2 << 4);
  want[0 * 3 + 2] = uint8_t(0x55 & ~(3 << 6));
  EXPECT_EQ(out, want);
  const CanonicalTernary back = decode_hf_packed("h", 8, 3, out, 2.0f);
  EXPECT_EQ(back.packed, w.packed);
  EXPECT_EQ(back.scale, 2.0f);
  expect_input_error([&] { decode_hf_packed("h", 6, 3, out, 1.0f); }, {"'h'", "n % 4"});
}

TEST(TernaryFormats, AbsmeanQuantisation) {
  // mean|W| = (0.2 + 0.6 + 0.1 + 1.1 + 0 + 0.4) / 6 = 0.4; W / 0.4 = 0.5, -1.5, 0.25, 2.75, 0, -1
  // round (ties to even) -> 0, -2, 0, 3, 0, -1; clamp -> 0, -1, 0, 1, 0, -1.
  const std::vector<float> w = {0.2f, -0.6f, 0.1f, 1.1f, 0.0f, -0.4f};
  const CanonicalTernary t = quantize_absmean("q", 2, 3, w);
  EXPECT_NEAR(t.scale, 0.4f, 1e-7f);
  const std::vector<int8_t> want = {0, -1, 0, 1, 0, -1};
  EXPECT_EQ(unpack_ternary(t), want);
  const CanonicalTernary zero = quantize_absmean("z", 1, 4, std::vector<float>(4, 0.0f));
  EXPECT_EQ(zero.scale, 1e-5f);  // clamped
}

TEST(Checkpoints, GgufRoundTripIsBitIdentical) {
  const ModelWeights w = synthetic_weights(small_config(), 7);
  const std::string path = test::temp_path("rt.gguf");
  export_gguf_i2s(w, path);
  const GgufFile g = open_gguf(path);
  EXPECT_EQ(g.get_string("general.architecture"), "bitnet-b1.58");
  EXPECT_EQ(g.tensor("blk.0.attn_q.weight")->type, uint32_t(GgmlType::I2_S));
  EXPECT_EQ(g.tensor("blk.1.ffn_down.weight")->dims, (std::vector<uint64_t>{96, 64}));
  EXPECT_EQ(g.tensor("token_embd.weight")->type, uint32_t(GgmlType::BF16));
  const ModelConfig c = gguf_model_config(g);
  EXPECT_EQ(c.hidden, 64);
  EXPECT_EQ(c.ffn, 96);
  EXPECT_EQ(c.vocab, 300);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.bos, 1);
  EXPECT_EQ(c.eos, 2);
  const ModelWeights r = load_gguf_model(g);
  expect_same_weights(w, r);
}

TEST(Checkpoints, SafetensorsRoundTripIsBitIdentical) {
  const ModelWeights w = synthetic_weights(small_config(), 8);
  const std::string dir = test::temp_path("rt_hf");
  export_hf_safetensors(w, dir);
  const SafetensorsFile f = open_safetensors(dir + "/model.safetensors");
  EXPECT_EQ(f.metadata.at("format"), "pt");
  const SafetensorsTensor* q = f.tensor("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->dtype, "U8");
  EXPECT_EQ(q->shape, (std::vector<int64_t>{16, 64}));  // [n/4, k]
  EXPECT_EQ(hf_model_config(dir).ffn, 96);
  const ModelWeights from_dir = load_hf_model(dir);
  expect_same_weights(w, from_dir);
  expect_same_weights(w, load_hf_model(dir + "/model.safetensors"));
}

TEST(Checkpoints, ShardedSafetensorsWithIndex) {
  // Split an export into two shards by hand and describe them in an index.
  const ModelWeights w = synthetic_weights(small_config(), 9);
  const std::string src = test::temp_path("shard_src");
  export_hf_safetensors(w, src);
  const SafetensorsFile f = open_safetensors(src + "/model.safetensors");
  const std::string dir = test::temp_path("sharded");
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(src + "/config.json", dir + "/config.json",
                             std::filesystem::copy_options::overwrite_existing);
  SafetensorsWriter a, b;
  std::string map;
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    const SafetensorsTensor& t = f.tensors[i];
    (i % 2 ? a : b).add_tensor(t.name, t.dtype, t.shape, [&](const SafetensorsWriter::Emit& e) {
      const std::vector<uint8_t> data = f.read(t);
      e(data.data(), data.size());
    });
    map += fmt::format("{}\"{}\": \"{}\"", map.empty() ? "" : ", ", t.name, i % 2 ? "a.safetensors" : "b.safetensors");
  }
  a.write(dir + "/a.safetensors");
  b.write(dir + "/b.safetensors");
  std::ofstream(dir + "/model.safetensors.index.json") << "{\"metadata\": {}, \"weight_map\": {" << map << "}}";
  expect_same_weights(w, load_hf_model(dir));
  std::ofstream(dir + "/model.safetensors.index.json") << "{\"weight_map\": {\"x\": \"../etc/passwd\"}}";
  expect_input_error([&] { load_hf_model(dir); }, {"../etc/passwd", "plain file name"});
}

// Minimal safetensors bytes: header JSON `h` (padded), then `data`.
Bytes safetensors_bytes(const std::string& h, size_t data) {
  Bytes b;
  b.u64(h.size()).raw(h);
  b.b.resize(b.b.size() + data, 0);
  return b;
}

// Expects parse_safetensors to refuse header `h` followed by `data` zero bytes
// with an InputError whose message holds every one of `parts`.
void expect_bad_safetensors(const std::string& h, size_t data, std::initializer_list<std::string> parts) {
  expect_input_error([&] { parse_safetensors(safetensors_bytes(h, data).span(), "bad.st"); }, parts);
}

TEST(Safetensors, BadInput) {
  const auto ok = safetensors_bytes(R"({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}})", 24);
  const SafetensorsFile f = parse_safetensors(ok.span(), "ok.st");
  ASSERT_NE(f.tensor("a"), nullptr);
  EXPECT_EQ(f.tensor("a")->elements, 6u);
  for (size_t n = 0; n < ok.b.size() - 24; ++n)
    EXPECT_THROW(parse_safetensors(std::span(ok.b.data(), n), "cut.st"), InputError) << n;

  Bytes huge;
  huge.u64(~uint64_t(0)).raw("{}");
  expect_input_error([&] { parse_safetensors(huge.span(), "h.st"); }, {"h.st", "header length", "offset 0"});
  expect_bad_safetensors("{\"a\": ", 0, {"bad.st", "not valid JSON"});
  expect_bad_safetensors("[1, 2]", 0, {"not a JSON object"});
  expect_bad_safetensors(std::string(100, '[') + std::string(100, ']'), 0, {"nested deeper"});
  expect_bad_safetensors(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                             "a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
                         16, {"duplicate tensor 'a'"});
  expect_bad_safetensors(R"({"p": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4, {"'p'", "outside"});
  expect_bad_safetensors(R"({"s": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8, {"'s'", "need 12"});
  expect_bad_safetensors(
      R"({"o": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}})", 8,
      {"'o'", "overflows"});
  expect_bad_safetensors(R"({"t": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 2]}})", 2,
                         {"'t'", "unknown dtype 'Q4'"});
  expect_bad_safetensors(R"({"n": {"dtype": "U8", "shape": [-2], "data_offsets": [0, 2]}})", 2,
                         {"'n'", "non-negative"});
  expect_bad_safetensors(R"({"r": {"dtype": "U8", "shape": [2], "data_offsets": [4, 2]}})", 8, {"'r'", "outside"});
  expect_bad_safetensors(R"({"x": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                             "y": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}})",
                         8, {"overlap"});
}

// Rewrites an exported checkpoint with one tensor changed by `edit` (which may
// rename it, change dtype/shape/bytes, or drop it by emptying the name).
struct EditedTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};
std::string edited_hf(const std::string& tag, const std::function<void(EditedTensor&)>& edit,
                      const std::string& config_patch = "") {
  const ModelWeights w = synthetic_weights(small_config(), 3);
  const std::string src = test::temp_path("edit_src");
  export_hf_safetensors(w, src);
  const SafetensorsFile f = open_safetensors(src + "/model.safetensors");
  const std::string dir = test::temp_path("edit_" + tag);
  std::filesystem::create_directories(dir);
  std::string cfg = test::slurp(src + "/config.json");
  if (!config_patch.empty()) {
    const size_t at = cfg.find("\"linear_class\": \"autobitlinear\"");
    cfg.replace(at, std::string("\"linear_class\": \"autobitlinear\"").size(), config_patch);
  }
  std::ofstream(dir + "/config.json") << cfg;
  SafetensorsWriter out;
  std::vector<std::shared_ptr<EditedTensor>> keep;
  for (const SafetensorsTensor& t : f.tensors) {
    auto e = std::make_shared<EditedTensor>(EditedTensor{t.name, t.dtype, t.shape, f.read(t)});
    edit(*e);
    if (e->name.empty()) continue;
    keep.push_back(e);
    out.add_tensor(e->name, e->dtype, e->shape, [e](const SafetensorsWriter::Emit& emit) {
      emit(e->data.data(), e->data.size());
    });
  }
  out.write(dir + "/model.safetensors");
  return dir;
}

// Expects loading the checkpoint at `path` to fail with an InputError holding every one of `parts`.
void expect_hf_refused(const std::string& path, std::initializer_list<std::string> parts) {
  expect_input_error([&] { load_hf_model(path); }, parts);
}

TEST(Checkpoints, SafetensorsModelChecks) {
  const std::string q = "model.layers.1.self_attn.q_proj.weight";
  expect_hf_refused(edited_hf("missing", [&](EditedTensor& t) { if (t.name == q) t.name.clear(); }), {q, "missing"});
  expect_hf_refused(edited_hf("extra", [&](EditedTensor& t) { if (t.name == q + "_scale") t.name = "lm_head.weight"; }),
                    {"unexpected tensor 'lm_head.weight'"});
  expect_hf_refused(edited_hf("shape", [&](EditedTensor& t) { if (t.name == q) t.shape = {64, 16}; }),
                    {q, "shape [64, 16]", "[16, 64]"});
  expect_hf_refused(edited_hf("dtype", [&](EditedTensor& t) { if (t.name == "model.norm.weight") t.dtype = "I32"; }),
                    {"model.norm.weight", "I32", "expected F32"});
  expect_hf_refused(edited_hf("code3", [&](EditedTensor& t) { if (t.name == q) t.data[10] = 0xff; }),
                    {q, "code 3", "byte 10"});
  expect_hf_refused(edited_hf("cls", [](EditedTensor&) {}, "\"linear_class\": \"fancylinear\""),
                    {"unknown quantization_config.linear_class 'fancylinear'"});
  expect_hf_refused(edited_hf("nocls", [](EditedTensor&) {}, "\"quant_method\": \"x\""),
                    {"no quantization_config.linear_class"});
}

TEST(Checkpoints, WeightScaleDirectionFollowsLinearClass) {
  const ModelWeights w = synthetic_weights(small_config(), 3);
  const std::string div = edited_hf("bitlinear", [](EditedTensor&) {}, "\"linear_class\": \"bitlinear\"");
  const ModelWeights r = load_hf_model(div);
  // bitlinear stores 1 / mean|W| and divides by it: the canonical scale is its inverse.
  EXPECT_EQ(r.layers[0].q.packed, w.layers[0].q.packed);
  EXPECT_FLOAT_EQ(r.layers[0].q.scale, 1.0f / w.layers[0].q.scale);
}

TEST(Checkpoints, Bf16MasterWeightsAreQuantisedWithAbsmean) {
  // Replace q of layer 0 by bf16 master weights W = 0.375 * T (exact in bf16).
  // mean|W| = 0.375 * (non-zeros / all), so W / mean|W| = T * (all / non-zeros):
  // at least 1 in magnitude where T != 0, and absmean quantisation returns T.
  const ModelWeights w = synthetic_weights(small_config(), 3);
  const std::string q = "model.layers.0.self_attn.q_proj";
  const CanonicalTernary& t = w.layers[0].q;
  const std::vector<int8_t> vals = unpack_ternary(t);
  const std::string dir = edited_hf("bf16", [&](EditedTensor& e) {
    if (e.name == q + ".weight_scale") e.name.clear();
    if (e.name != q + ".weight") return;
    e.dtype = "BF16";
    e.shape = {t.n, t.k};
    e.data.resize(vals.size() * 2);
    for (size_t i = 0; i < vals.size(); ++i) {
      const uint16_t b = f32_to_bf16(0.375f * float(vals[i]));
      std::memcpy(e.data.data() + 2 * i, &b, 2);
    }
  });
  const ModelWeights r = load_hf_model(dir);
  EXPECT_EQ(r.layers[0].q.packed, t.packed);
  size_t nonzero = 0;
  for (int8_t v : vals) nonzero += v != 0;
  EXPECT_FLOAT_EQ(r.layers[0].q.scale, float(0.375 * double(nonzero) / double(vals.size())));
}

// A GGUF export of small_config() rewritten: every tensor passes through
// `edit` (which may rename it, change dims/type/bytes, or drop it by emptying
// the name), an F32 [8] `extra_tensor` is added when named, and the u32
// metadata `key` is replaced by `value` (or dropped when `value` < 0).
using GgufTensorEdit =
    std::function<void(std::string&, std::vector<uint64_t>&, uint32_t&, std::vector<uint8_t>&)>;
std::string edited_gguf(const std::string& tag, const GgufTensorEdit& edit, const std::string& extra_tensor = "",
                        const std::string& key = "", int64_t value = 0) {
  const ModelWeights w = synthetic_weights(small_config(), 4);
  const std::string src = test::temp_path("gsrc.gguf");
  export_gguf_i2s(w, src);
  const GgufFile g = open_gguf(src);
  GgufWriter out;
  for (const auto& [k, v] : g.metadata) {
    if (k != key) out.add_value(std::string(k), v);
    else if (value >= 0) out.add_u32(std::string(k), uint32_t(value));
  }
  for (const GgufTensor& t : g.tensors) {
    std::string name(t.name);
    std::vector<uint64_t> dims = t.dims;
    uint32_t type = t.type;
    auto data = std::make_shared<std::vector<uint8_t>>(g.read(t));
    edit(name, dims, type, *data);
    if (name.empty()) continue;
    out.add_tensor(name, dims, GgmlType(type), [data](const GgufWriter::Emit& e) { e(data->data(), data->size()); });
  }
  if (!extra_tensor.empty())
    out.add_tensor(extra_tensor, {8}, GgmlType::F32, [](const GgufWriter::Emit& e) {
      const float z[8] = {};
      e(z, sizeof z);
    });
  const std::string path = test::temp_path("g_" + tag + ".gguf");
  out.write(path);
  return path;
}

// The export with only the u32 metadata `key` changed (see edited_gguf).
std::string edited_gguf_key(const std::string& tag, const std::string& key, int64_t value) {
  return edited_gguf("key_" + tag, [](auto&, auto&, auto&, auto&) {}, "", key, value);
}

// Expects loading the GGUF at `path` to fail with an InputError holding every one of `parts`.
void expect_gguf_refused(const std::string& path, std::initializer_list<std::string> parts) {
  expect_input_error([&] { load_gguf_model(open_gguf(path)); }, parts);
}

TEST(Checkpoints, GgufModelChecks) {
  const std::string k = "blk.1.attn_k.weight";
  expect_gguf_refused(edited_gguf("missing", [&](std::string& n, auto&, auto&, auto&) { if (n == k) n.clear(); }),
                      {k, "missing"});
  expect_gguf_refused(edited_gguf("extra", [](auto&, auto&, auto&, auto&) {}, "output.weight"),
                      {"unexpected tensor 'output.weight'"});
  expect_gguf_refused(edited_gguf("dims", [&](std::string& n, std::vector<uint64_t>& d, auto&, auto&) {
                        if (n == k) d = {32, 64}; }),
                      {k, "dims [32, 64]", "[64, 32]"});
  expect_gguf_refused(edited_gguf("type", [&](std::string& n, auto&, uint32_t& type, std::vector<uint8_t>& b) {
                        if (n == "blk.0.attn_norm.weight") { type = uint32_t(GgmlType::I32); b.resize(64 * 4); } }),
                      {"blk.0.attn_norm.weight", "I32", "expected F32"});
  expect_gguf_refused(edited_gguf("scale", [&](std::string& n, auto&, auto&, std::vector<uint8_t>& b) {
                        if (n == k) std::memset(b.data() + 64 * 32 / 4, 0, 4); }),
                      {k, "weight scale 0"});
  expect_gguf_refused(edited_gguf("code", [&](std::string& n, auto&, auto&, std::vector<uint8_t>& b) {
                        if (n == k) b[7] = 0xc0; }),
                      {k, "code 3", "byte 7"});
  // F32 master weights in place of I2_S are quantised; here W = T * scale exactly.
  const ModelWeights w = synthetic_weights(small_config(), 4);
  const std::string f32 = edited_gguf("f32", [&](std::string& n, auto&, uint32_t& type, std::vector<uint8_t>& b) {
    if (n != k) return;
    const std::vector<int8_t> v = unpack_ternary(w.layers[1].k);
    type = uint32_t(GgmlType::F32);
    b.resize(v.size() * 4);
    for (size_t i = 0; i < v.size(); ++i) {
      const float x = float(v[i]) * w.layers[1].k.scale;
      std::memcpy(b.data() + 4 * i, &x, 4);
    }
  });
  EXPECT_EQ(load_gguf_model(open_gguf(f32)).layers[1].k.packed, w.layers[1].k.packed);
}

TEST(Checkpoints, GgufMetadataChecks) {
  const std::string blocks = "bitnet-b1.58.block_count";
  expect_gguf_refused(edited_gguf_key("nokey", blocks, -1), {"'" + blocks + "' is missing"});
  expect_gguf_refused(edited_gguf_key("huge", blocks, 4000000000), {blocks, "4000000000 is out of range"});
  // A million layers claimed, two present: the first missing tensor is named at once.
  expect_gguf_refused(edited_gguf_key("many", blocks, 1000000), {"'blk.2.attn_norm.weight' is missing"});
  expect_gguf_refused(edited_gguf_key("heads", "bitnet-b1.58.attention.head_count", 3), {"not a multiple"});
  expect_gguf_refused(edited_gguf_key("bos", "tokenizer.ggml.bos_token_id", 300),
                      {"bos_token_id = 300", "outside the 300 tokens"});
  expect_gguf_refused(edited_gguf_key("vocab", "bitnet-b1.58.vocab_size", 299), {"vocab_size = 299", "300 rows"});
}

TEST(Checkpoints, LlamaArchitectureIsNotABitNetModel) {
  BITLAB_NEED_VOCAB(dir);
  expect_input_error([&] { gguf_model_config(open_gguf(dir + "/ggml-vocab-llama-bpe.gguf")); },
                     {"general.architecture is 'llama'"});
}

}  // namespace
// The export with the float metadata `key` set to `value` (f32).
std::string gguf_with_float(const std::string& tag, const std::string& key, float value) {
  const ModelWeights w = synthetic_weights(small_config(), 4);
  const std::string src = test::temp_path("fsrc.gguf");
  export_gguf_i2s(w, src);
  const GgufFile g = open_gguf(src);
  GgufWriter out;
  for (const auto& [k, v] : g.metadata)
    if (k != key) out.add_value(std::string(k), v);
  out.add_f32(key, value);
  for (const GgufTensor& t : g.tensors) {
    auto data = std::make_shared<std::vector<uint8_t>>(g.read(t));
    out.add_tensor(std::string(t.name), t.dims, GgmlType(t.type),
                   [data](const GgufWriter::Emit& e) { e(data->data(), data->size()); });
  }
  const std::string path = test::temp_path("gf_" + tag + ".gguf");
  out.write(path);
  return path;
}

// Sets F32 element `i` of a tensor's bytes (GGUF norms are F32).
void set_f32(std::vector<uint8_t>& b, size_t i, float v) { std::memcpy(b.data() + 4 * i, &v, 4); }

TEST(Checkpoints, GgufNonFiniteAndAbsurdValuesAreRefused) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::string norm = "blk.1.ffn_norm.weight";
  auto norm_set = [&](const char* tag, float v) {
    return edited_gguf(tag, [&](std::string& n, auto&, auto&, std::vector<uint8_t>& b) {
      if (n == norm) set_f32(b, 5, v);
    });
  };
  expect_gguf_refused(norm_set("nnan", nan), {"g_nnan.gguf", norm, "element 5", "not a finite number"});
  expect_gguf_refused(norm_set("ninf", -inf), {norm, "element 5", "not a finite number"});
  expect_gguf_refused(norm_set("nbig", 3e7f), {norm, "element 5", "beyond the 1e+06"});
  // The embedding is BF16: 0x7f80 is +Inf, 0x7fc0 a NaN.
  auto emb_set = [&](const char* tag, uint16_t v) {
    return edited_gguf(tag, [&](std::string& n, auto&, auto&, std::vector<uint8_t>& b) {
      if (n == "token_embd.weight") std::memcpy(b.data() + 2 * 70, &v, 2);
    });
  };
  expect_gguf_refused(emb_set("einf", 0x7f80), {"token_embd.weight", "element 70", "not a finite number"});
  expect_gguf_refused(emb_set("enan", 0x7fc0), {"token_embd.weight", "element 70", "not a finite number"});
  const std::string eps = "bitnet-b1.58.attention.layer_norm_rms_epsilon", theta = "bitnet-b1.58.rope.freq_base";
  expect_gguf_refused(gguf_with_float("epsnan", eps, nan), {"gf_epsnan", eps, "nan", "not a usable RMS norm epsilon"});
  expect_gguf_refused(gguf_with_float("epsinf", eps, inf), {eps, "inf"});
  expect_gguf_refused(gguf_with_float("eps0", eps, 0.0f), {eps, "= 0"});
  expect_gguf_refused(gguf_with_float("epsbig", eps, 2.0f), {eps, "= 2"});
  expect_gguf_refused(gguf_with_float("thnan", theta, nan), {theta, "not a usable RoPE base"});
  expect_gguf_refused(gguf_with_float("thinf", theta, inf), {theta, "inf"});
  expect_gguf_refused(gguf_with_float("thneg", theta, -10000.0f), {theta, "-10000"});
  // In range, a norm weight far from 1 is still a model.
  EXPECT_NO_THROW(load_gguf_model(open_gguf(norm_set("nok", 1e5f))));
  EXPECT_NO_THROW(load_gguf_model(open_gguf(gguf_with_float("epsok", eps, 1e-6f))));
}

TEST(Checkpoints, SafetensorsNonFiniteAndAbsurdValuesAreRefused) {
  const std::string norm = "model.layers.0.mlp.ffn_sub_norm.weight";
  const float nan = std::numeric_limits<float>::quiet_NaN();
  expect_hf_refused(edited_hf("nnan", [&](EditedTensor& t) { if (t.name == norm) set_f32(t.data, 3, nan); }),
                    {"edit_nnan/model.safetensors", norm, "element 3", "not a finite number"});
  expect_hf_refused(edited_hf("nbig", [&](EditedTensor& t) { if (t.name == norm) set_f32(t.data, 3, -2e6f); }),
                    {norm, "element 3", "beyond"});
  const std::string emb = "model.embed_tokens.weight";
  expect_hf_refused(edited_hf("einf", [&](EditedTensor& t) {
                      if (t.name == emb) t.data[2 * 9] = 0x80, t.data[2 * 9 + 1] = 0xff; }),  // bf16 -Inf
                    {emb, "element 9", "not a finite number"});
  const std::string q = "model.layers.1.self_attn.q_proj";
  expect_hf_refused(edited_hf("sinf", [&](EditedTensor& t) {
                      if (t.name == q + ".weight_scale") set_f32(t.data, 0, std::numeric_limits<float>::infinity()); }),
                    {q, "weight scale inf"});
  // bf16 master weights with a NaN
  expect_hf_refused(edited_hf("mnan", [&](EditedTensor& e) {
                      if (e.name == q + ".weight_scale") e.name.clear();
                      if (e.name != q + ".weight") return;
                      e.dtype = "BF16";
                      e.shape = {64, 64};
                      e.data.assign(64 * 64 * 2, 0);
                      e.data[2 * 100 + 1] = 0x7f, e.data[2 * 100] = 0xc0; }),
                    {"edit_mnan", q, "not finite"});
  for (const auto& [patch, parts] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"\"rope_theta\": 1e300", {"rope_theta", "not a usable RoPE base"}},
           {"\"rope_theta\": 1e999", {"cfg.json", "not valid JSON", "1e999"}},
           {"\"rope_theta\": 0.5", {"rope_theta = 0.5"}},
           {"\"rms_norm_eps\": 1e-60", {"rms_norm_eps", "not a usable RMS norm epsilon"}},
           {"\"rms_norm_eps\": -1e-5", {"rms_norm_eps = -1e-05"}},
           {"\"rms_norm_eps\": \"1e-5\"", {"rms_norm_eps", "expected a number"}}}) {
    std::string cfg = R"({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                          "intermediate_size": 96, "vocab_size": 300, )" + patch + "}";
    try {
      parse_hf_config(cfg, "cfg.json");
      ADD_FAILURE() << patch << " accepted";
    } catch (const InputError& e) {
      for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }
}

TEST(Checkpoints, SyntheticConfigRefusesNonFiniteNumbers) {
  ModelConfig c = small_config();
  c.norm_eps = std::numeric_limits<float>::infinity();
  EXPECT_THROW(synthetic_weights(c, 1), UsageError);
  c = small_config();
  c.rope_theta = std::numeric_limits<double>::infinity();
  EXPECT_THROW(synthetic_weights(c, 1), UsageError);
  c = small_config();
  c.rope_theta = 0.5;
  EXPECT_THROW(c.validate(), UsageError);
}

TEST(Checkpoints, WeightValueCheckIsShared) {
  const std::vector<float> ok = {0.0f, -1e6f, 1e6f};
  EXPECT_NO_THROW(check_weight_values(ok, "f", "t"));
  const std::vector<float> big = {0.0f, 1.5e6f};
  expect_input_error([&] { check_weight_values(big, "f.gguf", "t"); }, {"f.gguf: tensor 't' element 1", "1500000"});
}

// A config.json of small_config() with `patch` (keys the base lacks) added.
std::string config_text(const std::string& patch) {
  return R"({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "intermediate_size": 96, "vocab_size": 300)" + (patch.empty() ? "" : ", " + patch) + "}";
}

TEST(Checkpoints, ConfigJsonFieldsAreTypeChecked) {
  EXPECT_NO_THROW(parse_hf_config(config_text("\"tie_word_embeddings\": true, \"bos_token_id\": 1"), "c.json"));
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"\"tie_word_embeddings\": \"false\"", {"c.json", "'tie_word_embeddings'", "\"false\"", "expected true or false"}},
      {"\"tie_word_embeddings\": 0", {"'tie_word_embeddings'", "expected true or false"}},
      {"\"bos_token_id\": null", {"'bos_token_id'", "null", "expected a token id"}},
      {"\"eos_token_id\": [2, \"x\"]", {"'eos_token_id[1]'", "expected an integer"}},
      {"\"eos_token_id\": []", {"'eos_token_id'", "expected a token id"}},
      {"\"eos_token_id\": [2, 300]", {"eos_token_id[1]", "300"}},  // every id of the list is a token
      {"\"max_position_embeddings\": 18446744073709551615", {"'max_position_embeddings' = 18446744073709551615",
                                                               "out of range"}},
      {"\"head_dim\": 16.0", {"'head_dim'", "expected an integer"}},
      {"\"hidden_act\": 5", {"'hidden_act'", "expected a string"}},
      {"\"_name_or_path\": [1]", {"'_name_or_path'", "expected a string"}},
      {"\"quantization_config\": \"bitnet\"", {"'quantization_config'", "expected an object"}},
      {"\"quantization_config\": {\"linear_class\": 1}", {"'quantization_config.linear_class'", "expected a string"}},
  };
  for (const auto& [patch, parts] : cases) {
    try {
      parse_hf_config(config_text(patch), "c.json");
      ADD_FAILURE() << patch << " accepted";
    } catch (const InputError& e) {
      const std::string msg = e.what();
      for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << patch << ": " << msg;
      EXPECT_EQ(msg.find("-1"), std::string::npos) << msg;
    }
  }
  expect_input_error([&] { parse_hf_config("{\"hidden_size\": ", "c.json"); }, {"c.json", "not valid JSON"});
  try {  // the parser's position, without the library's tag
    parse_hf_config("{\"hidden_size\": ", "c.json");
    ADD_FAILURE() << "truncated JSON accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).find("[json.exception"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("column"), std::string::npos) << e.what();
  }
}

TEST(Checkpoints, FifosAsCheckpointFilesAreRefusedWithoutBlocking) {
  const ModelWeights w = synthetic_weights(small_config(), 5);
  const std::string src = test::temp_path("fifo_src");
  export_hf_safetensors(w, src);
  namespace fs = std::filesystem;
  // config.json a FIFO
  const std::string a = test::temp_path("fifo_cfg");
  fs::create_directories(a);
  fs::copy_file(src + "/model.safetensors", a + "/model.safetensors");
  ASSERT_EQ(::mkfifo((a + "/config.json").c_str(), 0600), 0);
  expect_fifo_refused(a + "/config.json", [&] { hf_model_config(a); });
  expect_fifo_refused(a + "/config.json", [&] { load_hf_model(a); });
  // model.safetensors a FIFO
  const std::string b = test::temp_path("fifo_st");
  fs::create_directories(b);
  fs::copy_file(src + "/config.json", b + "/config.json");
  ASSERT_EQ(::mkfifo((b + "/model.safetensors").c_str(), 0600), 0);
  expect_fifo_refused(b + "/model.safetensors", [&] { load_hf_model(b); });
  expect_fifo_refused(b + "/model.safetensors", [&] { load_hf_model(b + "/model.safetensors"); });
  // the index a FIFO, and a shard it names
  const std::string c = test::temp_path("fifo_index");
  fs::create_directories(c);
  fs::copy_file(src + "/config.json", c + "/config.json");
  ASSERT_EQ(::mkfifo((c + "/model.safetensors.index.json").c_str(), 0600), 0);
  expect_fifo_refused(c + "/model.safetensors.index.json", [&] { load_hf_model(c); });
  const std::string d = test::temp_path("fifo_shard");
  fs::create_directories(d);
  fs::copy_file(src + "/config.json", d + "/config.json");
  std::ofstream(d + "/model.safetensors.index.json") << R"({"weight_map": {"model.norm.weight": "s.safetensors"}})";
  ASSERT_EQ(::mkfifo((d + "/s.safetensors").c_str(), 0600), 0);
  expect_fifo_refused(d + "/s.safetensors", [&] { load_hf_model(d); });
}

TEST(Checkpoints, FileTruncatedWhileLoadingIsAnInputError) {
  const ModelWeights w = synthetic_weights(small_config(), 6);
  const std::string path = test::temp_path("trunc.gguf");
  export_gguf_i2s(w, path);
  const GgufFile g = open_gguf(path);  // header read and checked, tensor data still in the file
  std::filesystem::resize_file(path, g.data_offset + 16);
  expect_input_error([&] { load_gguf_model(g); }, {"'" + path + "' changed while being read (truncated?)"});

  const std::string dir = test::temp_path("trunc_hf");
  export_hf_safetensors(w, dir);
  const SafetensorsFile f = open_safetensors(dir + "/model.safetensors");
  std::filesystem::resize_file(dir + "/model.safetensors", 64);
  for (const SafetensorsTensor& t : f.tensors)
    expect_input_error([&] { (void)f.read(t); }, {dir + "/model.safetensors' changed while being read"});
}

TEST(Checkpoints, LoadedWeightsOutliveTheirFile) {
  // Nothing loaded points into a file mapping: truncating (or rewriting) the
  // file afterwards changes nothing of what was loaded.
  const ModelWeights w = synthetic_weights(small_config(), 6);
  const std::string path = test::temp_path("outlive.gguf");
  export_gguf_i2s(w, path);
  const ModelWeights from_gguf = load_gguf_model(open_gguf(path));
  {
    const GgufFile g = open_gguf(path);  // a mapping still open while the file shrinks
    std::filesystem::resize_file(path, 0);
    EXPECT_EQ(from_gguf.digest(), w.digest());
  }
  const std::string dir = test::temp_path("outlive_hf");
  export_hf_safetensors(w, dir);
  const ModelWeights from_hf = load_hf_model(dir);
  const SafetensorsFile f = open_safetensors(dir + "/model.safetensors");
  std::filesystem::resize_file(dir + "/model.safetensors", 0);
  EXPECT_EQ(from_hf.digest(), w.digest());
}

}  // namespace bitlab
