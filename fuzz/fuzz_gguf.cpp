// libFuzzer target: GGUF bytes -> parse_gguf; whatever parses then goes
// through the BitNet model loader and the tokenizer. The only acceptable
// failure is an InputError; anything else (a crash, a sanitizer report, another
// exception, a hang or a huge allocation) is a finding.
#include <cstdint>

#include "model/error.h"
#include "model/tokenizer.h"
#include "model/weights/gguf.h"
#include "model/weights/gguf_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitlab;
  try {
    const GgufFile g = parse_gguf({data, size}, "fuzz.gguf");
    volatile uint8_t sink = 0;
    for (const GgufTensor& t : g.tensors)  // every claimed tensor lies inside the input
      if (t.nbytes > 0) {
        const std::vector<uint8_t> bytes = g.read(t);
        sink = uint8_t(sink + bytes.front() + bytes.back());
      }
    try {
      const ModelWeights w = load_gguf_model(g);
      w.validate();
    } catch (const InputError&) {
    }
    try {
      const Tokenizer tok = Tokenizer::from_gguf(g);
      const std::vector<int32_t> ids = tok.encode("Hello, y'all! 1234 <|eot_id|> \xc2\xbd\xff", false, true);
      (void)tok.decode(ids);
    } catch (const InputError&) {
    }
  } catch (const InputError&) {
  }
  return 0;
}
