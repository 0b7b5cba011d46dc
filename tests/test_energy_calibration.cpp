// Calibrating the modelled meter: the least-squares fit, the whole calibration
// against a fake meter whose energy comes from known constants plus noise (the
// fit must find them again), and the profiles it writes: used on the same CPU
// model only, and refused with one line when corrupt.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "common/sysinfo.h"
#include "harness/energy/calibration.h"
#include "harness/energy/modelled.h"
#include "harness/energy/profile.h"
#include "harness/energy/session.h"
#include "model/error.h"

namespace {
namespace fs = std::filesystem;
using bitlab::OpCounts;

TEST(LeastSquares, ExactDataGivesItsCoefficients) {
  // y = 2 + 3e-9 a - 5e-10 b over columns of very different sizes.
  std::vector<std::vector<double>> x = {{1, 1e9, 2e9}, {1, 3e9, 1e9}, {1, 0, 5e9}, {1, 7e9, 0}, {1, 2e9, 2e9}};
  std::vector<double> y;
  for (const auto& r : x) y.push_back(2 * r[0] + 3e-9 * r[1] - 5e-10 * r[2]);
  const bitlab::LinearFit f = bitlab::least_squares(x, y);
  EXPECT_NEAR(f.coef[0], 2, 1e-9);
  EXPECT_NEAR(f.coef[1], 3e-9, 1e-18);
  EXPECT_NEAR(f.coef[2], -5e-10, 1e-18);
  EXPECT_NEAR(f.r2, 1.0, 1e-12);
  for (double e : f.residuals) EXPECT_NEAR(e, 0, 1e-9);
  // Proportional columns cannot be told apart.
  EXPECT_THROW(bitlab::least_squares({{1, 2}, {2, 4}, {3, 6}}, {1, 2, 3}), bitlab::DeviceError);
  EXPECT_THROW(bitlab::least_squares({{1, 2}}, {1}), bitlab::DeviceError);  // fewer observations than unknowns
}

TEST(LeastSquares, StudentQuantiles) {
  EXPECT_DOUBLE_EQ(bitlab::student_t95(1), 12.706);
  EXPECT_DOUBLE_EQ(bitlab::student_t95(4), 2.776);
  EXPECT_GE(bitlab::student_t95(200), 1.96);
}

// The truth a fake meter draws its energy from.
struct Truth {
  double idle_w = 0, active_w = 0, mac_pj = 0, byte_pj = 0;
};

// A meter of named domains, each idle_w x seconds, + active_w x seconds when
// work was counted, + counts x energies, + Gaussian noise of `noise` (relative).
class FakeMeter : public bitlab::EnergyMeter {
 public:
  FakeMeter(std::map<std::string, Truth> domains, double noise) : domains_(std::move(domains)), noise_(noise) {}
  std::string source() const override { return "rapl"; }
  double min_window_seconds() const override { return 0; }
  void start() override {
    counts_ = {};
    t0_ = std::chrono::steady_clock::now();
  }
  void count(const OpCounts& n) override { counts_ += n; }
  bitlab::EnergyReading stop() override {
    bitlab::EnergyReading r;
    r.source = "rapl";
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const bool busy = counts_.int8_macs > 0 || counts_.dram_bytes > 0;
    for (const auto& [name, t] : domains_) {
      const double j = (t.idle_w + (busy ? t.active_w : 0)) * r.seconds + counts_.int8_macs * t.mac_pj * 1e-12 +
                       counts_.dram_bytes * t.byte_pj * 1e-12;
      r.joules[name] = j * (1 + noise_ * gauss_(rng_));
    }
    return r;
  }

 private:
  std::map<std::string, Truth> domains_;
  double noise_;
  OpCounts counts_;
  std::chrono::steady_clock::time_point t0_;
  std::mt19937 rng_{20261206};
  std::normal_distribution<double> gauss_{0.0, 1.0};
};

// Kernels that only pretend to work: their counts, over a millisecond or two.
std::vector<bitlab::CalibrationKernel> fake_kernels() {
  auto unit = [](OpCounts n, int ms) {
    return [n, ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return n;
    };
  };
  return {{"idle", {}},
          {"gemv", unit({4e9, 0, 1e9}, 1)},
          {"gemm", unit({5e10, 0, 0}, 1)},
          {"gemv-half", unit({4e9, 0, 1e9}, 2)}};
}

// RAPL-like: the package does the arithmetic and part of the bytes' energy, DRAM the rest.
const std::map<std::string, Truth> kRaplTruth = {{"package-0", {20, 5, 0.5, 20}}, {"dram-0", {3, 1, 0, 60}}};

bitlab::CalibrationResult calibrate_fake(const std::map<std::string, Truth>& truth, double noise) {
  FakeMeter meter(truth, noise);
  bitlab::CalibrationOptions o;
  o.window_s = 0.04;
  o.repetitions = 4;
  return bitlab::fit_calibration(bitlab::measure_calibration_windows(meter, fake_kernels(), o));
}

TEST(Calibration, NoiselessFakeMeterGivesBackItsConstants) {
  const auto r = calibrate_fake(kRaplTruth, 0);
  EXPECT_NEAR(r.idle_watts, 23, 1e-9);
  EXPECT_NEAR(r.active_watts, 6, 1e-6);
  EXPECT_NEAR(r.static_watts(), 29, 1e-6);
  EXPECT_NEAR(r.int8_mac_pj, 0.5, 1e-9);
  EXPECT_NEAR(r.dram_byte_pj, 80, 1e-7);
  EXPECT_NEAR(r.worst_r2, 1.0, 1e-9);
  // Package and DRAM fitted apart: DRAM against seconds and bytes alone.
  ASSERT_EQ(r.report["fits"].size(), 2u);
  EXPECT_EQ(r.report["fits"][1]["group"], "dram");
  EXPECT_NEAR(r.report["fits"][1]["coefficients"]["joules_per_byte"].get<double>(), 60e-12, 1e-19);
  EXPECT_FALSE(r.report["fits"][1]["coefficients"].contains("joules_per_mac"));
}

// With 1 % noise on every window: each constant within three times its 95 %
// interval over the repetitions (the interval is t x sd / √n, so this is some
// seven standard errors of the mean), and the interval narrow enough that the
// check means something.
TEST(Calibration, NoisyFakeMeterWithinItsInterval) {
  const auto r = calibrate_fake(kRaplTruth, 0.01);
  const std::pair<const char*, double> want[] = {
      {"idle_watts", 23}, {"static_watts", 29}, {"int8_mac_pj", 0.5}, {"dram_byte_pj", 80}};
  for (const auto& [name, truth] : want) {
    SCOPED_TRACE(name);
    const bitlab::Interval& i = r.intervals.at(name);
    const double half = (i.high - i.low) / 2;
    EXPECT_GT(half, 0);
    EXPECT_LT(half, 0.25 * truth);
    EXPECT_LE(i.low, i.estimate);
    const double fitted = std::string(name) == "idle_watts"     ? r.idle_watts
                          : std::string(name) == "static_watts" ? r.static_watts()
                          : std::string(name) == "int8_mac_pj"  ? r.int8_mac_pj
                                                                : r.dram_byte_pj;
    EXPECT_NEAR(fitted, truth, 3 * half);
  }
  EXPECT_GT(r.worst_r2, 0.9);
  EXPECT_EQ(r.report["fits"][0]["residuals_joules"].size(), 12u);  // 3 kernels x 4 repetitions
}

// NVML-like: one domain, fitted against everything.
TEST(Calibration, OneDomainMeter) {
  const auto r = calibrate_fake({{"gpu-0", {50, 20, 1, 100}}}, 0);
  ASSERT_EQ(r.report["fits"].size(), 1u);
  EXPECT_EQ(r.report["fits"][0]["group"], "gpu-0");
  EXPECT_NEAR(r.static_watts(), 70, 1e-6);
  EXPECT_NEAR(r.int8_mac_pj, 1, 1e-9);
  EXPECT_NEAR(r.dram_byte_pj, 100, 1e-7);
}

TEST(Calibration, RefusesWhatCannotBeFitted) {
  FakeMeter meter(kRaplTruth, 0);
  bitlab::CalibrationOptions o;
  o.window_s = 0.01;
  o.repetitions = 1;
  EXPECT_THROW(bitlab::measure_calibration_windows(meter, fake_kernels(), o), bitlab::UsageError);
  o.repetitions = 2;
  auto kernels = fake_kernels();
  kernels.erase(kernels.begin());  // no idle window
  EXPECT_THROW(bitlab::fit_calibration(bitlab::measure_calibration_windows(meter, kernels, o)), bitlab::DeviceError);
  // A negative fitted constant is refused, not written.
  bitlab::CalibrationResult r = calibrate_fake(kRaplTruth, 0);
  r.int8_mac_pj = -0.1;
  try {
    bitlab::calibration_profile(r, "cpu", "X", "rapl", "2026-12-06");
    FAIL() << "no error";
  } catch (const bitlab::DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("energy per int8 MAC (pJ) is -0.1"), std::string::npos) << e.what();
  }
}

// A fresh folder for profiles.
fs::path profile_dir(const std::string& name) {
  fs::path d = fs::path(::testing::TempDir()) / (name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  return d;
}

bitlab::EnergySession modelled_session(const fs::path& dir) {
  bitlab::EnergyOptions o;
  o.source = "modelled";
  o.profile_dir = dir;
  return bitlab::EnergySession(o, {"cpu", "gpu"});
}

// Calibrate, write the profile, and the modelled meter on this CPU model uses it.
TEST(Profile, CalibrationIsUsedOnTheSameCpuModel) {
  const fs::path dir = profile_dir("profiles_same");
  const std::string cpu = bitlab::cpu_model_name();
  const bitlab::EnergyProfile p =
      bitlab::calibration_profile(calibrate_fake(kRaplTruth, 0), "cpu", cpu, "rapl", "2026-12-06");
  bitlab::write_profile(bitlab::profile_path(dir, cpu), p);
  EXPECT_EQ(bitlab::read_profile(bitlab::profile_path(dir, cpu)).device_model, cpu);

  const bitlab::EnergySession s = modelled_session(dir);
  EXPECT_TRUE(s.notes().empty());
  auto* meter = s.meters_for("cpu").at(0);
  meter->start();
  meter->count({1e9, 0, 1e9});
  const bitlab::EnergyReading r = meter->stop();
  EXPECT_EQ(r.label, "modelled (calibrated on " + cpu + " with rapl, 2026-12-06)");
  EXPECT_NEAR(*r.static_watts, 29, 1e-6);
  EXPECT_NEAR(r.joules.at("int8_macs"), 1e9 * 0.5e-12, 1e-12);
  EXPECT_NEAR(r.joules.at("dram"), 1e9 * 80e-12, 1e-10);
  EXPECT_DOUBLE_EQ(r.joules.at("float_ops"), 0.0);
  // The GPU's model is not this CPU's: textbook there.
  EXPECT_EQ(s.model_constants("gpu").label.rfind("modelled (textbook constants", 0), 0u);
  fs::remove_all(dir);
}

TEST(Profile, AnotherModelsProfileIsNotUsed) {
  const fs::path dir = profile_dir("profiles_other");
  const std::string cpu = bitlab::cpu_model_name();
  bitlab::EnergyProfile p =
      bitlab::calibration_profile(calibrate_fake(kRaplTruth, 0), "cpu", "Other CPU 9000", "rapl", "2026-12-06");
  bitlab::write_profile(bitlab::profile_path(dir, "Other CPU 9000"), p);
  {
    const bitlab::EnergySession s = modelled_session(dir);
    EXPECT_EQ(s.model_constants("cpu").label.rfind("modelled (textbook constants", 0), 0u);
    EXPECT_TRUE(s.notes().empty());
  }
  // Under this CPU's file name but naming another model inside: not used, and said so.
  bitlab::write_profile(bitlab::profile_path(dir, cpu), p);
  const bitlab::EnergySession s = modelled_session(dir);
  EXPECT_EQ(s.model_constants("cpu").label.rfind("modelled (textbook constants", 0), 0u);
  ASSERT_EQ(s.notes().size(), 1u);
  EXPECT_NE(s.notes()[0].find("is for the cpu 'Other CPU 9000'"), std::string::npos) << s.notes()[0];
  fs::remove_all(dir);
}

TEST(Profile, NamesAreSanitised) {
  EXPECT_EQ(bitlab::sanitise_model_name("AMD EPYC 9B45 96-Core Processor"), "amd-epyc-9b45-96-core-processor");
  EXPECT_EQ(bitlab::sanitise_model_name("../../etc/passwd"), "etc-passwd");
  EXPECT_EQ(bitlab::sanitise_model_name("  "), "unknown");
  EXPECT_EQ(bitlab::profile_path("/p", "NVIDIA H100 80GB HBM3"), fs::path("/p/nvidia-h100-80gb-hbm3.json"));
}

// Every corrupt profile: one line naming the file and what is wrong.
TEST(Profile, CorruptFilesAreOneLineErrors) {
  const fs::path dir = profile_dir("profiles_corrupt");
  const std::string cpu = bitlab::cpu_model_name();
  const fs::path path = bitlab::profile_path(dir, cpu);
  nlohmann::json good =
      bitlab::to_json(bitlab::calibration_profile(calibrate_fake(kRaplTruth, 0), "cpu", cpu, "rapl", "2026-12-06"));
  auto with = [&](const std::string& pointer, const nlohmann::json& v) {
    nlohmann::json j = good;
    j[nlohmann::json::json_pointer(pointer)] = v;
    return j.dump();
  };
  nlohmann::json missing = good;
  missing["constants"].erase("static_watts");
  const std::pair<std::string, std::string> cases[] = {
      {"{\"format\": ", "not valid JSON"},
      {"[1, 2]", "not a JSON object"},
      {with("/format", "something-else/9"), "format 'something-else/9' is not bitlab-energy-profile/1"},
      {with("/constants/int8_mac_pj", -1.0), "constants.int8_mac_pj must be a finite number >= 0"},
      {with("/constants/dram_byte_pj", "80"), "constants.dram_byte_pj must be a finite number >= 0"},
      {with("/constants", 3), "constants is not an object"},
      {with("/device_kind", "tpu"), "device_kind must be cpu or gpu"},
      {with("/device_model", 7), "device_model must be a non-empty string"},
      {with("/constants/idle_watts", 1000.0), "constants.idle_watts exceeds constants.static_watts"},
      {missing.dump(), "constants.static_watts is missing"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(message);
    fs::create_directories(dir);
    std::ofstream(path) << text;
    try {
      modelled_session(dir);
      FAIL() << "no error";
    } catch (const bitlab::InputError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what, "energy profile " + path.string() + ": " + message);
      EXPECT_EQ(what.find('\n'), std::string::npos);
    }
  }
  fs::remove_all(dir);
}

}  // namespace
