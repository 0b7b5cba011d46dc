#include "harness/result_formats.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "harness/result_reader.h"
#include "harness/stats.h"
#include "harness/terminal_text.h"
#include "model/error.h"

namespace bitlab::cli {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

const std::vector<std::pair<const char*, OutputFormat>>& format_names() {
  static const std::vector<std::pair<const char*, OutputFormat>> names = {
      {"json", OutputFormat::Json}, {"jsonl", OutputFormat::Jsonl}, {"csv", OutputFormat::Csv},
      {"md", OutputFormat::Md},     {"sql", OutputFormat::Sql},     {"gbench", OutputFormat::Gbench}};
  return names;
}

// Typed reads of one document: a missing or wrong-typed field is a UsageError
// naming the document and the field's path, as result_reader.cpp does for
// the fields compare reads.
class Reader {
 public:
  explicit Reader(const std::string& name) : name_(name) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw UsageError(fmt::format("{}: {}: {}", name_, where, what));
  }
  const json& at(const json& obj, const char* key, const std::string& where) const {
    const json* v = find(obj, key, where);
    if (!v) fail(join(where, key), "missing");
    return *v;
  }
  // nullptr when absent.
  const json* find(const json& obj, const char* key, const std::string& where) const {
    if (!obj.is_object()) fail(where, fmt::format("expected an object, found {}", obj.type_name()));
    const auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }
  std::string text(const json& obj, const char* key, const std::string& where) const {
    return text_value(at(obj, key, where), join(where, key));
  }
  std::string text_or(const json& obj, const char* key, const std::string& where, const std::string& dflt) const {
    const json* v = find(obj, key, where);
    return v ? text_value(*v, join(where, key)) : dflt;
  }
  int64_t integer(const json& obj, const char* key, const std::string& where) const {
    const json& v = at(obj, key, where);
    if (!v.is_number_integer())
      fail(join(where, key), fmt::format("expected an integer, found {}", v.type_name()));
    return v.get<int64_t>();
  }
  std::optional<int64_t> integer_opt(const json& obj, const char* key, const std::string& where) const {
    if (!find(obj, key, where)) return std::nullopt;
    return integer(obj, key, where);
  }
  bool boolean(const json& obj, const char* key, const std::string& where) const {
    const json& v = at(obj, key, where);
    if (!v.is_boolean()) fail(join(where, key), fmt::format("expected true or false, found {}", v.type_name()));
    return v.get<bool>();
  }
  static std::string join(const std::string& where, const char* key) {
    return where.empty() ? key : where + "." + key;
  }

 private:
  std::string text_value(const json& v, const std::string& where) const {
    if (!v.is_string()) fail(where, fmt::format("expected a string, found {}", v.type_name()));
    return v.get<std::string>();
  }
  const std::string& name_;
};

// The context fields every row carries.
struct RowContext {
  std::string commit, timestamp, cpu, gpu, model, version, build_type;
  std::set<std::string> gpu_backends;  // the backends context.gpus names
  bool dirty = false;
  int64_t threads = 1, logical_cores = 1;
};

// One measurement with what the formats need, flattened.
struct Row {
  const RowContext* ctx = nullptr;
  std::string key, kind, name, backend, variant, test, head, weight_bits;
  int64_t threads = 1;
  std::map<std::string, int64_t> shape;
  std::vector<double> samples;  // seconds
  Stats seconds;
  // e2e prefill and decode: llama-bench's test (n_prompt, n_gen at n_depth)
  // and tokens/s over the samples.
  bool llama_test = false;
  int64_t n_prompt = 0, n_gen = 0, n_depth = 0;
  double avg_ts = 0, stddev_ts = 0;
  int64_t avg_ns = 0, stddev_ns = 0;
};

// "int8" from ".../head:int8/...", `dflt` when the key has no such part.
std::string key_part(const std::string& key, const std::string& label, const std::string& dflt) {
  const std::string tag = "/" + label + ":";
  const size_t at = key.find(tag);
  if (at == std::string::npos) return dflt;
  const size_t from = at + tag.size();
  const size_t to = key.find('/', from);
  return key.substr(from, to == std::string::npos ? std::string::npos : to - from);
}

RowContext read_context(const Reader& r, const json& doc) {
  const json& ctx = r.at(doc, "context", "");
  const json& git = r.at(ctx, "git", "context");
  const json& host = r.at(ctx, "host", "context");
  RowContext c;
  c.commit = r.text(git, "commit", "context.git");
  c.dirty = r.boolean(git, "dirty", "context.git");
  c.timestamp = r.text(ctx, "timestamp", "context");
  c.cpu = r.text(host, "cpu_model", "context.host");
  c.logical_cores = r.integer(host, "logical_cores", "context.host");
  c.threads = r.integer(ctx, "threads", "context");
  c.model = r.text_or(ctx, "model", "context", "");
  c.version = r.text_or(ctx, "bitlab_version", "context", "");
  if (const json* build = r.find(ctx, "build", "context")) c.build_type = r.text_or(*build, "build_type", "context.build", "");
  if (const json* gpus = r.find(ctx, "gpus", "context"); gpus && gpus->is_array()) {
    for (size_t i = 0; i < gpus->size(); ++i) {
      const std::string where = fmt::format("context.gpus[{}]", i);
      const std::string name = r.text((*gpus)[i], "name", where);
      c.gpu_backends.insert(r.text((*gpus)[i], "backend", where));
      if (c.gpu.find(name) == std::string::npos) c.gpu += (c.gpu.empty() ? "" : ", ") + name;
    }
  }
  return c;
}

Row read_row(const Reader& r, const json& m, const std::string& where, const RowContext& ctx) {
  Row row;
  row.ctx = &ctx;
  row.key = r.text(m, "key", where);
  row.kind = r.text(m, "kind", where);
  row.name = r.text(m, "name", where);
  row.backend = r.text(m, "backend", where);
  row.variant = r.text(m, "variant", where);
  if (const json* shape = r.find(m, "shape", where)) {
    if (!shape->is_object()) r.fail(where + ".shape", "expected an object");
    for (const auto& [k, v] : shape->items()) row.shape[k] = r.integer(*shape, k.c_str(), where + ".shape");
  }
  // parse_result has checked the samples: finite seconds > 0.
  for (const json& s : r.at(m, "samples", where)) row.samples.push_back(s.get<double>());
  row.seconds = summarize(row.samples);
  row.threads = row.shape.count("threads") ? row.shape.at("threads") : ctx.threads;
  row.head = key_part(row.key, "head", "bf16");
  row.weight_bits = key_part(row.key, "weight_bits", "2");

  if (row.kind == "e2e" && (row.name == "prefill" || row.name == "decode")) {
    const int64_t prompt = r.integer(r.at(m, "shape", where), "prompt", where + ".shape");
    const int64_t per_sample = r.integer(m, "tokens", where);
    if (row.name == "prefill") {
      row.n_prompt = prompt;
    } else {
      // Decode steps follow the prompt: llama-bench's tg test at depth `prompt`.
      row.n_gen = r.integer(r.at(m, "shape", where), "gen", where + ".shape");
      row.n_depth = prompt;
    }
    const int64_t test_tokens = row.n_prompt + row.n_gen;
    if (per_sample <= 0 || test_tokens <= 0)
      r.fail(where, fmt::format("measurement {} processes no tokens", row.key));
    // Each sample stands for the whole test at that sample's rate, so that
    // avg_ts = (n_prompt + n_gen) / avg time holds as in llama-bench: a decode
    // sample is one step, the tg test `gen` of them.
    const double scale = double(test_tokens) / double(per_sample);
    std::vector<double> ts, ns;
    for (double s : row.samples) {
      ts.push_back(double(per_sample) / s);
      ns.push_back(s * 1e9 * scale);
    }
    row.llama_test = true;
    // Sample standard deviations (n - 1), 0 for one sample: what llama-bench reports.
    const Stats rate = summarize(ts), time = summarize(ns);
    row.avg_ts = rate.mean;
    row.stddev_ts = rate.stddev;
    row.avg_ns = std::llround(time.mean);
    row.stddev_ns = std::llround(time.stddev);
    row.test = row.n_gen == 0 ? fmt::format("pp{}", row.n_prompt) : fmt::format("tg{} @ d{}", row.n_gen, row.n_depth);
  } else {
    // A kernel case: its op and sizes, "matmul_w2a8 k=2560 n=3840 tokens=1".
    row.test = row.name;
    for (const auto& [k, v] : row.shape)
      if (k != "threads") row.test += fmt::format(" {}={}", k, v);
  }
  return row;
}

struct Table {
  std::vector<std::unique_ptr<RowContext>> contexts;
  std::vector<Row> rows;
};

Table read_rows(const std::vector<NamedResult>& docs) {
  Table t;
  for (const NamedResult& d : docs) {
    const Reader r(d.name);
    t.contexts.push_back(std::make_unique<RowContext>(read_context(r, d.doc)));
    const json& ms = r.at(d.doc, "measurements", "");
    if (!ms.is_array()) r.fail("measurements", "expected an array");
    for (size_t i = 0; i < ms.size(); ++i)
      t.rows.push_back(read_row(r, ms[i], fmt::format("measurements[{}]", i), *t.contexts.back()));
  }
  return t;
}

// ---- jsonl and csv: bitlab's own columns, one row per measurement ----------

ordered_json flat_row(const Row& w) {
  ordered_json o;
  o["commit"] = w.ctx->commit;
  o["dirty"] = w.ctx->dirty;
  o["timestamp"] = w.ctx->timestamp;
  o["cpu"] = w.ctx->cpu;
  o["gpu"] = w.ctx->gpu;
  o["threads"] = w.threads;
  o["model"] = w.ctx->model;
  o["backend"] = w.backend;
  o["variant"] = w.variant;
  o["kind"] = w.kind;
  o["name"] = w.name;
  o["key"] = w.key;
  o["test"] = w.test;
  o["head"] = w.head;
  o["weight_bits"] = w.weight_bits;
  o["n_prompt"] = w.llama_test ? ordered_json(w.n_prompt) : ordered_json();
  o["n_gen"] = w.llama_test ? ordered_json(w.n_gen) : ordered_json();
  o["n_depth"] = w.llama_test ? ordered_json(w.n_depth) : ordered_json();
  o["samples"] = w.samples.size();
  o["mean_s"] = w.seconds.mean;
  o["median_s"] = w.seconds.median;
  o["sd_s"] = w.seconds.stddev;
  o["tokens_per_s"] = w.llama_test ? ordered_json(w.avg_ts) : ordered_json();
  o["tokens_per_s_sd"] = w.llama_test ? ordered_json(w.stddev_ts) : ordered_json();
  return o;
}

std::string render_jsonl(const Table& t) {
  std::string out;
  for (const Row& w : t.rows) out += flat_row(w).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return out;
}

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string csv_value(const ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return csv_field(v.get<std::string>());
  return v.dump();
}

std::string render_csv(const Table& t) {
  std::string out;
  // The header from a row's columns: one list, the same as jsonl's (an empty
  // row's where the documents have no measurement: a check result).
  const RowContext none;
  Row empty;
  empty.ctx = &none;
  const ordered_json shape = flat_row(t.rows.empty() ? empty : t.rows.front());
  std::vector<std::string> header;
  for (const auto& [k, v] : shape.items()) header.push_back(csv_field(k));
  out += fmt::format("{}\r\n", fmt::join(header, ","));
  for (const Row& w : t.rows) {
    const ordered_json row = flat_row(w);  // kept alive: items() refers to it
    std::vector<std::string> cells;
    for (const auto& [k, v] : row.items()) cells.push_back(csv_value(v));
    out += fmt::format("{}\r\n", fmt::join(cells, ","));
  }
  return out;
}

// ---- sql and md: llama-bench's end-to-end table ----------------------------

std::string short_commit(const RowContext& c) { return c.commit.substr(0, 8); }

// llama-bench's model_type ("bitnet 2B I2_S - 2 bpw ternary") for a bitlab
// case: the model with the weight layout and head, which compare-llama-bench
// keys on, so the heads and layouts of one run stay apart.
std::string model_type(const Row& w) {
  return fmt::format("{} {}-bit, {} head", w.ctx->model.empty() ? std::string("model") : w.ctx->model, w.weight_bits,
                     w.head);
}

enum class SqlType { Text, Integer, Real };

struct SqlColumn {
  const char* name;
  SqlType type;
};

// llama-bench's fields in its order, then use_mmap (a key property of
// scripts/compare-llama-bench.py that llama-bench later replaced by
// load_mode: both are here), then bitlab's own, prefixed.
const std::vector<SqlColumn>& sql_columns() {
  using enum SqlType;
  static const std::vector<SqlColumn> cols = {
      {"build_commit", Text},     {"build_number", Integer},  {"cpu_info", Text},
      {"gpu_info", Text},         {"backends", Text},         {"model_filename", Text},
      {"model_type", Text},       {"model_size", Integer},    {"model_n_params", Integer},
      {"n_batch", Integer},       {"n_ubatch", Integer},      {"n_threads", Integer},
      {"cpu_mask", Text},         {"cpu_strict", Integer},    {"poll", Integer},
      {"type_k", Text},           {"type_v", Text},           {"n_gpu_layers", Integer},
      {"n_cpu_moe", Integer},     {"split_mode", Text},       {"main_gpu", Integer},
      {"no_kv_offload", Integer}, {"flash_attn", Integer},    {"devices", Text},
      {"tensor_split", Text},     {"tensor_buft_overrides", Text}, {"load_mode", Text},
      {"embeddings", Integer},    {"no_op_offload", Integer}, {"no_host", Integer},
      {"fit_target", Integer},    {"fit_min_ctx", Integer},   {"n_prompt", Integer},
      {"n_gen", Integer},         {"n_depth", Integer},       {"test_time", Text},
      {"avg_ns", Integer},        {"stddev_ns", Integer},     {"avg_ts", Real},
      {"stddev_ts", Real},        {"use_mmap", Integer},      {"bitlab_variant", Text},
      {"bitlab_head", Text},      {"bitlab_weight_bits", Text}, {"bitlab_dirty", Integer},
      {"bitlab_key", Text},       {"bitlab_median_ns", Integer}};
  return cols;
}

// One row's values, in sql_columns() order. What bitlab does not have gets
// llama-bench's default (n_batch 2048, n_ubatch 512, poll 50, f16 cache
// types, ...) or zero (model size and parameters, unknown here).
std::vector<json> sql_values(const Row& w) {
  const RowContext& c = *w.ctx;
  const bool on_gpu = c.gpu_backends.count(w.backend) > 0;
  return {short_commit(c), 0, c.cpu, c.gpu, w.backend, c.model, model_type(w), 0, 0,
          2048, 512, w.threads, "0x0", 0, 50, "f16", "f16", on_gpu ? 99 : 0,
          0, "layer", 0, 0, -1, "auto",
          "0.00", "none", "mmap", 0, 0, 0,
          0, 0, w.n_prompt, w.n_gen, w.n_depth, c.timestamp,
          w.avg_ns, w.stddev_ns, w.avg_ts, w.stddev_ts, 1, w.variant,
          w.head, w.weight_bits, c.dirty ? 1 : 0, w.key, std::llround(w.seconds.median * 1e9)};
}

std::string sql_literal(const json& v) {
  if (v.is_string()) {
    std::string q = "'";
    for (char ch : v.get<std::string>()) {
      if (ch == '\'') q += "''";
      else if (ch != '\0') q += ch;  // the sqlite3 shell would end the string at a NUL
    }
    return q + "'";
  }
  return v.dump();
}

std::string render_sql(const Table& t) {
  std::string out = "CREATE TABLE IF NOT EXISTS llama_bench (\n";
  const auto& cols = sql_columns();
  std::vector<std::string> names;
  for (size_t i = 0; i < cols.size(); ++i) {
    const char* type = cols[i].type == SqlType::Text ? "TEXT" : cols[i].type == SqlType::Integer ? "INTEGER" : "REAL";
    out += fmt::format("  {} {}{}\n", cols[i].name, type, i + 1 < cols.size() ? "," : "");
    names.emplace_back(cols[i].name);
  }
  out += ");\n\n";
  for (const Row& w : t.rows) {
    if (!w.llama_test) continue;
    std::vector<std::string> values;
    for (const json& v : sql_values(w)) values.push_back(sql_literal(v));
    out += fmt::format("INSERT INTO llama_bench ({}) VALUES ({});\n", fmt::join(names, ", "), fmt::join(values, ", "));
  }
  return out;
}

// A markdown cell: one line, and a '|' kept from ending the cell.
std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : printable(s)) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string render_md(const Table& t) {
  struct Col {
    const char* name;
    bool right;  // numbers right-aligned, as llama-bench does
  };
  const std::vector<Col> cols = {{"model", false},   {"size", true}, {"params", true}, {"backend", false},
                                 {"threads", true},  {"test", true}, {"t/s", true}};
  std::vector<std::vector<std::string>> cells;
  std::set<std::string> builds;
  for (const Row& w : t.rows) {
    if (!w.llama_test) continue;
    cells.push_back({md_cell(model_type(w)), "-", "-", md_cell(w.backend), std::to_string(w.threads), w.test,
                     fmt::format("{:.2f} ± {:.2f}", w.avg_ts, w.stddev_ts)});
  }
  // llama-bench's footer: the build of every document, one line each.
  for (const auto& c : t.contexts)
    builds.insert(fmt::format("{}{} (bitlab {})", short_commit(*c), c->dirty ? "-dirty" : "", md_cell(c->version)));
  // Widths in characters: "±" is two bytes.
  const auto width = [](const std::string& s) {
    return size_t(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
  };
  std::vector<size_t> w(cols.size());
  for (size_t i = 0; i < cols.size(); ++i) {
    w[i] = std::max<size_t>(std::string(cols[i].name).size(), i == 0 ? 30 : 6);
    for (const auto& row : cells) w[i] = std::max(w[i], width(row[i]));
  }
  const auto pad = [&](const std::string& s, size_t i) {
    const std::string fill(w[i] - std::min(w[i], width(s)), ' ');
    return cols[i].right ? fill + s : s + fill;
  };
  std::string out = "|";
  for (size_t i = 0; i < cols.size(); ++i) out += " " + pad(cols[i].name, i) + " |";
  out += "\n|";
  for (size_t i = 0; i < cols.size(); ++i)
    out += " " + std::string(w[i] - 1, '-') + (cols[i].right ? ":" : "-") + " |";
  out += "\n";
  for (const auto& row : cells) {
    out += "|";
    for (size_t i = 0; i < cols.size(); ++i) out += " " + pad(row[i], i) + " |";
    out += "\n";
  }
  for (const std::string& b : builds) out += "\nbuild: " + b + "\n";
  return out;
}

// ---- gbench: the kernel cases as Google Benchmark JSON ---------------------

std::string render_gbench(const Table& t) {
  // One benchmark per key (less "kernel/"); the same key in several documents
  // is more repetitions of it, as compare.py reads repeated runs.
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> samples;
  for (const Row& w : t.rows) {
    if (w.kind != "kernel") continue;
    const std::string name = w.key.starts_with("kernel/") ? w.key.substr(7) : w.key;
    if (!samples.count(name)) order.push_back(name);
    auto& s = samples[name];
    s.insert(s.end(), w.samples.begin(), w.samples.end());
  }
  ordered_json ctx;
  if (!t.contexts.empty()) {
    const RowContext& c = *t.contexts.front();
    std::string build = c.build_type;
    std::transform(build.begin(), build.end(), build.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    ctx["date"] = c.timestamp;
    ctx["executable"] = "bitlab";
    ctx["num_cpus"] = c.logical_cores;
    ctx["mhz_per_cpu"] = 0;
    ctx["cpu_scaling_enabled"] = false;
    ctx["caches"] = json::array();
    ctx["library_build_type"] = build.empty() ? "release" : build;
    ctx["bitlab_commit"] = c.commit;
    ctx["bitlab_dirty"] = c.dirty;
    ctx["cpu_model"] = c.cpu;
    ctx["threads"] = c.threads;
  }
  ordered_json benchmarks = ordered_json::array();
  for (size_t f = 0; f < order.size(); ++f) {
    const std::string& name = order[f];
    const std::vector<double>& s = samples[name];
    const auto entry = [&](const std::string& entry_name) {
      ordered_json e;
      e["name"] = entry_name;
      e["family_index"] = f;
      e["per_family_instance_index"] = 0;
      e["run_name"] = name;
      return e;
    };
    // Each sample is one repetition: bitlab times wall clock only, so the
    // CPU time is the same number.
    for (size_t i = 0; i < s.size(); ++i) {
      ordered_json e = entry(name);
      e["run_type"] = "iteration";
      e["repetitions"] = s.size();
      e["repetition_index"] = i;
      e["threads"] = 1;
      e["iterations"] = 1;
      e["real_time"] = s[i] * 1e9;
      e["cpu_time"] = s[i] * 1e9;
      e["time_unit"] = "ns";
      benchmarks.push_back(e);
    }
    const Stats st = summarize(s);
    for (const auto& [agg, value] : {std::pair{"mean", st.mean}, {"median", st.median}, {"stddev", st.stddev}}) {
      ordered_json e = entry(fmt::format("{}_{}", name, agg));
      e["run_type"] = "aggregate";
      e["repetitions"] = s.size();
      e["threads"] = 1;
      e["aggregate_name"] = agg;
      e["aggregate_unit"] = "time";
      e["iterations"] = s.size();
      e["real_time"] = value * 1e9;
      e["cpu_time"] = value * 1e9;
      e["time_unit"] = "ns";
      benchmarks.push_back(e);
    }
  }
  ordered_json doc;
  doc["context"] = ctx;
  doc["benchmarks"] = benchmarks;
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string render_json(const std::vector<NamedResult>& docs) {
  if (docs.size() == 1) return docs.front().doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  json all = json::array();
  for (const NamedResult& d : docs) all.push_back(d.doc);
  return all.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string output_format_list() {
  std::vector<std::string> names;
  for (const auto& [name, f] : format_names()) names.emplace_back(name);
  return fmt::format("{}", fmt::join(names, ", "));
}

OutputFormat parse_output_format(const std::string& name, const std::string& option) {
  for (const auto& [n, f] : format_names())
    if (name == n) return f;
  throw UsageError(fmt::format("{}: unknown output format '{}' (formats: {})", option, name, output_format_list()));
}

NamedResult load_named_result(const std::string& path) {
  const std::string bytes = read_result_bytes(path);
  parse_result(bytes, path);  // the checks compare makes: schema, keys, samples
  // parse_result has parsed the same bytes within its depth limit.
  return {path, json::parse(bytes)};
}

std::string render_results(const std::vector<NamedResult>& docs, OutputFormat format) {
  if (format == OutputFormat::Json) return render_json(docs);
  const Table t = read_rows(docs);
  switch (format) {
    case OutputFormat::Jsonl: return render_jsonl(t);
    case OutputFormat::Csv: return render_csv(t);
    case OutputFormat::Md: return render_md(t);
    case OutputFormat::Sql: return render_sql(t);
    case OutputFormat::Gbench: return render_gbench(t);
    case OutputFormat::Json: break;
  }
  return render_json(docs);
}

}  // namespace bitlab::cli
