// Host buffers and tensor views: large buffers are 2 MiB-aligned mappings with
// huge pages requested (weights stream from them), small ones 64-byte aligned;
// reads and writes past the end and views outside a tensor are refused.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <numeric>
#include <vector>

#include "model/error.h"
#include "model/tensor.h"

namespace bitlab {
namespace {

TEST(HostBuffer, LargeBuffersAreHugePageAlignedMappings) {
  if (const char* v = std::getenv("BITLAB_HUGE_PAGES"); v && std::string(v) == "0")
    GTEST_SKIP() << "BITLAB_HUGE_PAGES=0 turns the mappings off";
  const size_t bytes = (size_t(5) << 20) + 123;  // not a multiple of the page
  HostBuffer b(bytes);
  EXPECT_EQ(b.bytes(), bytes);
  EXPECT_TRUE(b.huge_pages());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % (size_t(2) << 20), 0u);
  // Every byte up to the requested size is usable, and reads back what was written.
  std::vector<uint8_t> in(bytes);
  std::iota(in.begin(), in.end(), uint8_t(7));
  b.write(in.data(), 0, bytes);
  std::vector<uint8_t> out(bytes);
  b.read(out.data(), 0, bytes);
  EXPECT_EQ(in, out);
}

TEST(HostBuffer, SmallBuffersAreCacheLineAligned) {
  for (size_t bytes : {size_t(0), size_t(1), size_t(4096), (size_t(2) << 20) - 1}) {
    HostBuffer b(bytes);
    EXPECT_FALSE(b.huge_pages()) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u) << bytes;
  }
}

TEST(HostBuffer, AccessPastTheEndIsRefused) {
  HostBuffer b(size_t(3) << 20);
  std::vector<uint8_t> v(16);
  EXPECT_THROW(b.write(v.data(), b.bytes() - 8, 16), UsageError);
  EXPECT_THROW(b.read(v.data(), b.bytes() + 1, 0), UsageError);
  EXPECT_NO_THROW(b.read(v.data(), b.bytes() - 16, 16));
}

TEST(Tensor, RowViewsStayInside) {
  Tensor t;
  t.buf = std::make_shared<HostBuffer>(4 * 6 * 10);
  t.dtype = DType::F32;
  t.shape = {6, 10};
  const Tensor v = t.rows(2, 3);
  EXPECT_EQ(v.offset, size_t(2 * 10 * 4));
  EXPECT_EQ(v.shape.rows, 3);
  EXPECT_THROW(t.rows(4, 3), UsageError);
  EXPECT_THROW(t.rows(-1, 1), UsageError);
}

}  // namespace
}  // namespace bitlab
