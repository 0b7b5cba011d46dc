// The avx512 attention_group against the avx512 attention_head, bit for bit, and
// the backend's attention op against it (attention_group_cases.h). Skipped on a CPU without AVX-512.
#include "kernels/cpu/tests/attention_group_cases.h"

namespace bitlab {
namespace {

TEST(Avx512Attention, GroupIsBitIdenticalToHead) {
  for (const BackendEntry& e : list_backends())
    if (e.name == "avx512" && !e.probe.usable) GTEST_SKIP() << "avx512 backend not usable: " << e.probe.reason;
  test::expect_group_matches_head(cpu::avx512_kernels());
}

TEST(Avx512Attention, BackendOpIsBitIdenticalToHeads) {
  for (const BackendEntry& e : list_backends())
    if (e.name == "avx512" && !e.probe.usable) GTEST_SKIP() << "avx512 backend not usable: " << e.probe.reason;
  test::expect_backend_matches_heads("avx512", cpu::avx512_kernels());
}

}  // namespace
}  // namespace bitlab
