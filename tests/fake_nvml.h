// A stand-in for libnvidia-ml.so.1 (tests/fake_nvml.cpp, built as a loadable
// module): the NVML entry points bitlab's meter uses, answering from this
// state, which a test sets through fake_nvml_state() after dlopen-ing the same
// file. Lets the NVML meter run on machines without an NVIDIA GPU.
#pragma once
#include <atomic>

struct FakeNvmlState {
  std::atomic<int> init_result{0};  // nvmlReturn_t of nvmlInit_v2 (9: driver not loaded)
  std::atomic<unsigned> device_count{1};
  std::atomic<int> energy_result{0};  // 3: not supported (a GPU before Volta)
  std::atomic<unsigned long long> energy_mj{0};
  std::atomic<unsigned> power_mw{0};
  std::atomic<int> init_calls{0}, shutdown_calls{0};
};

extern "C" FakeNvmlState* fake_nvml_state();
using FakeNvmlStateFn = FakeNvmlState* (*)();
