// Writes a file whole or not at all, so a failed export never leaves a
// half-written file under the name a reader would open: the bytes go to
// `path`.tmp, which replaces `path` only once all of them are written and the
// file is closed.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace bitlab {

// Takes the bytes of the file, in order.
using ByteSink = std::function<void(const void* data, size_t n)>;

// Runs `body`, which writes the whole file through the sink it is given, then
// renames the temporary to `path`. A temporary that cannot be created is a
// UsageError; a failed write, close or rename is a DeviceError. On any failure,
// exceptions from `body` included, the temporary is removed and the exception
// passed on.
void write_file_atomically(const std::string& path, const std::function<void(const ByteSink&)>& body);

}  // namespace bitlab
