#include "model/weights/atomic_write.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {

void write_file_atomically(const std::string& path, const std::function<void(const ByteSink&)>& body) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw UsageError(fmt::format("cannot create '{}': {}", tmp, std::strerror(errno)));
  uint64_t written = 0;
  try {
    body([&](const void* p, size_t n) {
      if (n != 0 && std::fwrite(p, 1, n, f) != n)
        throw DeviceError(fmt::format("writing '{}' failed at byte {}", tmp, written));
      written += n;
    });
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  // errno is read before remove() can change it.
  if (std::fclose(f) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw DeviceError(fmt::format("closing '{}' failed: {}", tmp, std::strerror(err)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw DeviceError(fmt::format("cannot rename '{}' to '{}': {}", tmp, path, std::strerror(err)));
  }
}

}  // namespace bitlab
