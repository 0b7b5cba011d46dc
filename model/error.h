// Errors are exceptions carrying a message that names what is wrong; the CLI
// catches them once, prints one line and exits non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace bitlab {

// The user asked for something that cannot be: unknown backend or model, bad
// number, wrong shape. The CLI exits with code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The input exists but is broken: a corrupt or truncated file, a bad tensor.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The machine cannot do it: a missing device, a failed allocation.
struct DeviceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace bitlab
