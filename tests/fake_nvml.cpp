// The fake NVML library: see fake_nvml.h. Return codes follow NVML's
// (0 success, 1 uninitialised, 2 invalid argument, 3 not supported, 9 driver not loaded).
#include "tests/fake_nvml.h"

#include <cstdio>

namespace {
FakeNvmlState state;
struct FakeDevice {
  unsigned index;
};
FakeDevice devices[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
int initialised = 0;
}  // namespace

// Device handles are void* here, as harness/energy/nvml.cpp declares them: a
// call through a pointer of another function type is undefined behaviour
// (clang's -fsanitize=function reports it).
extern "C" {

FakeNvmlState* fake_nvml_state() { return &state; }

int nvmlInit_v2() {
  ++state.init_calls;
  const int r = state.init_result.load();
  if (r == 0) ++initialised;
  return r;
}

int nvmlShutdown() {
  ++state.shutdown_calls;
  if (initialised == 0) return 1;
  --initialised;
  return 0;
}

const char* nvmlErrorString(int r) {
  switch (r) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 9: return "Driver Not Loaded";
    default: return "Unknown Error";
  }
}

int nvmlDeviceGetCount_v2(unsigned* count) {
  if (!initialised) return 1;
  *count = state.device_count.load();
  return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** device) {
  if (!initialised) return 1;
  if (index >= state.device_count.load() || index >= 8) return 2;
  *device = &devices[index];
  return 0;
}

int nvmlDeviceGetName(void* device, char* name, unsigned length) {
  std::snprintf(name, length, "Fake GPU %u", static_cast<FakeDevice*>(device)->index);
  return 0;
}

int nvmlDeviceGetTotalEnergyConsumption(void*, unsigned long long* mj) {
  if (const int r = state.energy_result.load(); r != 0) return r;
  *mj = state.energy_mj.load();
  return 0;
}

int nvmlDeviceGetPowerUsage(void*, unsigned* mw) {
  *mw = state.power_mw.load();
  return 0;
}

}  // extern "C"
