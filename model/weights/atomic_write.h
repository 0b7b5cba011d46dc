// Every file the lab writes (exported weights, result documents, reports)
// appears whole or not at all: a reader, a second writer, a full disk or a
// signal never leaves a half-written file under the name a reader opens, and
// never destroys the file that was there before.
//
// The protocol (the report command, in Python, follows the same steps):
//  1. Refuse a target that exists and is not a regular file (device node,
//     FIFO, socket, directory, or a symlink to one) with a UsageError, before
//     anything is created. A symlink to a regular file is written through: the
//     file it names is replaced and the link stays.
//  2. Create a temporary in the target's folder (same file system, so the
//     rename below is atomic) named ".<name>.<16 random hex digits>.tmp",
//     with O_CREAT|O_EXCL, and set its mode to 0666 & ~umask, as an ordinary
//     new file gets. Each writer has its own temporary, so two concurrent
//     writers never share bytes.
//  3. Write all bytes, retrying short writes and EINTR; fsync, then close,
//     checking each. Any failure is a DeviceError (exit 1).
//  4. Check the target again (step 1), rename the temporary over it, then
//     fsync the folder so the new name survives a crash.
//  5. On any failure before the rename the temporary is removed and the old
//     file is left byte-identical. SIGINT, SIGTERM and SIGHUP (when their
//     action is the default) remove every live temporary of the process and
//     then end it with the signal's default action.
// Two concurrent writers to one path leave one complete file: the one whose
// rename came last.
//
// Files that belong together (model.safetensors + config.json) are written
// with write_files_atomically: every temporary is written and synced before
// the first rename, so a failure while writing leaves the old set intact. The
// renames run one after another under an exclusive flock on the folder (so two
// cooperating writers cannot interleave their sets), and a signal waits until
// they are done. Only a crash or power loss between two renames (microseconds)
// can leave a mixed set; the weights are renamed first and config.json last.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bitlab {

// Takes the bytes of the file, in order.
using ByteSink = std::function<void(const void* data, size_t n)>;
// Writes a whole file through the sink it is given.
using FileBody = std::function<void(const ByteSink&)>;

// Throws UsageError naming `path` if it exists and is not a regular file
// (following symlinks). Commands call it before long work to fail early.
void refuse_non_regular_target(const std::string& path);

// One file being written: steps 1-2 in the constructor, 3 in write() and
// finish(), 4 in install(). Destroying it before install() removes the
// temporary.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  ByteSink sink();
  // Flushes, fsyncs and closes the temporary (step 3). After any failed
  // write it throws: a file missing bytes is never installed.
  void finish();
  // Renames the finished temporary over the target and syncs the folder (step 4).
  void install();

  const std::string& path() const { return path_; }          // the target as given
  const std::string& target() const { return target_; }      // where the rename goes (symlinks resolved)
  const std::string& temp_path() const { return temp_; }     // the temporary

 private:
  void flush();
  void discard() noexcept;
  std::string path_;    // as given, for messages
  std::string target_;  // where the rename goes (symlinks resolved)
  std::string temp_;
  int fd_ = -1;
  int slot_ = -1;  // in the signal cleanup registry
  bool installed_ = false;
  bool broken_ = false;  // a write, flush or sync failed: never install
  std::vector<char> buffer_;
  size_t buffered_ = 0;
  unsigned long long written_ = 0;
};

// Runs `body`, which writes the whole file through the sink it is given, and
// installs the result at `path`. On any failure, exceptions from `body`
// included, the temporary is removed, `path` is untouched and the exception
// passed on.
void write_file_atomically(const std::string& path, const FileBody& body);

// The same for a small text output (JSON, markdown).
void write_text_atomically(const std::string& path, std::string_view text);

// Several files that belong together; see the header comment.
struct PendingFile {
  std::string path;
  FileBody body;
};
void write_files_atomically(const std::vector<PendingFile>& files);

}  // namespace bitlab
