#include "harness/op_cases/op_case.h"

#include <algorithm>

#include <fmt/format.h>

#include "harness/op_cases/case_util.h"
#include "kernels/registry.h"
#include "common/sysinfo.h"
#include "model/weights/synthetic.h"

namespace bitlab::opcase {

std::string OpCase::shape_key() const {
  std::string s;
  for (const auto& [name, value] : params) s += fmt::format("{}{}:{}", s.empty() ? "" : "/", name, value);
  return s;
}

std::string OpCase::key() const {
  return label.empty() ? fmt::format("{}/{}", op, shape_key()) : fmt::format("{}/{}/{}", op, label, shape_key());
}

int64_t OpCase::param(const std::string& name, int64_t fallback) const {
  for (const auto& [n, v] : params)
    if (n == name) return v;
  return fallback;
}

std::vector<std::pair<std::string, std::vector<OpCase>>> cases_by_family(const std::vector<OpCase>& cases) {
  std::vector<std::pair<std::string, std::vector<OpCase>>> out;
  for (const OpCase& c : cases) {
    const std::string family = c.label.empty() ? c.op : c.op + "/" + c.label;
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& f) { return f.first == family; });
    if (it == out.end()) it = out.insert(out.end(), {family, {}});
    it->second.push_back(c);
  }
  return out;
}

Outcome check_case(Backend& be, const OpCase& c) {
  std::unique_ptr<Prepared> p = c.prepare(be, 1);
  p->run(0);
  return p->verify();
}

size_t cold_budget_bytes() { return std::max(size_t(256) << 20, 4 * last_level_cache_bytes()); }

size_t cold_copies_for(const OpCase& c) {
  return c.weight_bytes == 0 ? 1 : cold_copies(c.weight_bytes, cold_budget_bytes(), 512);
}

std::string bench_key(const OpCase& c, const DeviceInfo& di, const std::string& pinned) {
  std::string key = fmt::format("kernel/{}/{}/{}/threads:{}", c.op, di.backend, c.shape_key(), di.threads);
  // The default kernel pinned is the run without a pin: the same key.
  bool is_default = false;
  for (const KernelVariant& v : kernel_variants(di.backend))
    if (v.name == pinned && v.op == c.op) is_default = v.is_default;
  if (!pinned.empty() && !is_default) key += "/variant:" + pinned;
  return key;
}

std::vector<std::string> usable_variants(const std::string& backend, const std::string& op) {
  std::vector<std::string> out;
  for (const KernelVariant& v : kernel_variants(backend))
    if (v.op == op && v.usable) out.push_back(v.name);
  return out;
}

std::string kernel_for(const DeviceInfo& di, const std::string& op) {
  for (const auto& [kernel_op, name] : di.kernels)
    if (kernel_op == op) return name;
  return di.variant;
}

namespace detail {

uint64_t seed_of(const std::string& key, uint64_t stream) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : key) h = (h ^ ch) * 0x100000001b3ull;
  return stream_key(h, stream);
}

Guarded::Guarded(Backend& be, DType dtype, Shape shape) {
  t.dtype = dtype;
  t.shape = shape;
  t.offset = kGuard;
  t.buf = be.alloc(t.bytes() + 2 * kGuard);
  std::vector<uint8_t> fill(t.buf->bytes(), kPattern);
  t.buf->write(fill.data(), 0, fill.size());
}

bool Guarded::intact() const {
  std::vector<uint8_t> all(t.buf->bytes());
  t.buf->read(all.data(), 0, all.size());
  for (size_t i = 0; i < kGuard; ++i)
    if (all[i] != kPattern || all[all.size() - 1 - i] != kPattern) return false;
  return true;
}

Outcome exact_outcome(bool ok, const std::string& detail_if_not) {
  Outcome o;
  o.bit_exact = ok;
  o.pass = ok;
  if (!ok) o.detail = detail_if_not;
  return o;
}

Outcome nmse_outcome(const std::vector<float>& got, const std::vector<float>& want, double bound) {
  Outcome o;
  o.nmse = nmse(got, want);
  o.threshold = bound;
  o.pass = *o.nmse <= bound;  // a NaN NMSE fails
  if (!o.pass) o.detail = fmt::format("NMSE {:.3e} above {:.0e}", *o.nmse, bound);
  return o;
}

void require(Outcome& o, bool ok, const std::string& detail_if_not) {
  if (ok) return;
  o.pass = false;
  o.detail += (o.detail.empty() ? "" : "; ") + detail_if_not;
}

void require_guards(Outcome& o, std::initializer_list<const Guarded*> outs) {
  for (const Guarded* g : outs) require(o, g->intact(), "a write outside an output (guard bytes changed)");
}

}  // namespace detail
}  // namespace bitlab::opcase
