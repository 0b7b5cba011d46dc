#include "harness/energy/nvml.h"

#include <dlfcn.h>

#include <cstdlib>
#include <type_traits>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {
namespace {

// NVML's C types, declared here from its documented ABI: nvmlReturn_t is an
// int enum (0 = success, 3 = not supported), devices are opaque pointers.
using NvmlReturn = int;
using NvmlDevice = void*;
constexpr NvmlReturn kNvmlSuccess = 0;
constexpr NvmlReturn kNvmlNotSupported = 3;

}  // namespace

struct NvmlLibrary::Api {
  NvmlReturn (*init)();
  NvmlReturn (*shutdown)();
  const char* (*error_string)(NvmlReturn);
  NvmlReturn (*device_count)(unsigned*);
  NvmlReturn (*device_by_index)(unsigned, NvmlDevice*);
  NvmlReturn (*device_name)(NvmlDevice, char*, unsigned);
  NvmlReturn (*total_energy)(NvmlDevice, unsigned long long*);
  NvmlReturn (*power_usage)(NvmlDevice, unsigned*);
};

std::string default_nvml_library() {
  const char* env = std::getenv("BITLAB_NVML_LIBRARY");
  return env && *env ? env : "libnvidia-ml.so.1";
}

NvmlLibrary::NvmlLibrary(const std::string& path) : api_(std::make_unique<Api>()) {
  dl_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!dl_) {
    const char* why = dlerror();
    throw DeviceError(fmt::format("{} not loadable (no NVIDIA driver here?): {}", path, why ? why : "unknown"));
  }
  auto sym = [&](auto& fn, const char* name) {
    dlerror();
    void* p = dlsym(dl_, name);
    if (!p) {
      dlclose(dl_);
      dl_ = nullptr;
      throw DeviceError(fmt::format("{} has no {}: not the NVIDIA management library", path, name));
    }
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
  };
  sym(api_->init, "nvmlInit_v2");
  sym(api_->shutdown, "nvmlShutdown");
  sym(api_->error_string, "nvmlErrorString");
  sym(api_->device_count, "nvmlDeviceGetCount_v2");
  sym(api_->device_by_index, "nvmlDeviceGetHandleByIndex_v2");
  sym(api_->device_name, "nvmlDeviceGetName");
  sym(api_->total_energy, "nvmlDeviceGetTotalEnergyConsumption");
  sym(api_->power_usage, "nvmlDeviceGetPowerUsage");
  if (const NvmlReturn r = api_->init(); r != kNvmlSuccess) {
    const char* msg = api_->error_string(r);
    dlclose(dl_);
    dl_ = nullptr;
    throw DeviceError(fmt::format("nvmlInit failed: {} (error {})", msg ? msg : "?", r));
  }
  // Handles are looked up once: the meters poll the counter every few ms
  // while they wait for it to step, and each lookup is a driver call.
  try {
    unsigned n = 0;
    check(api_->device_count(&n), "device count");
    for (unsigned i = 0; i < n; ++i) {
      NvmlDevice d = nullptr;
      check(api_->device_by_index(i, &d), "device handle");
      devices_.push_back(d);
    }
  } catch (...) {
    api_->shutdown();
    dlclose(dl_);
    dl_ = nullptr;
    throw;
  }
}

NvmlLibrary::~NvmlLibrary() {
  if (!dl_) return;
  api_->shutdown();
  dlclose(dl_);
}

void NvmlLibrary::check(NvmlReturn status, const char* what) const {
  if (status == kNvmlSuccess) return;
  const char* msg = api_->error_string(status);
  throw DeviceError(fmt::format("NVML {}: {} (error {})", what, msg ? msg : "?", status));
}

unsigned NvmlLibrary::device_count() const { return unsigned(devices_.size()); }

void* NvmlLibrary::device(unsigned index) const {
  if (index >= devices_.size())
    throw DeviceError(fmt::format("NVML has no GPU {} ({} present)", index, devices_.size()));
  return devices_[index];
}

std::string NvmlLibrary::device_name(unsigned index) const {
  char name[96] = {};
  check(api_->device_name(device(index), name, sizeof name), "device name");
  return name;
}

std::optional<uint64_t> NvmlLibrary::total_energy_mj(unsigned index) const {
  unsigned long long mj = 0;
  const NvmlReturn r = api_->total_energy(device(index), &mj);
  if (r == kNvmlNotSupported) return std::nullopt;
  check(r, "total energy");
  return uint64_t(mj);
}

double NvmlLibrary::power_watts(unsigned index) const {
  unsigned mw = 0;
  check(api_->power_usage(device(index), &mw), "power usage");
  return double(mw) * 1e-3;
}

double integrate_power(const std::vector<std::pair<double, double>>& samples) {
  double j = 0;
  for (size_t i = 1; i < samples.size(); ++i)
    j += (samples[i].first - samples[i - 1].first) * (samples[i].second + samples[i - 1].second) / 2;
  return j;
}

NvmlMeter::NvmlMeter(std::shared_ptr<const NvmlLibrary> lib, Options o) : lib_(std::move(lib)), o_(o) {
  name_ = lib_->device_name(o_.device);
  const bool has_counter = lib_->total_energy_mj(o_.device).has_value();
  if (o_.method == Method::Counter && !has_counter)
    throw DeviceError(fmt::format("GPU {} ({}) has no total-energy counter (before Volta)", o_.device, name_));
  use_counter_ = has_counter && o_.method != Method::PowerSamples;
}

NvmlMeter::~NvmlMeter() {
  if (sampler_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stop_sampling_ = true;
    }
    cv_.notify_all();
    sampler_.join();
  }
}

std::pair<uint64_t, NvmlMeter::clock::time_point> NvmlMeter::counter_step() const {
  const auto t0 = clock::now();
  const uint64_t first = lib_->total_energy_mj(o_.device).value_or(0);
  const auto deadline = t0 + std::chrono::duration<double>(o_.update_wait_s);
  while (o_.update_wait_s > 0 && clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const uint64_t now = lib_->total_energy_mj(o_.device).value_or(0);
    if (now != first) return {now, clock::now()};
  }
  return {first, t0};  // no step seen: the counter is as fresh as it gets
}

void NvmlMeter::sample_loop() {
  const auto interval = std::chrono::duration<double>(o_.sample_interval_s);
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval, [&] { return stop_sampling_; })) {
    try {
      const double w = lib_->power_watts(o_.device);
      samples_.emplace_back(std::chrono::duration<double>(clock::now() - start_at_).count(), w);
    } catch (...) {
      sample_error_ = std::current_exception();
      return;
    }
  }
}

void NvmlMeter::start() {
  if (running_) throw UsageError("NvmlMeter::start twice");
  running_ = true;
  if (use_counter_) {
    std::tie(start_mj_, start_at_) = counter_step();
    return;
  }
  samples_.clear();
  sample_error_ = nullptr;
  stop_sampling_ = false;
  start_at_ = clock::now();
  samples_.emplace_back(0.0, lib_->power_watts(o_.device));
  sampler_ = std::thread([this] { sample_loop(); });
}

EnergyReading NvmlMeter::stop() {
  if (!running_) throw UsageError("NvmlMeter::stop without start");
  running_ = false;
  EnergyReading r;
  r.source = "nvml";
  const std::string domain = fmt::format("gpu-{}", o_.device);
  if (use_counter_) {
    const auto [end_mj, end_at] = counter_step();
    if (end_mj < start_mj_)
      throw DeviceError(fmt::format("GPU {} energy counter went backwards (driver reloaded?)", o_.device));
    r.method = "GPU total-energy counter";
    r.seconds = std::chrono::duration<double>(end_at - start_at_).count();
    r.joules[domain] = double(end_mj - start_mj_) * 1e-3;
    return r;
  }
  {
    std::lock_guard lock(mu_);
    stop_sampling_ = true;
  }
  cv_.notify_all();
  sampler_.join();
  if (sample_error_) std::rethrow_exception(sample_error_);
  const double end = std::chrono::duration<double>(clock::now() - start_at_).count();
  samples_.emplace_back(end, lib_->power_watts(o_.device));
  r.method = fmt::format("GPU power samples every {:.0f} ms, integrated", o_.sample_interval_s * 1e3);
  r.seconds = end;
  r.joules[domain] = integrate_power(samples_);
  return r;
}

}  // namespace bitlab
