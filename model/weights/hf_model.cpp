#include "model/weights/hf_model.h"

#include <filesystem>
#include <new>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "model/error.h"
#include "model/weights/float_read.h"
#include "model/weights/json_error.h"
#include "model/weights/mapped_file.h"
#include "model/weights/safetensors.h"
#include "model/weights/ternary_formats.h"

namespace bitlab {

namespace fs = std::filesystem;

namespace {

constexpr const char* kIndexName = "model.safetensors.index.json";

std::string read_text(const std::string& path) {
  auto f = MappedFile::open(path);
  if (f->size() > 100'000'000)
    throw InputError(fmt::format("'{}' is {} bytes, too big for a JSON file", path, f->size()));
  std::string text(f->size(), '\0');
  f->copy(0, text.data(), f->size());
  return text;
}

nlohmann::json parse_json(std::string_view text, const std::string& what) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", what, json_error_text(e.what())));
  }
}

// The checkpoint's files: every tensor name mapped to the file holding it.
struct Checkpoint {
  HfConfig config;
  std::vector<SafetensorsFile> files;
  std::map<std::string, const SafetensorsTensor*> tensors;
  std::string what;  // the path the user gave

  const SafetensorsTensor& need(const std::string& name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw InputError(fmt::format("{}: tensor '{}' is missing", what, name));
    return *it->second;
  }
  // The shard holding `t`.
  const SafetensorsFile& file_of(const SafetensorsTensor& t) const {
    for (const SafetensorsFile& f : files)
      if (f.tensor(t.name) == &t) return f;
    throw UsageError(fmt::format("tensor '{}' belongs to no shard of '{}'", t.name, what));
  }
  std::vector<uint8_t> read(const SafetensorsTensor& t) const { return file_of(t).read(t); }
};

// Resolves `path` to (config.json, safetensors files).
Checkpoint open_checkpoint(const std::string& path, bool load_tensors) {
  Checkpoint c;
  c.what = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw UsageError(fmt::format("model path '{}' does not exist", path));
  const fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
  const fs::path config = (dir.empty() ? fs::path(".") : dir) / "config.json";
  if (!fs::exists(config, ec))
    throw UsageError(fmt::format("'{}' needs a config.json beside it ({} not found)", path, config.string()));
  c.config = parse_hf_config(read_text(config.string()), config.string());

  std::vector<std::string> shards;
  fs::path index;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(dir / "model.safetensors", ec)) shards.push_back((dir / "model.safetensors").string());
    else if (fs::exists(dir / kIndexName, ec)) index = dir / kIndexName;
    else throw UsageError(fmt::format("directory '{}' holds neither model.safetensors nor {}", path, kIndexName));
  } else if (path.size() > 5 && path.substr(path.size() - 5) == ".json") {
    index = path;
  } else {
    shards.push_back(path);
  }
  nlohmann::json weight_map;
  if (!index.empty()) {
    const nlohmann::json j = parse_json(read_text(index.string()), index.string());
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      throw InputError(fmt::format("{}: no weight_map object", index.string()));
    weight_map = j["weight_map"];
    std::set<std::string> names;
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      if (!it.value().is_string())
        throw InputError(fmt::format("{}: weight_map entry '{}' is not a file name", index.string(), it.key()));
      const std::string file = it.value().get<std::string>();
      if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
        throw InputError(fmt::format("{}: shard name '{}' for '{}' is not a plain file name", index.string(), file,
                                     it.key()));
      if (names.insert(file).second) shards.push_back((index.parent_path() / file).string());
    }
  }
  if (!load_tensors) return c;
  for (const std::string& s : shards) c.files.push_back(open_safetensors(s));
  for (const SafetensorsFile& f : c.files)
    for (const SafetensorsTensor& t : f.tensors) {
      if (!weight_map.is_null()) {
        auto it = weight_map.find(t.name);
        if (it == weight_map.end() || (fs::path(f.what).filename() != it->get<std::string>()))
          continue;  // the index names another shard (or none) for it
      }
      if (!c.tensors.emplace(t.name, &t).second)
        throw InputError(fmt::format("{}: tensor '{}' appears in more than one shard", path, t.name));
    }
  return c;
}

// How a float tensor (F32, F16 or BF16) stores its values.
FloatFormat float_format(const Checkpoint& c, const SafetensorsTensor& t) {
  if (t.dtype == "F32") return FloatFormat::F32;
  if (t.dtype == "F16") return FloatFormat::F16;
  if (t.dtype == "BF16") return FloatFormat::BF16;
  throw InputError(fmt::format("{}: tensor '{}' at offset {} is {}, expected F32, F16 or BF16", c.what, t.name,
                               t.file_offset, t.dtype));
}

std::vector<float> to_floats(const Checkpoint& c, const SafetensorsTensor& t) {
  return floats_to_f32(c.read(t), float_format(c, t), size_t(t.elements));
}

void check_shape(const Checkpoint& c, const SafetensorsTensor& t, std::vector<int64_t> want) {
  if (t.shape != want)
    throw InputError(fmt::format("{}: tensor '{}' at offset {} has shape [{}], the config needs [{}]", c.what, t.name,
                                 t.file_offset, fmt::join(t.shape, ", "), fmt::join(want, ", ")));
}

std::vector<float> read_norm(const Checkpoint& c, const std::string& name, int64_t len) {
  const SafetensorsTensor& t = c.need(name);
  check_shape(c, t, {len});
  std::vector<float> v = to_floats(c, t);
  check_weight_values(v, c.file_of(t).what, name);
  return v;
}

CanonicalTernary read_ternary(const Checkpoint& c, const std::string& base, int64_t n, int64_t k) {
  const SafetensorsTensor& t = c.need(base + ".weight");
  if (t.dtype == "U8") {
    check_shape(c, t, {n / 4, k});
    if (n % 4 != 0) throw InputError(fmt::format("{}: '{}' has {} rows, not a multiple of 4", c.what, t.name, n));
    const SafetensorsTensor& s = c.need(base + ".weight_scale");
    if (s.elements != 1)
      throw InputError(fmt::format("{}: '{}' has {} elements, expected 1", c.what, s.name, s.elements));
    const float ws = to_floats(c, s)[0];
    float scale;
    if (c.config.linear_class == "autobitlinear") scale = ws;        // output * weight_scale
    else if (c.config.linear_class == "bitlinear") scale = 1.0f / ws;  // output / weight_scale
    else if (c.config.linear_class.empty())
      throw InputError(fmt::format("{}: packed uint8 weights but config.json has no "
                                   "quantization_config.linear_class to say how weight_scale applies", c.what));
    else
      throw InputError(fmt::format("{}: unknown quantization_config.linear_class '{}' (autobitlinear or bitlinear)",
                                   c.what, c.config.linear_class));
    const std::vector<uint8_t> bytes = c.read(t);
    try {
      return decode_hf_packed(t.name, n, k, bytes, scale);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: {} (tensor data at file offset {})", c.what, e.what(), t.file_offset));
    }
  }
  check_shape(c, t, {n, k});
  const std::vector<float> w = to_floats(c, t);
  try {
    return quantize_absmean(t.name, n, k, w);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {} (tensor data at file offset {})", c.what, e.what(), t.file_offset));
  }
}

// An integer field; the message names the key and shows the value as written.
int64_t json_int(const nlohmann::json& v, const std::string& key, const std::string& what) {
  if (!v.is_number_integer())
    throw InputError(fmt::format("{}: field '{}' is {}, expected an integer", what, key, v.dump()));
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX))
    throw InputError(fmt::format("{}: field '{}' = {} is out of range", what, key, v.dump()));
  return v.get<int64_t>();
}

int64_t field(const nlohmann::json& j, const char* key, const std::string& what) {
  if (!j.contains(key)) throw InputError(fmt::format("{}: field '{}' is missing", what, key));
  return json_int(j[key], key, what);
}

int64_t field_or(const nlohmann::json& j, const char* key, int64_t fallback, const std::string& what) {
  return j.contains(key) ? field(j, key, what) : fallback;
}

// A token id of the vocabulary, or a list of them (eos may be one): every id
// of the list must be a token, the first is used. A null is refused rather than
// read as token 0.
int32_t token_field(const nlohmann::json& j, const char* key, int64_t fallback, int64_t vocab,
                    const std::string& what) {
  if (!j.contains(key)) return check_token_id(what, key, fallback, vocab);
  const nlohmann::json& v = j[key];
  if (v.is_array() && !v.empty()) {
    int32_t first = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string item = fmt::format("{}[{}]", key, i);
      const int32_t id = check_token_id(what, item, json_int(v[i], item, what), vocab);
      if (i == 0) first = id;
    }
    return first;
  }
  if (v.is_number_integer()) return check_token_id(what, key, json_int(v, key, what), vocab);
  throw InputError(fmt::format("{}: field '{}' is {}, expected a token id", what, key, v.dump()));
}

// An optional field that must have the JSON type `is` checks when present.
const nlohmann::json* typed(const nlohmann::json& j, const char* key, bool (nlohmann::json::*is)() const noexcept,
                            const char* expected, const std::string& what) {
  if (!j.contains(key)) return nullptr;
  const nlohmann::json& v = j[key];
  if (!(v.*is)()) throw InputError(fmt::format("{}: field '{}' is {}, expected {}", what, key, v.dump(), expected));
  return &v;
}

}  // namespace

HfConfig parse_hf_config(std::string_view text, const std::string& what) {
  const nlohmann::json j = parse_json(text, what);
  if (!j.is_object()) throw InputError(fmt::format("{}: not a JSON object", what));
  using json = nlohmann::json;
  HfConfig h;
  ModelConfig& c = h.model;
  const json* name = typed(j, "_name_or_path", &json::is_string, "a string", what);
  c.name = name ? name->get<std::string>() : "bitnet-b1.58";
  if (const auto slash = c.name.rfind('/'); slash != std::string::npos) c.name = c.name.substr(slash + 1);
  if (c.name.empty()) c.name = "bitnet-b1.58";
  c.hidden = field(j, "hidden_size", what);
  c.n_layers = field(j, "num_hidden_layers", what);
  c.n_heads = field(j, "num_attention_heads", what);
  c.n_kv_heads = field_or(j, "num_key_value_heads", c.n_heads, what);
  c.ffn = field(j, "intermediate_size", what);
  c.vocab = field(j, "vocab_size", what);
  c.max_pos = field_or(j, "max_position_embeddings", 4096, what);
  check_config_sizes(what, {{c.hidden, "hidden_size"},
                            {c.n_layers, "num_hidden_layers"},
                            {c.n_heads, "num_attention_heads"},
                            {c.n_kv_heads, "num_key_value_heads"},
                            {c.ffn, "intermediate_size"},
                            {c.vocab, "vocab_size"},
                            {c.max_pos, "max_position_embeddings"}});
  if (c.hidden % c.n_heads != 0)
    throw InputError(fmt::format("{}: hidden_size {} is not a multiple of num_attention_heads {}", what, c.hidden,
                                 c.n_heads));
  c.head_dim = field_or(j, "head_dim", c.hidden / c.n_heads, what);
  check_config_sizes(what, {{c.head_dim, "head_dim"}});
  auto number = [&](const char* key, double fallback) {
    const json* v = typed(j, key, &json::is_number, "a number", what);
    return v ? v->get<double>() : fallback;
  };
  c.rope_theta = check_rope_theta(what, "rope_theta", number("rope_theta", 500000.0));
  c.norm_eps = check_norm_eps(what, "rms_norm_eps", number("rms_norm_eps", 1e-5));
  for (auto [id, k] : {std::pair{&c.bos, "bos_token_id"}, std::pair{&c.eos, "eos_token_id"}})
    *id = token_field(j, k, 0, c.vocab, what);
  if (const json* act = typed(j, "hidden_act", &json::is_string, "a string", what); act && *act != "relu2")
    throw InputError(fmt::format("{}: hidden_act {} is not supported (BitNet b1.58 uses relu2)", what, act->dump()));
  if (const json* tie = typed(j, "tie_word_embeddings", &json::is_boolean, "true or false", what);
      tie && !tie->get<bool>())
    throw InputError(fmt::format("{}: tie_word_embeddings is false; the LM head must be the embedding", what));
  if (const json* q = typed(j, "quantization_config", &json::is_object, "an object", what)) {
    if (q->contains("linear_class")) {
      if (!(*q)["linear_class"].is_string())
        throw InputError(fmt::format("{}: field 'quantization_config.linear_class' is {}, expected a string", what,
                                     (*q)["linear_class"].dump()));
      h.linear_class = (*q)["linear_class"].get<std::string>();
    }
  }
  validate_file_config(what, c);
  return h;
}

ModelConfig hf_model_config(const std::string& path) {
  try {
    return open_checkpoint(path, false).config.model;
  } catch (const std::bad_alloc&) {
    throw InputError(fmt::format("{}: not enough memory to read its config", path));
  }
}

namespace {

ModelWeights load_weights(const std::string& path) {
  const Checkpoint ck = open_checkpoint(path, true);
  const ModelConfig& c = ck.config.model;
  std::set<std::string> expected = {"model.embed_tokens.weight", "model.norm.weight"};
  auto lname = [](int64_t l, const char* t) { return fmt::format("model.layers.{}.{}", l, t); };
  static const char* const kNorms[] = {"input_layernorm.weight", "post_attention_layernorm.weight",
                                       "self_attn.attn_sub_norm.weight", "mlp.ffn_sub_norm.weight"};
  static const char* const kMats[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                      "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
  // The first missing tensor is reported; the loop stops there, so a huge
  // num_hidden_layers costs no more than the tensors the files really have.
  for (int64_t l = 0; l < c.n_layers; ++l) {
    for (const char* n : kNorms) expected.insert(ck.need(lname(l, n)).name);
    for (const char* m : kMats) {
      expected.insert(ck.need(lname(l, m) + ".weight").name);
      expected.insert(lname(l, m) + ".weight_scale");  // needed only with packed uint8 weights
    }
  }
  for (const auto& [name, t] : ck.tensors)
    if (!expected.count(name))
      throw InputError(fmt::format("{}: unexpected tensor '{}' at offset {} (the LM head is the tied embedding; {} "
                                   "layers)",
                                   path, name, t->file_offset, c.n_layers));

  ModelWeights m;
  m.config = c;
  m.source = path;
  const SafetensorsTensor& emb = ck.need("model.embed_tokens.weight");
  check_shape(ck, emb, {c.vocab, c.hidden});
  const SafetensorsFile& emb_file = ck.file_of(emb);
  m.embedding = read_bf16_table(emb_file.source, emb.file_offset, float_format(ck, emb), size_t(emb.elements));
  check_weight_values(m.embedding.data, emb_file.what, emb.name);
  m.final_norm = read_norm(ck, "model.norm.weight", c.hidden);
  m.layers.resize(size_t(c.n_layers));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = m.layers[size_t(l)];
    L.attn_norm = read_norm(ck, lname(l, "input_layernorm.weight"), c.hidden);
    L.ffn_norm = read_norm(ck, lname(l, "post_attention_layernorm.weight"), c.hidden);
    L.attn_sub_norm = read_norm(ck, lname(l, "self_attn.attn_sub_norm.weight"), c.hidden);
    L.ffn_sub_norm = read_norm(ck, lname(l, "mlp.ffn_sub_norm.weight"), c.ffn);
    L.q = read_ternary(ck, lname(l, "self_attn.q_proj"), c.q_dim(), c.hidden);
    L.k = read_ternary(ck, lname(l, "self_attn.k_proj"), c.kv_dim(), c.hidden);
    L.v = read_ternary(ck, lname(l, "self_attn.v_proj"), c.kv_dim(), c.hidden);
    L.o = read_ternary(ck, lname(l, "self_attn.o_proj"), c.hidden, c.q_dim());
    L.gate = read_ternary(ck, lname(l, "mlp.gate_proj"), c.ffn, c.hidden);
    L.up = read_ternary(ck, lname(l, "mlp.up_proj"), c.ffn, c.hidden);
    L.down = read_ternary(ck, lname(l, "mlp.down_proj"), c.hidden, c.ffn);
  }
  m.validate();
  return m;
}

}  // namespace

ModelWeights load_hf_model(const std::string& path) {
  try {
    return load_weights(path);
  } catch (const std::bad_alloc&) {
    throw InputError(fmt::format("{}: not enough memory to load its weights", path));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: {}", path, json_error_text(e.what())));
  }
}

void export_hf_safetensors(const ModelWeights& w, const std::string& dir) {
  w.validate();
  const ModelConfig& c = w.config;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw UsageError(fmt::format("cannot create directory '{}': {}", dir, ec.message()));

  nlohmann::json cfg = {
      {"architectures", {"BitNetForCausalLM"}},
      {"model_type", "bitnet"},
      {"_name_or_path", c.name},
      {"hidden_size", c.hidden},
      {"intermediate_size", c.ffn},
      {"num_hidden_layers", c.n_layers},
      {"num_attention_heads", c.n_heads},
      {"num_key_value_heads", c.n_kv_heads},
      {"head_dim", c.head_dim},
      {"vocab_size", c.vocab},
      {"max_position_embeddings", c.max_pos},
      {"rope_theta", c.rope_theta},
      {"rms_norm_eps", c.norm_eps},
      {"bos_token_id", c.bos},
      {"eos_token_id", c.eos},
      {"hidden_act", "relu2"},
      {"tie_word_embeddings", true},
      {"torch_dtype", "bfloat16"},
      {"quantization_config",
       {{"quant_method", "bitnet"}, {"linear_class", "autobitlinear"}, {"quantization_mode", "offline"}}},
  };
  const std::string cfg_text = cfg.dump(2) + "\n";

  SafetensorsWriter st;
  st.add_metadata("format", "pt");  // what transformers expects of a PyTorch checkpoint
  st.add_metadata("bitlab.weights.source", w.source);
  auto floats = [](const std::vector<float>& v) {
    return [&v](const SafetensorsWriter::Emit& emit) { emit(v.data(), v.size() * 4); };
  };
  st.add_tensor("model.embed_tokens.weight", "BF16", {c.vocab, c.hidden}, [&](const SafetensorsWriter::Emit& emit) {
    emit(w.embedding.data.data(), w.embedding.data.size_bytes());
  });
  st.add_tensor("model.norm.weight", "F32", {c.hidden}, floats(w.final_norm));
  auto lname = [](int64_t l, const char* t) { return fmt::format("model.layers.{}.{}", l, t); };
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[size_t(l)];
    st.add_tensor(lname(l, "input_layernorm.weight"), "F32", {c.hidden}, floats(L.attn_norm));
    st.add_tensor(lname(l, "post_attention_layernorm.weight"), "F32", {c.hidden}, floats(L.ffn_norm));
    st.add_tensor(lname(l, "self_attn.attn_sub_norm.weight"), "F32", {c.hidden}, floats(L.attn_sub_norm));
    st.add_tensor(lname(l, "mlp.ffn_sub_norm.weight"), "F32", {c.ffn}, floats(L.ffn_sub_norm));
    const std::pair<const char*, const CanonicalTernary*> mats[] = {
        {"self_attn.q_proj", &L.q}, {"self_attn.k_proj", &L.k}, {"self_attn.v_proj", &L.v},
        {"self_attn.o_proj", &L.o}, {"mlp.gate_proj", &L.gate}, {"mlp.up_proj", &L.up},
        {"mlp.down_proj", &L.down}};
    for (const auto& [name, mat] : mats) {
      const CanonicalTernary* t = mat;  // a plain variable: lambdas capture it (not the binding)
      if (t->n % 4 != 0)
        throw UsageError(fmt::format("'{}' has {} rows: the packed uint8 layout needs a multiple of 4", t->name, t->n));
      st.add_tensor(lname(l, name) + ".weight", "U8", {t->n / 4, t->k}, [t](const SafetensorsWriter::Emit& emit) {
        std::vector<uint8_t> buf(size_t(t->n / 4 * t->k));
        encode_hf_packed(*t, buf);
        emit(buf.data(), buf.size());
      });
      st.add_tensor(lname(l, name) + ".weight_scale", "F32", {1},
                    [t](const SafetensorsWriter::Emit& emit) { emit(&t->scale, 4); });
    }
  }
  // One set: both files are written and synced before either replaces the
  // old one, so a failed re-export leaves the old pair intact.
  write_files_atomically({
      {(fs::path(dir) / "model.safetensors").string(), [&](const ByteSink& out) { st.write_to(out); }},
      {(fs::path(dir) / "config.json").string(), [&](const ByteSink& out) { out(cfg_text.data(), cfg_text.size()); }},
  });
}

}  // namespace bitlab
