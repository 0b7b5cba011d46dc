// libFuzzer target: a whole Hugging Face checkpoint through load_hf_model.
// The input is split at kSplit into config.json, the safetensors bytes and,
// when a third part is there, a model.safetensors.index.json (the safetensors
// bytes are then the shard "shard.safetensors"); the parts are written to a
// directory of this process and loaded from there, as the CLI would. Only an
// InputError (or a UsageError for a directory that lacks a file) may come out.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "model/error.h"
#include "model/weights/hf_model.h"

namespace {

constexpr std::string_view kSplit = "\n#bitlab-part#\n";

void write(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
}

const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    const auto d = std::filesystem::temp_directory_path() / ("bitlab_fuzz_hf_" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitlab;
  namespace fs = std::filesystem;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t a = in.find(kSplit);
  if (a == std::string_view::npos) return 0;
  const std::string_view config = in.substr(0, a), rest = in.substr(a + kSplit.size());
  const size_t b = rest.find(kSplit);
  const std::string_view tensors = rest.substr(0, b);
  const fs::path& dir = work_dir();
  for (const char* f : {"model.safetensors", "shard.safetensors", "model.safetensors.index.json"})
    fs::remove(dir / f);
  write(dir / "config.json", config);
  if (b == std::string_view::npos) {
    write(dir / "model.safetensors", tensors);
  } else {
    write(dir / "shard.safetensors", tensors);
    write(dir / "model.safetensors.index.json", rest.substr(b + kSplit.size()));
  }
  try {
    (void)hf_model_config(dir.string());
    const ModelWeights w = load_hf_model(dir.string());
    w.validate();
  } catch (const InputError&) {
  } catch (const UsageError&) {  // e.g. an index that names no file
  }
  return 0;
}
