#include "model/weights/atomic_write.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/random.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <set>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {
namespace fs = std::filesystem;
namespace {

// ---- Temporaries a signal must remove ---------------------------------------
// A fixed table, so the handler touches only static memory and lock-free
// atomics (async-signal-safe). A slot is claimed (kFilling) by one thread, its
// path copied in, then published (kLive); the handler only reads kLive slots.
// The handler may run on any thread: it unlinks every live temporary of the
// process, so which thread gets the signal does not matter.
enum SlotState : int { kFree = 0, kFilling = 1, kLive = 2 };
struct Slot {
  std::atomic<int> state{kFree};
  char path[PATH_MAX];
};
static_assert(std::atomic<int>::is_always_lock_free);
constexpr int kSlots = 64;
Slot g_slots[kSlots];

// Sets of files being renamed (write_files_atomically). A signal waits for
// them, briefly, so it cannot split a set: the renaming thread blocks the
// signals meanwhile, so the handler never runs on it and the wait never
// deadlocks.
std::atomic<int> g_renaming_sets{0};

extern "C" void remove_temporaries_and_die(int sig) {
  const timespec ms{0, 1000 * 1000};
  for (int i = 0; i < 2000 && g_renaming_sets.load(std::memory_order_acquire) > 0; ++i) ::nanosleep(&ms, nullptr);
  for (Slot& s : g_slots)
    if (s.state.load(std::memory_order_acquire) == kLive) ::unlink(s.path);
  // The default action ends the process once the handler returns (the signal
  // is blocked until then), with the status a shell expects of that signal.
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Installed once, and only where the action is still the default: a signal
// the user ignores (nohup) stays ignored, a handler someone else set stays.
void install_signal_cleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old {};
      if (::sigaction(sig, nullptr, &old) != 0) continue;
      if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) continue;
      struct sigaction sa {};
      sa.sa_handler = remove_temporaries_and_die;
      sigemptyset(&sa.sa_mask);
      for (int other : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&sa.sa_mask, other);
      ::sigaction(sig, &sa, nullptr);
    }
  });
}

int claim_slot(const std::string& path) {
  if (path.size() >= PATH_MAX) throw UsageError(fmt::format("path too long: '{}'", path));
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (!g_slots[i].state.compare_exchange_strong(expected, kFilling, std::memory_order_acq_rel)) continue;
    std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
    g_slots[i].state.store(kLive, std::memory_order_release);
    return i;
  }
  throw DeviceError(fmt::format("cannot write '{}': more than {} files are being written at once", path, kSlots));
}

void release_slot(int i) {
  if (i >= 0) g_slots[i].state.store(kFree, std::memory_order_release);
}

// ---- Names and checks --------------------------------------------------------

std::string random_hex() {
  uint64_t r = 0;
  if (::getrandom(&r, sizeof r, 0) != ssize_t(sizeof r)) {
    static thread_local std::mt19937_64 gen{std::random_device{}() ^ uint64_t(::getpid())};
    r = gen();
  }
  return fmt::format("{:016x}", r);
}

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

bool usage_errno(int e) {
  return e == ENOENT || e == ENOTDIR || e == EACCES || e == EPERM || e == EROFS || e == ENAMETOOLONG ||
         e == ELOOP || e == EISDIR;
}

// Where the bytes go: the path itself, or the file a chain of symlinks ends
// at, existing or not, as the shell's `>` does (a dangling link gets its target
// created; the link stays). A chain longer than the kernel's own limit (40) is
// a loop, refused as open() would refuse it.
std::string resolve_target(const std::string& path) {
  fs::path p = path;
  for (int hops = 0;; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p.string();
    if (hops == 40) throw UsageError(fmt::format("cannot write '{}': too many levels of symbolic links", path));
    std::error_code ec;
    const fs::path next = fs::read_symlink(p, ec);
    if (ec)
      throw UsageError(fmt::format("cannot write '{}': reading the link '{}': {}", path, p.string(), ec.message()));
    p = next.is_absolute() ? next : p.parent_path() / next;
  }
}

std::string folder_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

void write_all(int fd, const char* p, size_t n, const std::string& what, unsigned long long& written) {
  while (n > 0) {
    const ssize_t r = ::write(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw DeviceError(fmt::format("writing '{}' failed at byte {}: {}", what, written, std::strerror(errno)));
    }
    if (r == 0) throw DeviceError(fmt::format("writing '{}' failed at byte {}: no progress", what, written));
    p += r;
    n -= size_t(r);
    written += uint64_t(r);
  }
}

// fsync of the folder, so the rename survives a crash. File systems that
// cannot sync a folder (EINVAL) have nothing to sync.
void sync_folder(const std::string& dir, const std::string& what) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw DeviceError(fmt::format("wrote '{}' but cannot open its folder to sync it: {}", what, std::strerror(errno)));
  int r;
  do r = ::fsync(fd);
  while (r != 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (r != 0 && err != EINVAL && err != EROFS)
    throw DeviceError(fmt::format("wrote '{}' but syncing its folder failed: {}", what, std::strerror(err)));
}

// An exclusive flock on a folder for the duration of a set of renames.
class FolderLock {
 public:
  explicit FolderLock(const std::string& dir) {
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) return;  // the renames still happen; only their grouping is lost
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

// While alive: this thread does not take SIGINT/SIGTERM/SIGHUP, and a handler
// on another thread waits for the renames to end.
class RenamingSet {
 public:
  RenamingSet() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
    ::pthread_sigmask(SIG_BLOCK, &set, &old_);
    g_renaming_sets.fetch_add(1, std::memory_order_acq_rel);
  }
  ~RenamingSet() {
    g_renaming_sets.fetch_sub(1, std::memory_order_acq_rel);
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);  // a pending signal is delivered here
  }
  RenamingSet(const RenamingSet&) = delete;
  RenamingSet& operator=(const RenamingSet&) = delete;

 private:
  sigset_t old_{};
};

constexpr size_t kBufferBytes = size_t(1) << 20;

}  // namespace

void refuse_non_regular_target(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // absent (or a dangling link): created
  if (!S_ISREG(st.st_mode))
    throw UsageError(fmt::format("refusing to write '{}': it exists and is {}, not a regular file", path,
                                 kind_of(st.st_mode)));
}

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  refuse_non_regular_target(path_);
  install_signal_cleanup();
  target_ = resolve_target(path_);
  const std::string dir = folder_of(target_);
  std::string name = fs::path(target_).filename().string();
  if (name.size() > 200) name.resize(200);  // the temporary's name must fit NAME_MAX
  buffer_.resize(kBufferBytes);  // before open(): nothing may throw once the temporary exists
  for (int attempt = 0;; ++attempt) {
    temp_ = fs::absolute(fs::path(dir) / ("." + name + "." + random_hex() + ".tmp")).string();
    // Registered before it exists: a signal between open() and registration
    // would otherwise leave it behind. Unlinking a name not yet created is harmless.
    slot_ = claim_slot(temp_);
    // 0666: the kernel applies the umask (and a default ACL), as for any new file.
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) break;
    const int err = errno;
    release_slot(slot_);
    slot_ = -1;
    if (err == EEXIST && attempt < 100) continue;
    const std::string msg =
        fmt::format("cannot create a file in '{}' to write '{}': {}", dir, path_, std::strerror(err));
    if (usage_errno(err)) throw UsageError(msg);
    throw DeviceError(msg);
  }
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!installed_ && !temp_.empty()) ::unlink(temp_.c_str());
  release_slot(slot_);  // after the unlink: a signal in between only unlinks a missing name
  slot_ = -1;
}

void AtomicFile::write(const void* data, size_t n) {
  if (fd_ < 0) throw DeviceError(fmt::format("writing '{}' after it was finished", path_));
  const char* p = static_cast<const char*>(data);
  try {
    if (buffered_ + n > buffer_.size()) flush();
    if (n >= buffer_.size()) {
      write_all(fd_, p, n, path_, written_);
      return;
    }
  } catch (...) {
    broken_ = true;  // bytes are missing: the temporary must never be installed
    throw;
  }
  std::memcpy(buffer_.data() + buffered_, p, n);
  buffered_ += n;
}

ByteSink AtomicFile::sink() {
  return [this](const void* p, size_t n) {
    if (n != 0) write(p, n);
  };
}

void AtomicFile::flush() {
  const size_t n = buffered_;
  buffered_ = 0;
  write_all(fd_, buffer_.data(), n, path_, written_);
}

void AtomicFile::finish() {
  if (broken_) throw DeviceError(fmt::format("'{}' was not written completely", path_));
  if (fd_ < 0) return;
  broken_ = true;  // until every step below has succeeded
  flush();
  int r;
  do r = ::fsync(fd_);
  while (r != 0 && errno == EINTR);
  if (r != 0) throw DeviceError(fmt::format("writing '{}' failed: fsync: {}", path_, std::strerror(errno)));
  // EINTR from close() comes after a successful fsync: the data is on disk and
  // Linux has released the descriptor, so only other errors count.
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0 && errno != EINTR)
    throw DeviceError(fmt::format("writing '{}' failed: close: {}", path_, std::strerror(errno)));
  std::vector<char>().swap(buffer_);
  broken_ = false;
}

void AtomicFile::install() {
  finish();
  refuse_non_regular_target(target_);  // it may have appeared while the file was written
  if (::rename(temp_.c_str(), target_.c_str()) != 0)
    throw DeviceError(fmt::format("cannot rename '{}' to '{}': {}", temp_, target_, std::strerror(errno)));
  installed_ = true;
  release_slot(slot_);  // after the rename: a signal in between unlinks a name that is gone
  slot_ = -1;
  sync_folder(folder_of(target_), path_);
}

void write_file_atomically(const std::string& path, const FileBody& body) {
  AtomicFile f(path);
  body(f.sink());
  f.install();
}

void write_text_atomically(const std::string& path, std::string_view text) {
  AtomicFile f(path);
  f.write(text.data(), text.size());
  f.install();
}

void write_files_atomically(const std::vector<PendingFile>& files) {
  for (const PendingFile& pf : files) refuse_non_regular_target(pf.path);  // before any is created
  std::vector<std::unique_ptr<AtomicFile>> open;
  for (const PendingFile& pf : files) {
    open.push_back(std::make_unique<AtomicFile>(pf.path));
    pf.body(open.back()->sink());
  }
  for (auto& f : open) f->finish();
  std::set<std::string> folders;  // locked in sorted order, so two sets never deadlock
  for (const auto& f : open) folders.insert(fs::absolute(folder_of(f->target())).string());
  std::vector<std::unique_ptr<FolderLock>> locks;
  for (const std::string& d : folders) locks.push_back(std::make_unique<FolderLock>(d));
  const RenamingSet renaming;
  for (auto& f : open) f->install();
}

}  // namespace bitlab
