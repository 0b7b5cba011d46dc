// Known bugs of BitNet implementations, planted into a working backend so the
// checks can be shown to catch them: `bitlab check --plant NAME` and
// tests/test_trace.cpp. Each is a ForwardingBackend that changes one op in ONE
// decoder layer and forwards everything else, so the end-to-end logits must
// fail and the trace (harness/trace.h) must name that layer and op.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/backend.h"

namespace bitlab {

struct PlantedBug {
  std::string name;  // --plant NAME
  std::string op;    // the op (trace name) it breaks, e.g. "relu2_mul_rmsnorm_quant/ffn_sub_norm"
  std::string what;  // one line: the bug
};

const std::vector<PlantedBug>& planted_bugs();
// `inner` with bug `name` planted in decoder layer `layer` (other layers run
// as `inner` does). An unknown name is a UsageError listing the known ones.
std::unique_ptr<Backend> plant_bug(const std::string& name, std::unique_ptr<Backend> inner, int64_t layer);

}  // namespace bitlab
