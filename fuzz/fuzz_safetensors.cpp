// libFuzzer target: safetensors bytes -> parse_safetensors, and the same bytes
// as config.json text -> parse_hf_config. Only InputError may come out.
#include <cstdint>
#include <string_view>

#include "model/error.h"
#include "model/weights/hf_model.h"
#include "model/weights/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitlab;
  try {
    const SafetensorsFile f = parse_safetensors({data, size}, "fuzz.safetensors");
    volatile uint8_t sink = 0;
    for (const SafetensorsTensor& t : f.tensors)  // every claimed tensor lies inside the input
      if (t.nbytes > 0) {
        const std::vector<uint8_t> bytes = f.read(t);
        sink = uint8_t(sink + bytes.front() + bytes.back());
      }
  } catch (const InputError&) {
  }
  try {
    (void)parse_hf_config(std::string_view(reinterpret_cast<const char*>(data), size), "config.json");
  } catch (const InputError&) {
  }
  return 0;
}
