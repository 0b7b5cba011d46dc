// libFuzzer target: the files another engine's logits and token ids come in
// through (`bitlab check --against`, `score`, `--prompt-ids-file`). The first
// input byte picks the reader, the rest is the file:
//   0  a .npy matrix (read_npy_matrix), its expected shape from the next two
//      bytes (rows 1..8, columns 1..16)
//   1  a llama-perplexity --kl-divergence-base file (LlamaLogitsFile), for a
//      model of 8 tokens and 64 positions, every row decoded
//   2  a token id list (parse_ids and read_ids_file), vocabulary 1000
// Every input is read or refused with an InputError or UsageError; anything
// else (another exception, a crash, a hang, a huge allocation) is a finding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness/ids_file.h"
#include "harness/llama_logits.h"
#include "harness/npy.h"
#include "model/error.h"

namespace {

// The bytes as a file with a path, in memory (a memfd), so each input is read
// through the same MappedFile path a real file takes.
struct MemFile {
  int fd = -1;
  std::string path;
  MemFile(const uint8_t* data, size_t size) {
    fd = memfd_create("fuzz", 0);
    if (fd < 0) __builtin_trap();
    for (size_t done = 0; done < size;) {
      const ssize_t n = write(fd, data + done, size - done);
      if (n <= 0) __builtin_trap();
      done += size_t(n);
    }
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  ~MemFile() { close(fd); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
};

void read_npy(const uint8_t* data, size_t size) {
  if (size < 2) return;
  const int64_t rows = 1 + data[0] % 8, cols = 1 + data[1] % 16;
  const MemFile f(data + 2, size - 2);
  const bitlab::NpyMatrix m = bitlab::read_npy_matrix(f.path, rows, cols);
  if (m.rows != rows || m.cols != cols || m.data.size() != size_t(rows * cols)) __builtin_trap();
}

void read_llama(const uint8_t* data, size_t size) {
  const MemFile f(data, size);
  const bitlab::LlamaLogitsFile file(bitlab::MappedFile::open(f.path), 8, 64);
  if (file.ids().size() != size_t(file.n_ctx() * file.n_chunk())) __builtin_trap();
  std::vector<float> row(8);
  for (int64_t k = 0; k < file.rows(); ++k) file.row(k, row.data());
}

void read_ids(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<int32_t> a;
  try {
    a = bitlab::cli::parse_ids(text, "fuzz", 1000, bitlab::cli::IdsSource::File);
  } catch (const bitlab::InputError&) {
  }
  const MemFile f(data, size);
  std::vector<int32_t> b;
  try {
    b = bitlab::cli::read_ids_file(f.path, 1000);
  } catch (const bitlab::InputError&) {
  }
  if (a != b) __builtin_trap();  // the file and the text read alike
  for (int32_t id : a)
    if (id < 0 || id >= 1000) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  try {
    switch (data[0] % 3) {
      case 0: read_npy(data + 1, size - 1); break;
      case 1: read_llama(data + 1, size - 1); break;
      default: read_ids(data + 1, size - 1); break;
    }
  } catch (const bitlab::InputError&) {
  } catch (const bitlab::UsageError&) {
  }
  return 0;
}
