// A known slowdown planted into a working backend, to show that
// `bitlab compare --ab` catches a regression of a given size: the hidden
// `bitlab bench --plant-slowdown OP:FRACTION` (e.g. matmul_w2a8:0.10 makes
// every ternary matmul 10 % slower). Each matching call is timed and followed
// by a busy wait of FRACTION × its elapsed time, so the slowdown scales with
// the call as a slower kernel would, on whatever machine it runs. The results
// stay exact: only time is added.
//
// The backend's variant and kernel names gain "+planted-slowdown" so a result file measured
// with it cannot pass for the real backend's.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/backend.h"

namespace bitlab {

// The OP names --plant-slowdown accepts: the backend ops, and "gemv" for the
// matmul_w2a8 calls with one token (decode's matrix-vector products).
const std::vector<std::string>& slowdown_ops();

// `inner` slowed as `spec` ("OP:FRACTION", FRACTION in (0, 10]) says; an empty
// spec returns `inner` unchanged. A malformed spec or unknown OP is a
// UsageError naming the option.
std::unique_ptr<Backend> plant_slowdown(const std::string& spec, std::unique_ptr<Backend> inner);

}  // namespace bitlab
