// The scalar attention_group against the scalar attention_head, bit for bit, and
// the backend's attention op against it (attention_group_cases.h).
#include "kernels/cpu/tests/attention_group_cases.h"

namespace bitlab {
namespace {

TEST(ScalarAttention, GroupIsBitIdenticalToHead) { test::expect_group_matches_head(cpu::scalar_kernels()); }

TEST(ScalarAttention, BackendOpIsBitIdenticalToHeads) {
  test::expect_backend_matches_heads("scalar", cpu::scalar_kernels());
}

}  // namespace
}  // namespace bitlab
