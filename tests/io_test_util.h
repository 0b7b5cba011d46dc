// Helpers for the checkpoint and tokenizer tests: byte-by-byte file builders
// (independent of the project's writers, so the readers are tested on bytes
// laid out by hand), temporary paths, and the shared Llama-3 vocabulary.
#pragma once
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <string>
#include <vector>

#include "model/error.h"
#include "tests/paths.h"

namespace bitlab::test {

struct Bytes {
  std::vector<uint8_t> b;
  template <class T>
  Bytes& put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    for (uint8_t x : tmp) b.push_back(x);
    return *this;
  }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& raw(const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& str(const std::string& s) { return u64(s.size()).raw(s); }  // GGUF string
  Bytes& pad_to(size_t al) {
    while (b.size() % al) b.push_back(0);
    return *this;
  }
  std::span<const uint8_t> span() const { return b; }
};

// Expects `f` to throw InputError whose message contains every one of `parts`.
inline void expect_input_error(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no InputError thrown";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

// Runs `f`, which must throw a UsageError naming `path` as not a regular file,
// on a thread: if it blocks on the FIFO at `path` the test fails (and opening
// the FIFO's other end lets the thread finish) instead of hanging.
inline void expect_fifo_refused(const std::string& path, const std::function<void()>& f) {
  auto result = std::async(std::launch::async, [&]() -> std::string {
    try {
      f();
      return "no error";
    } catch (const UsageError& e) {
      return e.what();
    } catch (const std::exception& e) {
      return std::string("wrong error type: ") + e.what();
    }
  });
  if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ADD_FAILURE() << "reading the FIFO '" << path << "' blocked";
    const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  const std::string msg = result.get();
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("is not a regular file"), std::string::npos) << msg;
}

// A path in a directory of the test temp dir that is unique to this process
// and removed when the process exits.
inline std::string temp_path(const std::string& name) {
  struct Dir {
    std::filesystem::path path =
        std::filesystem::path(::testing::TempDir()) / ("bitlab_io_" + std::to_string(getpid()));
    Dir() { std::filesystem::create_directories(path); }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return (dir.path / name).string();
}

inline void write_file(const std::string& path, std::span<const uint8_t> bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  }
  std::fclose(f);
}

// The whole file as bytes ("" when it cannot be read).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ../shared/data/llama3-vocab beside the checkout, or "" when it is absent.
inline std::string llama3_vocab_dir() {
  const std::string dir = std::string(BITLAB_SOURCE_DIR) + "/../shared/data/llama3-vocab";
  return std::filesystem::exists(dir + "/ggml-vocab-llama-bpe.gguf") ? dir : std::string();
}

#define BITLAB_NEED_VOCAB(dir)                                                                      \
  const std::string dir = ::bitlab::test::llama3_vocab_dir();                                       \
  if (dir.empty())                                                                                  \
  GTEST_SKIP() << "the Llama-3 vocabulary is absent: expected ../shared/data/llama3-vocab/ beside " \
                  "the source tree (" BITLAB_SOURCE_DIR ")"

}  // namespace bitlab::test
