// NVIDIA GPU energy through NVML, loaded at run time with dlopen (no link-time
// dependency: the binary runs, and says why, on machines without the driver).
//
// Preferred: the device's total-energy counter (nvmlDeviceGetTotalEnergyConsumption,
// millijoules since the driver loaded; Volta and newer). It advances about every
// 100 ms, so the meter waits for the counter's next step at both ends of a
// window (the window then spans whole updates) and asks for windows of at least
// 2 s. Where the counter is unsupported: power samples (nvmlDeviceGetPowerUsage,
// milliwatts) every 20 ms on a thread, integrated with the trapezoid rule.
// BITLAB_NVML_LIBRARY overrides the library path (tests load a fake one).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harness/energy/meter.h"

namespace bitlab {

// BITLAB_NVML_LIBRARY if set, else libnvidia-ml.so.1 (the driver's soname).
std::string default_nvml_library();

// The loaded and initialised library. Throws DeviceError naming why it is not
// usable: not found, not NVML (a symbol missing), nvmlInit failed.
class NvmlLibrary {
 public:
  explicit NvmlLibrary(const std::string& path = default_nvml_library());
  ~NvmlLibrary();
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;

  unsigned device_count() const;
  std::string device_name(unsigned index) const;
  // Millijoules since the driver loaded; nullopt where the device has no counter.
  std::optional<uint64_t> total_energy_mj(unsigned index) const;
  double power_watts(unsigned index) const;

 private:
  struct Api;
  void* device(unsigned index) const;
  void check(int status, const char* what) const;
  void* dl_ = nullptr;
  std::unique_ptr<Api> api_;
  std::vector<void*> devices_;  // handles by index, taken at load
};

class NvmlMeter : public EnergyMeter {
 public:
  enum class Method { Automatic, Counter, PowerSamples };
  struct Options {
    unsigned device = 0;
    Method method = Method::Automatic;  // Automatic: the counter where supported
    double update_wait_s = 0.25;        // longest wait for the counter's next step at each end (0: none)
    double sample_interval_s = 0.02;    // power samples
  };
  // Throws DeviceError: no such device, or (Method::Counter) no counter on it.
  NvmlMeter(std::shared_ptr<const NvmlLibrary> lib, Options o);
  ~NvmlMeter() override;

  std::string source() const override { return "nvml"; }
  double min_window_seconds() const override { return 2.0; }
  void start() override;
  EnergyReading stop() override;

  bool uses_counter() const { return use_counter_; }
  const std::string& device_name() const { return name_; }

 private:
  using clock = std::chrono::steady_clock;
  // Reads the counter, then (update_wait_s > 0) waits for it to step: the value and when.
  std::pair<uint64_t, clock::time_point> counter_step() const;
  void sample_loop();

  std::shared_ptr<const NvmlLibrary> lib_;
  Options o_;
  bool use_counter_ = false;
  std::string name_;
  bool running_ = false;
  // counter
  uint64_t start_mj_ = 0;
  clock::time_point start_at_;
  // power samples: (seconds since start, watts)
  std::vector<std::pair<double, double>> samples_;
  std::thread sampler_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_sampling_ = false;
  std::exception_ptr sample_error_;
};

// Trapezoid integral of (time s, watts) samples in time order, in joules.
double integrate_power(const std::vector<std::pair<double, double>>& samples);

}  // namespace bitlab
