#include "harness/result_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/op_cases/op_case.h"
#include "model/error.h"
#include "model/weights/json_error.h"

namespace bitlab::cli {
namespace {

using nlohmann::json;

constexpr const char* kSchemaId = opcase::kResultSchema;

// Typed access to the document's fields; a missing or wrong-typed one is an
// error naming the file and the field's path ("measurements[3].samples").
class Fields {
 public:
  explicit Fields(const std::string& name) : name_(name) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw UsageError(fmt::format("{}: {}: {}", name_, where, what));
  }
  const json& at(const json& obj, const char* key, const std::string& where) const {
    if (!obj.is_object()) fail(where, "expected an object");
    const auto it = obj.find(key);
    if (it == obj.end()) fail(join(where, key), "missing");
    return *it;
  }
  const json& array(const json& obj, const char* key, const std::string& where) const {
    const json& v = at(obj, key, where);
    if (!v.is_array()) fail(join(where, key), fmt::format("expected an array, found {}", v.type_name()));
    return v;
  }
  std::string text(const json& obj, const char* key, const std::string& where) const {
    const json& v = at(obj, key, where);
    if (!v.is_string()) fail(join(where, key), fmt::format("expected a string, found {}", v.type_name()));
    return v.get<std::string>();
  }
  bool boolean(const json& obj, const char* key, const std::string& where) const {
    const json& v = at(obj, key, where);
    if (!v.is_boolean()) fail(join(where, key), fmt::format("expected true or false, found {}", v.type_name()));
    return v.get<bool>();
  }
  double number(const json& obj, const char* key, const std::string& where) const {
    const json& v = at(obj, key, where);
    if (!v.is_number()) fail(join(where, key), fmt::format("expected a number, found {}", v.type_name()));
    return v.get<double>();
  }
  static std::string join(const std::string& where, const char* key) {
    return where.empty() ? key : where + "." + key;
  }

 private:
  const std::string& name_;
};

double optional_number(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_number() ? it->get<double>() : NAN;
}
std::string optional_text(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t optional_integer(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

// A machine-load field at the top of the context or in one of its objects
// (where a load probe may group them): a number, or an array's first number.
double load_field(const json& ctx, const char* key) {
  auto read = [key](const json& obj) {
    const auto it = obj.find(key);
    if (it == obj.end()) return double(NAN);
    if (it->is_number()) return it->get<double>();
    if (it->is_array() && !it->empty() && it->front().is_number()) return it->front().get<double>();
    return double(NAN);
  };
  double v = read(ctx);
  for (auto it = ctx.begin(); std::isnan(v) && it != ctx.end(); ++it)
    if (it->is_object()) v = read(*it);
  return v;
}

ResultContext read_context(const json& ctx, const std::string& cpu_model, bool dirty) {
  ResultContext c;
  c.command = optional_text(ctx, "command");
  c.model = optional_text(ctx, "model");
  c.cpu_model = cpu_model;
  c.dirty = dirty;
  c.threads = optional_integer(ctx, "threads");
  if (const auto h = ctx.find("host"); h != ctx.end() && h->is_object()) c.logical_cores = optional_integer(*h, "logical_cores");
  c.bandwidth_gbps = optional_number(ctx, "memory_bandwidth_gbps");
  c.load_average = load_field(ctx, "load_average");
  c.steal_fraction = load_field(ctx, "steal_fraction");
  return c;
}

json parse_json(std::string_view bytes, const std::string& name) {
  // The depth limit is enforced while parsing, before a hostile nesting is built.
  const json::parser_callback_t limit_depth = [&name](int depth, json::parse_event_t, json&) {
    if (depth > kMaxResultDepth)
      throw UsageError(fmt::format("{} is not a bitlab result: nested deeper than {} levels", name, kMaxResultDepth));
    return true;
  };
  try {
    return json::parse(bytes.begin(), bytes.end(), limit_depth);
  } catch (const json::exception& e) {
    throw UsageError(fmt::format("{} is not JSON: {}", name, json_error_text(e.what())));
  }
}

}  // namespace

ResultDoc parse_result(std::string_view bytes, const std::string& name) {
  const json j = parse_json(bytes, name);
  if (!j.is_object() || !j.contains("schema") || j["schema"] != kSchemaId)
    throw UsageError(fmt::format("{} is not a bitlab result document (expected \"schema\": \"{}\")", name, kSchemaId));
  const Fields f(name);
  ResultDoc d;
  d.path = name;
  const json& ctx = f.at(j, "context", "");
  const json& git = f.at(ctx, "git", "context");
  d.commit = f.text(git, "commit", "context.git");
  d.dirty = f.boolean(git, "dirty", "context.git");
  d.cpu_model = f.text(f.at(ctx, "host", "context"), "cpu_model", "context.host");
  d.label = d.commit.substr(0, 12) + (d.dirty ? "-dirty" : "") + " on " + d.cpu_model;
  if (ctx.contains("timestamp")) d.timestamp = f.text(ctx, "timestamp", "context");
  if (ctx.contains("command")) d.command = f.text(ctx, "command", "context");
  if (ctx.contains("threads")) {
    const double threads = f.number(ctx, "threads", "context");
    if (!(threads >= 1 && threads <= 1 << 20) || threads != std::floor(threads))
      f.fail("context.threads", fmt::format("expected a thread count, found {}", threads));
    d.threads = int(threads);
  }
  if (ctx.contains("memory_bandwidth_gbps")) d.bandwidth_gbps = f.number(ctx, "memory_bandwidth_gbps", "context");
  d.content_hash = 0xcbf29ce484222325ULL;
  for (const char c : bytes) d.content_hash = (d.content_hash ^ uint8_t(c)) * 0x100000001b3ULL;
  d.context = read_context(ctx, d.cpu_model, d.dirty);

  std::set<std::string> keys;
  const json& ms = f.array(j, "measurements", "");
  for (size_t i = 0; i < ms.size(); ++i) {
    const std::string where = fmt::format("measurements[{}]", i);
    ResultTiming x;
    x.key = f.text(ms[i], "key", where);
    const json& samples = f.array(ms[i], "samples", where);
    if (samples.empty()) f.fail(where, fmt::format("measurement {} has no samples", x.key));
    for (size_t s = 0; s < samples.size(); ++s) {
      // Samples are seconds: a negative, zero or non-finite one is not a
      // measurement (and a negative time would read as an improvement).
      if (!samples[s].is_number())
        f.fail(fmt::format("{}.samples[{}]", where, s),
               fmt::format("measurement {}: expected a number of seconds, found {}", x.key, samples[s].type_name()));
      const double v = samples[s].get<double>();
      if (!std::isfinite(v) || v <= 0)
        f.fail(fmt::format("{}.samples[{}]", where, s),
               fmt::format("measurement {}: sample {} is not a time (expected finite seconds > 0)", x.key, v));
      x.samples.push_back(v);
    }
    if (!keys.insert(x.key).second) f.fail(where, fmt::format("key {} appears twice", x.key));
    if (ms[i].contains("kind")) x.kind = f.text(ms[i], "kind", where);
    x.backend = optional_text(ms[i], "backend");  // read leniently, as the context is
    if (ms[i].contains("variant")) x.variant = f.text(ms[i], "variant", where);
    if (ms[i].contains("derived")) {
      const json& derived = ms[i]["derived"];
      const std::string at = where + ".derived";
      if (derived.contains("tokens_per_s")) x.tokens_per_s = f.number(derived, "tokens_per_s", at);
      if (derived.contains("roofline_fraction")) x.roofline_fraction = f.number(derived, "roofline_fraction", at);
    }
    d.measurements.push_back(std::move(x));
  }

  const json& cs = f.array(j, "correctness", "");
  for (size_t i = 0; i < cs.size(); ++i) {
    const std::string where = fmt::format("correctness[{}]", i);
    const json& c = cs[i];
    ResultCheck x{f.text(c, "backend", where), "", f.text(c, "check", where), f.boolean(c, "pass", where), ""};
    if (c.contains("variant")) x.variant = f.text(c, "variant", where);
    if (c.contains("nmse"))
      x.detail = fmt::format("nmse {:.3g}", f.number(c, "nmse", where)) +
                 (c.contains("threshold") ? fmt::format(", threshold {:.3g}", f.number(c, "threshold", where)) : "");
    // End-to-end records since the noise-floor rule also name the floor and
    // the backend's NMSE as a multiple of it; older files have neither.
    if (c.contains("floor_nmse")) x.detail += fmt::format(", floor {:.3g}", f.number(c, "floor_nmse", where));
    if (c.contains("nmse_ratio")) x.detail += fmt::format(" ({:.3g} x floor)", f.number(c, "nmse_ratio", where));
    if (c.contains("bit_exact") && !f.boolean(c, "bit_exact", where))
      x.detail += std::string(x.detail.empty() ? "" : ", ") + "not bit-exact";
    d.checks.push_back(std::move(x));
  }
  return d;
}

std::string read_result_bytes(const std::string& path) {
  // O_NONBLOCK: opening a FIFO with no writer returns at once; fstat then
  // refuses anything that is not a regular file before a read could block.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw UsageError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw UsageError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw UsageError(fmt::format("{} is not a regular file", path));
  if (size_t(st.st_size) > kMaxResultBytes)
    throw UsageError(fmt::format("{} is {} bytes: too large for a result file (at most {} MiB)", path, st.st_size,
                                 kMaxResultBytes >> 20));
  std::string bytes(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw UsageError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    if (n == 0) break;  // the file shrank while being read
    got += size_t(n);
  }
  bytes.resize(got);
  return bytes;
}

ResultDoc read_result_file(const std::string& path) { return parse_result(read_result_bytes(path), path); }

}  // namespace bitlab::cli
