// The NVML meter without an NVIDIA GPU: an absent or wrong library is
// "unavailable" with a reason (never a crash), and the meter's counter and
// power-sample paths run against a fake libnvidia-ml (tests/fake_nvml.cpp).
#include <gtest/gtest.h>
#include <dlfcn.h>
#include <stdlib.h>

#include <chrono>
#include <memory>
#include <thread>

#include "harness/energy/nvml.h"
#include "harness/energy/sensors.h"
#include "harness/energy/session.h"
#include "model/error.h"
#include "tests/fake_nvml.h"
#include "tests/paths.h"

namespace {
using bitlab::DeviceError;
using bitlab::NvmlLibrary;
using bitlab::NvmlMeter;

// The fake's state, reset; the handle stays open so the module is never unloaded under the meter.
FakeNvmlState& fake() {
  static void* handle = dlopen(FAKE_NVML_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw std::runtime_error(std::string("cannot load the fake NVML: ") + dlerror());
  static auto* state = reinterpret_cast<FakeNvmlStateFn>(dlsym(handle, "fake_nvml_state"))();
  return *state;
}

FakeNvmlState& fresh_fake() {
  FakeNvmlState& s = fake();
  s.init_result = 0;
  s.device_count = 1;
  s.energy_result = 0;
  s.energy_mj = 0;
  s.power_mw = 0;
  return s;
}

NvmlMeter::Options quick(NvmlMeter::Method method = NvmlMeter::Method::Automatic) {
  NvmlMeter::Options o;
  o.method = method;
  o.update_wait_s = 0;
  o.sample_interval_s = 0.005;
  return o;
}

TEST(NvmlAbsent, MissingLibraryIsUnavailableWithAReason) {
  const std::string path = "/nonexistent/libnvidia-ml.so.1";
  const bitlab::SensorStatus s = bitlab::probe_nvml(path);
  EXPECT_EQ(s.name, "nvml");
  EXPECT_FALSE(s.available);
  EXPECT_NE(s.reason.find(path), std::string::npos) << s.reason;
  EXPECT_NE(s.reason.find("not loadable"), std::string::npos) << s.reason;
  EXPECT_THROW(NvmlLibrary{path}, DeviceError);
}

TEST(NvmlAbsent, ALibraryThatIsNotNvml) {
  const bitlab::SensorStatus s = bitlab::probe_nvml("libm.so.6");
  EXPECT_FALSE(s.available);
  EXPECT_NE(s.reason.find("has no nvmlInit_v2"), std::string::npos) << s.reason;
}

TEST(NvmlAbsent, AutoFallsBackToTheModelAndNamedSourceFails) {
  ASSERT_EQ(setenv("BITLAB_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1), 0);
  bitlab::EnergyOptions o;
  o.source = "auto";
  bitlab::EnergySession auto_session(o, {"gpu"});
  const auto meters = auto_session.meters_for("gpu");
  ASSERT_EQ(meters.size(), 1u);
  EXPECT_EQ(meters[0]->source(), "modelled");
  ASSERT_EQ(auto_session.notes().size(), 1u);
  EXPECT_NE(auto_session.notes()[0].find("nvml unavailable"), std::string::npos) << auto_session.notes()[0];
  o.source = "nvml";
  try {
    bitlab::EnergySession named(o, {"gpu"});
    FAIL() << "nvml named outright but absent";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("energy source nvml"), std::string::npos) << e.what();
  }
  unsetenv("BITLAB_NVML_LIBRARY");
}

TEST(NvmlFake, InitFailureIsUnavailable) {
  FakeNvmlState& f = fresh_fake();
  f.init_result = 9;
  const bitlab::SensorStatus s = bitlab::probe_nvml(FAKE_NVML_PATH);
  EXPECT_FALSE(s.available);
  EXPECT_NE(s.reason.find("nvmlInit failed: Driver Not Loaded"), std::string::npos) << s.reason;
}

TEST(NvmlFake, NoGpuIsUnavailable) {
  fresh_fake().device_count = 0;
  const bitlab::SensorStatus s = bitlab::probe_nvml(FAKE_NVML_PATH);
  EXPECT_FALSE(s.available);
  EXPECT_NE(s.reason.find("no GPU"), std::string::npos) << s.reason;
}

TEST(NvmlFake, ProbeNamesEachGpuAndItsMethod) {
  FakeNvmlState& f = fresh_fake();
  f.device_count = 2;
  bitlab::SensorStatus s = bitlab::probe_nvml(FAKE_NVML_PATH);
  EXPECT_TRUE(s.available);
  EXPECT_EQ(s.reason, "GPU 0 Fake GPU 0: total-energy counter; GPU 1 Fake GPU 1: total-energy counter");
  f.energy_result = 3;
  s = bitlab::probe_nvml(FAKE_NVML_PATH);
  EXPECT_NE(s.reason.find("power samples (no energy counter)"), std::string::npos) << s.reason;
}

TEST(NvmlFake, InitAndShutdownPair) {
  FakeNvmlState& f = fresh_fake();
  const int inits = f.init_calls, shutdowns = f.shutdown_calls;
  { NvmlLibrary lib(FAKE_NVML_PATH); }
  EXPECT_EQ(f.init_calls - inits, 1);
  EXPECT_EQ(f.shutdown_calls - shutdowns, 1);
}

TEST(NvmlFake, CounterWindow) {
  FakeNvmlState& f = fresh_fake();
  f.energy_mj = 1'000;
  NvmlMeter m(std::make_shared<const NvmlLibrary>(FAKE_NVML_PATH), quick());
  EXPECT_TRUE(m.uses_counter());
  EXPECT_EQ(m.device_name(), "Fake GPU 0");
  m.start();
  f.energy_mj = 3'500;
  const bitlab::EnergyReading r = m.stop();
  EXPECT_EQ(r.source, "nvml");
  EXPECT_EQ(r.method, "GPU total-energy counter");
  ASSERT_EQ(r.joules.size(), 1u);
  EXPECT_DOUBLE_EQ(r.joules.at("gpu-0"), 2.5);
}

TEST(NvmlFake, CounterWindowSpansWholeUpdates) {
  // A counter step during the wait at either end lands on the right side of the window:
  // the step at start is before it, the step at stop (the work's last update) inside it.
  FakeNvmlState& f = fresh_fake();
  f.energy_mj = 1'000;
  NvmlMeter::Options o = quick();
  o.update_wait_s = 2.0;
  NvmlMeter m(std::make_shared<const NvmlLibrary>(FAKE_NVML_PATH), o);
  auto step_soon = [&](unsigned long long to) {
    return std::thread([&f, to] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      f.energy_mj = to;
    });
  };
  std::thread a = step_soon(1'200);
  m.start();
  a.join();
  f.energy_mj = 2'200;
  std::thread b = step_soon(2'300);
  const bitlab::EnergyReading r = m.stop();
  b.join();
  EXPECT_DOUBLE_EQ(r.joules.at("gpu-0"), 1.1);
}

TEST(NvmlFake, CounterGoingBackwardsIsAnError) {
  FakeNvmlState& f = fresh_fake();
  f.energy_mj = 5'000;
  NvmlMeter m(std::make_shared<const NvmlLibrary>(FAKE_NVML_PATH), quick());
  m.start();
  f.energy_mj = 10;
  EXPECT_THROW(m.stop(), DeviceError);
}

TEST(NvmlFake, PowerSamplesWhereTheCounterIsUnsupported) {
  FakeNvmlState& f = fresh_fake();
  f.energy_result = 3;
  f.power_mw = 100'000;  // 100 W, steady
  NvmlMeter m(std::make_shared<const NvmlLibrary>(FAKE_NVML_PATH), quick());
  EXPECT_FALSE(m.uses_counter());
  m.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  const bitlab::EnergyReading r = m.stop();
  EXPECT_NE(r.method.find("power samples"), std::string::npos) << r.method;
  EXPECT_GE(r.seconds, 0.06);
  // Constant power integrates exactly: joules = 100 W x the window.
  EXPECT_NEAR(r.joules.at("gpu-0"), 100.0 * r.seconds, 1e-9);
}

TEST(NvmlFake, PowerSamplesFollowAChange) {
  FakeNvmlState& f = fresh_fake();
  f.energy_result = 3;
  f.power_mw = 50'000;
  NvmlMeter m(std::make_shared<const NvmlLibrary>(FAKE_NVML_PATH), quick());
  m.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  f.power_mw = 150'000;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto r = m.stop();
  const double watts = r.joules.at("gpu-0") / r.seconds;
  EXPECT_GT(watts, 50.0);
  EXPECT_LT(watts, 150.0);
}

TEST(NvmlFake, ForcedCounterOnAGpuWithoutOne) {
  fresh_fake().energy_result = 3;
  try {
    NvmlMeter m(std::make_shared<const NvmlLibrary>(FAKE_NVML_PATH), quick(NvmlMeter::Method::Counter));
    FAIL() << "counter forced on a GPU without one";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("no total-energy counter"), std::string::npos) << e.what();
  }
}

TEST(NvmlFake, ForcedPowerSamplesOnAGpuWithACounter) {
  FakeNvmlState& f = fresh_fake();
  f.power_mw = 20'000;
  NvmlMeter m(std::make_shared<const NvmlLibrary>(FAKE_NVML_PATH), quick(NvmlMeter::Method::PowerSamples));
  EXPECT_FALSE(m.uses_counter());
  m.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto r = m.stop();
  EXPECT_NEAR(r.joules.at("gpu-0"), 20.0 * r.seconds, 1e-9);
}

TEST(NvmlFake, NoSuchDevice) {
  fresh_fake().device_count = 2;
  NvmlMeter::Options o = quick();
  o.device = 3;
  try {
    NvmlMeter m(std::make_shared<const NvmlLibrary>(FAKE_NVML_PATH), o);
    FAIL() << "GPU 3 of 2";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("no GPU 3 (2 present)"), std::string::npos) << e.what();
  }
}

TEST(NvmlFake, StopWithoutStartIsAnError) {
  fresh_fake();
  NvmlMeter m(std::make_shared<const NvmlLibrary>(FAKE_NVML_PATH), quick());
  EXPECT_THROW(m.stop(), bitlab::UsageError);
}

TEST(IntegratePower, TrapezoidByHand) {
  // 10 W -> 20 W over the first second (15 J), then 20 W for two seconds (40 J).
  EXPECT_DOUBLE_EQ(bitlab::integrate_power({{0.0, 10.0}, {1.0, 20.0}, {3.0, 20.0}}), 55.0);
  EXPECT_DOUBLE_EQ(bitlab::integrate_power({{0.0, 10.0}}), 0.0);
  EXPECT_DOUBLE_EQ(bitlab::integrate_power({}), 0.0);
}

}  // namespace
