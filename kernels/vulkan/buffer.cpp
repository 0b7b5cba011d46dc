#include "kernels/vulkan/buffer.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "kernels/vulkan/stream.h"
#include "model/error.h"

namespace bitlab::vk {
namespace {

constexpr uint64_t kInlineWriteBytes = 65536;  // vkCmdUpdateBuffer's limit

void check_range(const char* what, size_t offset, size_t n, size_t bytes) {
  if (offset > bytes || n > bytes - offset)
    throw UsageError(fmt::format("buffer {} of {} bytes at {} exceeds its {} bytes", what, n, offset, bytes));
}

}  // namespace

VulkanBuffer::VulkanBuffer(std::shared_ptr<Device> device, size_t bytes) : dev_(std::move(device)), bytes_(bytes) {
  alloc_ = dev_->allocate(bytes, false, (16 - bytes % 16) % 16 + kSlackBytes);
  if (bytes <= kHostCopyBytes) {
    // Start from known contents: zeros on both sides.
    host_copy_.assign(bytes, 0);
    host_copy_valid_ = true;
    dev_->stream().fill(alloc_.buffer, 0, VK_WHOLE_SIZE, 0);
  }
}

VulkanBuffer::~VulkanBuffer() {
  Device* dev = dev_.get();
  dev->stream().defer([dev, a = alloc_]() mutable { dev->free(a); });
}

void VulkanBuffer::write(const void* src, size_t offset, size_t n) {
  check_range("write", offset, n, bytes_);
  if (n == 0) return;
  if (host_copy_valid_) std::memcpy(host_copy_.data() + offset, src, n);
  else if (!host_copy_.empty() && offset == 0 && n == bytes_) {
    std::memcpy(host_copy_.data(), src, n);
    host_copy_valid_ = true;
  }
  Stream& stream = dev_->stream();
  if (n <= kInlineWriteBytes && offset % 4 == 0 && n % 4 == 0) {
    stream.update(alloc_.buffer, offset, src, n);
    return;
  }
  // Commands recorded earlier may still read or write this buffer.
  stream.finish();
  const auto* from = static_cast<const uint8_t*>(src);
  if (alloc_.mapped) {
    std::memcpy(static_cast<uint8_t*>(alloc_.mapped) + offset, from, n);
    return;
  }
  const Allocation& staging = dev_->staging(n);
  for (size_t done = 0; done < n;) {
    const size_t chunk = std::min<size_t>(n - done, staging.bytes);
    std::memcpy(staging.mapped, from + done, chunk);
    stream.copy(staging.buffer, 0, alloc_.buffer, offset + done, chunk);
    stream.finish();
    done += chunk;
  }
}

void VulkanBuffer::read(void* dst, size_t offset, size_t n) const {
  check_range("read", offset, n, bytes_);
  if (n == 0) return;
  Stream& stream = dev_->stream();
  auto* to = static_cast<uint8_t*>(dst);
  if (alloc_.mapped) {
    stream.finish();
    std::memcpy(to, static_cast<const uint8_t*>(alloc_.mapped) + offset, n);
    return;
  }
  const Allocation& staging = dev_->staging(n);
  for (size_t done = 0; done < n;) {
    const size_t chunk = std::min<size_t>(n - done, staging.bytes);
    stream.copy(alloc_.buffer, offset + done, staging.buffer, 0, chunk);
    stream.finish();
    std::memcpy(to + done, staging.mapped, chunk);
    done += chunk;
  }
}

}  // namespace bitlab::vk
