// What the op families share: seeds, guarded outputs, host copies, outcomes.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "harness/op_cases/op_case.h"
#include "model/backend.h"

namespace bitlab::opcase::detail {

// A seed derived from the case key (FNV-1a) and a stream number: every input
// of every case is its own deterministic stream.
uint64_t seed_of(const std::string& key, uint64_t stream);

// An output tensor with guard bytes of a fixed pattern on both sides, to catch
// writes outside it.
struct Guarded {
  static constexpr size_t kGuard = 256;
  static constexpr uint8_t kPattern = 0xA5;
  Tensor t;
  Guarded() = default;
  Guarded(Backend& be, DType dtype, Shape shape);
  bool intact() const;
};

template <class T>
std::vector<T> fetch(const Backend& be, const Tensor& t) {
  std::vector<T> v(t.bytes() / sizeof(T));
  be.download(t, v.data());
  return v;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Index of the first element whose bits differ (size when none).
template <class T>
size_t first_difference(const std::vector<T>& a, const std::vector<T>& b) {
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return i;
  return a.size() == b.size() ? a.size() : std::min(a.size(), b.size());
}

// Outcome builders: a bit-exact comparison, an NMSE one, and a failed
// side condition (a guard, a changed input) that turns a pass into a fail.
Outcome exact_outcome(bool ok, const std::string& detail_if_not);
Outcome nmse_outcome(const std::vector<float>& got, const std::vector<float>& want, double bound);
void require(Outcome& o, bool ok, const std::string& detail_if_not);
void require_guards(Outcome& o, std::initializer_list<const Guarded*> outs);

}  // namespace bitlab::opcase::detail
