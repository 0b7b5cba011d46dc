#include "harness/peers/peer_model_cache.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "harness/progress.h"
#include "model/error.h"
#include "model/weights/digest.h"
#include "model/weights/gguf_export.h"
#include "model/weights/mapped_file.h"

namespace bitlab::peers {

std::string default_peer_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0')
    return std::string(x) + "/bitlab/peers";
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return std::string(h) + "/.cache/bitlab/peers";
  return "results/peer-cache";
}

namespace {

uint64_t file_digest(const std::string& path) {
  const auto f = MappedFile::open(path);
  const std::vector<uint8_t> bytes = f->copy(0, f->size());
  Digest d;
  d.add(std::as_bytes(std::span(bytes)));
  return d.value();
}

}  // namespace

std::string peer_model(const ModelWeights& w, const std::string& format, const std::string& vocab,
                       const std::string& cache_dir) {
  const std::string tag = vocab.empty() ? "" : fmt::format("-vocab-{:016x}", file_digest(vocab));
  std::string path = fmt::format("{}/{}-{:016x}-{}{}.gguf", cache_dir, w.config.name, w.digest(), format, tag);
  if (std::filesystem::is_regular_file(path)) return path;
  std::error_code ec;
  std::filesystem::create_directories(cache_dir, ec);
  if (ec) throw InputError(fmt::format("peer model cache '{}': {}", cache_dir, ec.message()));
  std::unique_ptr<GgufFile> v;
  if (!vocab.empty()) v = std::make_unique<GgufFile>(open_gguf(vocab));
  cli::Progress p("export " + format);
  p.update(0, "writing " + path);
  const std::string part = fmt::format("{}.part{}", path, getpid());
  export_gguf(w, format, part, v.get());
  std::filesystem::rename(part, path, ec);
  if (ec) throw InputError(fmt::format("peer model cache: renaming '{}': {}", part, ec.message()));
  p.done(path);
  return path;
}

}  // namespace bitlab::peers
