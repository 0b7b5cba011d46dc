// The modelled meter: its counts for the `tiny` model derived by hand from the
// shapes, its energies from the cited table; energy figures, idle baselines,
// and energy windows around the real end-to-end benchmark.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness/e2e_bench.h"
#include "harness/energy/figure.h"
#include "harness/energy/modelled.h"
#include "harness/energy/op_counts.h"
#include "harness/energy/session.h"
#include "model/error.h"
#include "kernels/registry.h"
#include "model/weights/synthetic.h"

namespace {
namespace fs = std::filesystem;
using bitlab::OpCounts;

// tiny: hidden h = 64, 2 layers, 4 query heads and 2 KV heads of 16 (q_dim 64,
// kv_dim 32), FFN f = 160, vocabulary 512.
//
// int8 multiply-adds per token and layer: q 64x64 + k 32x64 + v 32x64 + o 64x64
// + gate 160x64 + up 160x64 + down 64x160 = 4096 + 2048 + 2048 + 4096 + 3 x 10240 = 43008.
//
// Float operations per token and layer, without attention:
//   rmsnorm_quant(h)      7 x 64  = 448    qkv epilogue   2 x 128 = 256
//   rope q and k          3 x 96  = 288    rmsnorm_quant(attn, 64) = 448
//   o epilogue            2 x 64  = 128    residual add           = 64
//   rmsnorm_quant(h)              = 448    gate/up epilogue 2 x 320 = 640
//   relu2_mul             3 x 160 = 480    rmsnorm_quant(f) 7 x 160 = 1120
//   down epilogue         2 x 64  = 128    residual add           = 64
//   total 4512
// Attention per layer: 4 heads x (4 x 16 + 6) = 280 per attended position.
// Head on one row: final norm 4 x 64 = 256, lm_head 2 x 512 x 64 = 65536, argmax 512.
//
// DRAM bytes per pass: codes 43008 / 4 = 10752 and norms (64 + 64 + 64 + 160) x 4 = 1408
// per layer (x 2 = 24320), final norm 256, embedding 512 x 64 x 2 = 65536,
// KV cache 2 layers x (k + v) x 32 x 4 bytes = 512 per position.

TEST(OpCounts, TinyDecodeStepByHand) {
  // One token with 16 cached: attends over 17 positions.
  const OpCounts n = bitlab::count_forward(bitlab::tiny_config(), 1, 16);
  EXPECT_EQ(n.int8_macs, 2 * 43008);
  EXPECT_EQ(n.float_ops, 2 * (4512 + 280 * 17) + 256 + 65536 + 512);  // 84848
  EXPECT_EQ(n.float_ops, 84848);
  EXPECT_EQ(n.dram_bytes, 24320 + 256 + 65536 + 512 * 17);  // 98816
}

TEST(OpCounts, TinyDecodeStepWithTheInt8HeadByHand) {
  // The int8 head: 512 x 64 int8 multiply-adds; quantize the row (3 x 64) and
  // two divisions per logit (2 x 512) instead of the bf16 head's 2 x 512 x 64
  // float ops; reads the int8 table and its row factors, 512 x (64 + 4) bytes.
  const OpCounts n = bitlab::count_forward(bitlab::tiny_config(), 1, 16, 1, bitlab::HeadKind::Int8);
  EXPECT_EQ(n.int8_macs, 2 * 43008 + 512 * 64);
  EXPECT_EQ(n.float_ops, 2 * (4512 + 280 * 17) + 256 + 192 + 1024 + 512);
  EXPECT_EQ(n.dram_bytes, 24320 + 256 + 512 * (64 + 4) + 512 * 17);
}

TEST(OpCounts, TinyPrefillByHand) {
  // Eight tokens from an empty cache: token i attends over i + 1 positions, 36 in all.
  const OpCounts n = bitlab::count_forward(bitlab::tiny_config(), 8, 0);
  EXPECT_EQ(n.int8_macs, 8 * 2 * 43008);
  EXPECT_EQ(n.float_ops, 2 * (8 * 4512 + 280 * 36) + 256 + 65536 + 512);  // 158656
  EXPECT_EQ(n.dram_bytes, 24320 + 256 + 65536 + 512 * 8);                 // 94208
  // All eight rows through the head (teacher-forced logits): 7 more rows of head work.
  const OpCounts all = bitlab::count_forward(bitlab::tiny_config(), 8, 0, 8);
  EXPECT_EQ(all.float_ops - n.float_ops, 7 * (256 + 65536 + 512));
  EXPECT_EQ(all.dram_bytes, n.dram_bytes);
}

TEST(OpCounts, BitNet2b4tTernaryWorkPerToken) {
  // 2B4T: 30 layers of 2560x(2560 + 2 x 640) + 2560x2560 + 3 x 2560x6912 ternary weights.
  const OpCounts n = bitlab::count_forward(bitlab::bitnet_2b4t(), 1, 0);
  EXPECT_EQ(n.int8_macs, 30.0 * (9830400 + 6553600 + 53084160));
  // The bf16 head (128256 x 2560 x 2 bytes) is the largest single read.
  EXPECT_GT(n.dram_bytes, 128256.0 * 2560 * 2 + 30.0 * 69468160 / 4);
}

TEST(OpCounts, BadArgumentsAreUsageErrors) {
  const auto c = bitlab::tiny_config();
  EXPECT_THROW(bitlab::count_forward(c, 0, 0), bitlab::UsageError);
  EXPECT_THROW(bitlab::count_forward(c, 1, -1), bitlab::UsageError);
  EXPECT_THROW(bitlab::count_forward(c, 2, 0, 3), bitlab::UsageError);
}

TEST(Modelled, ConstantsAreTheCitedTable) {
  // Horowitz ISSCC 2014, 45 nm: 8b mult 0.2 + 32b add 0.1; (fp32 add 0.9 + mult 3.7) / 2; DRAM 1.3 nJ / 64 bit.
  EXPECT_DOUBLE_EQ(bitlab::kHorowitz45nm.int8_mac_pj, 0.3);
  EXPECT_DOUBLE_EQ(bitlab::kHorowitz45nm.float_op_pj, 2.3);
  EXPECT_DOUBLE_EQ(bitlab::kHorowitz45nm.dram_byte_pj, 162.5);
}

TEST(Modelled, TinyDecodeStepJoules) {
  const bitlab::EnergyReading r = bitlab::model_energy(bitlab::count_forward(bitlab::tiny_config(), 1, 16));
  EXPECT_EQ(r.source, "modelled");
  EXPECT_NE(r.method.find("estimate"), std::string::npos);
  EXPECT_NE(r.method.find("Horowitz ISSCC 2014, 45 nm"), std::string::npos);
  EXPECT_DOUBLE_EQ(r.joules.at("int8_macs"), 86016 * 0.3e-12);
  EXPECT_DOUBLE_EQ(r.joules.at("float_ops"), 84848 * 2.3e-12);
  EXPECT_DOUBLE_EQ(r.joules.at("dram"), 98816 * 162.5e-12);
}

TEST(Modelled, MeterSumsTheCountedWork) {
  bitlab::ModelledMeter m;
  EXPECT_FALSE(m.measures_hardware());
  EXPECT_THROW(bitlab::measure_idle_watts(m, 0.01), bitlab::UsageError);  // the model sees no idle power
  m.start();
  m.count({1e6, 0, 0});
  m.count({0, 1e6, 1e3});
  const auto r = m.stop();
  ASSERT_TRUE(r.static_watts.has_value());
  EXPECT_DOUBLE_EQ(r.joules.at("static"), *r.static_watts * r.seconds);
  // The counted parts, summed apart from static power (subtracting it from the
  // total would cancel digits when a slow build makes the window long).
  const double counted = 1e6 * 0.3e-12 + 1e6 * 2.3e-12 + 1e3 * 162.5e-12;
  EXPECT_NEAR(r.joules.at("int8_macs") + r.joules.at("float_ops") + r.joules.at("dram"), counted, counted * 1e-12);
  EXPECT_NEAR(r.total_joules(), counted + r.joules.at("static"), (counted + r.joules.at("static")) * 1e-12);
  m.start();  // a new window starts from nothing
  const auto empty = m.stop();
  EXPECT_DOUBLE_EQ(empty.total_joules(), empty.joules.at("static"));
}

// The same work taking longer costs more: static power is paid over the time.
TEST(Modelled, SlowerWorkCostsMore) {
  bitlab::ModelledMeter m(bitlab::textbook_constants("cpu", 2));
  EXPECT_DOUBLE_EQ(m.constants().static_watts, 2 * bitlab::kStatedCpuSocketWatts);
  EXPECT_EQ(m.constants().label,
            "modelled (textbook constants: Horowitz 45 nm, static 10 W per CPU socket x 2 stated)");
  m.start();
  m.count({1e9, 1e6, 1e8});
  const auto fast = m.stop();
  m.start();
  m.count({1e9, 1e6, 1e8});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto slow = m.stop();
  EXPECT_GT(slow.total_joules() - fast.total_joules(), 20.0 * 0.045);  // 20 W over at least 45 ms more
  EXPECT_EQ(slow.label, m.constants().label);
  EXPECT_EQ(bitlab::textbook_constants("gpu").static_watts, bitlab::kStatedGpuWatts);
}

TEST(Figure, GrossNetAndRates) {
  bitlab::EnergyReading r;
  r.source = "rapl";
  r.method = "powercap energy counters";
  r.seconds = 2.0;
  r.joules = {{"package-0", 90.0}, {"dram-0", 10.0}};
  const bitlab::EnergyFigure f = bitlab::make_figure(r, 50, 20.0);  // 20 W idle: 40 J of the 100
  EXPECT_DOUBLE_EQ(f.joules, 100.0);
  EXPECT_DOUBLE_EQ(f.joules_per_token(), 2.0);
  EXPECT_DOUBLE_EQ(*f.average_watts(), 50.0);
  EXPECT_EQ(f.label, "measured (rapl: dram-0 + package-0, gross; net figures subtract the idle baseline)");
  EXPECT_DOUBLE_EQ(*f.net_joules(), 60.0);
  const auto j = bitlab::to_json(f);
  EXPECT_EQ(j["source"], "rapl");
  EXPECT_EQ(j["estimate"], false);
  EXPECT_DOUBLE_EQ(j["tokens_per_joule"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["idle_watts"].get<double>(), 20.0);
  EXPECT_DOUBLE_EQ(j["net_joules_per_token"].get<double>(), 1.2);
  EXPECT_DOUBLE_EQ(j["domains"]["dram-0"].get<double>(), 10.0);
  EXPECT_THROW(bitlab::make_figure(r, 0, std::nullopt), bitlab::UsageError);
  EXPECT_DOUBLE_EQ(j["average_watts"].get<double>(), 50.0);
  EXPECT_EQ(j["label"], f.label);
  EXPECT_FALSE(j.contains("static_watts"));
  // A modelled figure: its parts and label, and never watts that would read as measured.
  bitlab::ModelledMeter meter(bitlab::textbook_constants("cpu", 1));
  meter.start();
  meter.count({1, 1, 1});
  const auto modelled_fig = bitlab::make_figure(meter.stop(), 1, std::nullopt);
  EXPECT_FALSE(modelled_fig.average_watts().has_value());
  const auto modelled = bitlab::to_json(modelled_fig);
  EXPECT_EQ(modelled["estimate"], true);
  EXPECT_FALSE(modelled.contains("average_watts")) << modelled.dump();
  EXPECT_EQ(modelled["label"], "modelled (textbook constants: Horowitz 45 nm, static 10 W per CPU socket x 1 stated)");
  EXPECT_DOUBLE_EQ(modelled["static_watts"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(modelled["static_joules"].get<double>(), 10.0 * modelled["seconds"].get<double>());
  EXPECT_DOUBLE_EQ(modelled["dynamic_joules"].get<double>(), 0.3e-12 + 2.3e-12 + 162.5e-12);
  EXPECT_NEAR(modelled["static_joules"].get<double>() + modelled["dynamic_joules"].get<double>(),
              modelled["joules"].get<double>(), 1e-15);
  EXPECT_FALSE(modelled.contains("idle_watts"));
  EXPECT_FALSE(modelled.contains("net_joules_per_token"));
}

// A meter whose readings are set by the test: what measure_idle_watts makes of them.
struct ScriptedMeter : bitlab::EnergyMeter {
  std::string source() const override { return "rapl"; }
  double min_window_seconds() const override { return 0; }
  void start() override {}
  bitlab::EnergyReading stop() override {
    bitlab::EnergyReading r;
    r.source = "rapl";
    r.seconds = 0.5;
    r.joules = {{"package-0", 4.0}, {"dram-0", 1.0}};
    return r;
  }
};

TEST(Idle, WattsOfAllDomainsTogether) {
  ScriptedMeter m;
  EXPECT_DOUBLE_EQ(bitlab::measure_idle_watts(m, 0.001), 10.0);  // (4 + 1) J over 0.5 s
  EXPECT_THROW(bitlab::measure_idle_watts(m, 0), bitlab::UsageError);
}

// A fake powercap tree whose package counter a thread advances at `watts`
// from a steady clock (written whole, then renamed in: a reader never sees half a number).
// The counter lags the clock by as long as the thread was descheduled:
// max_gap_seconds() says how long that was at worst, for the tests' tolerances.
class LivePowercap {
 public:
  explicit LivePowercap(double watts) : watts_(watts) {
    root_ = fs::path(::testing::TempDir()) / ("live_powercap_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "intel-rapl:0");
    std::ofstream(root_ / "intel-rapl:0" / "name") << "package-0\n";
    std::ofstream(root_ / "intel-rapl:0" / "max_energy_range_uj") << 262143328850ull << "\n";
    write(0);
    thread_ = std::thread([this] {
      const auto t0 = std::chrono::steady_clock::now();
      double last = 0;
      while (!stop_) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        write(uint64_t(s * watts_ * 1e6));
        max_gap_us_ = std::max<int64_t>(max_gap_us_, int64_t((s - last) * 1e6));
        last = s;
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
    });
  }
  ~LivePowercap() {
    stop_ = true;
    thread_.join();
    fs::remove_all(root_);
  }
  const fs::path& root() const { return root_; }
  double max_gap_seconds() const { return double(max_gap_us_) * 1e-6; }

 private:
  void write(uint64_t uj) {
    const fs::path tmp = root_ / "intel-rapl:0" / "energy_uj.tmp";
    std::ofstream(tmp) << uj << "\n";
    fs::rename(tmp, root_ / "intel-rapl:0" / "energy_uj");
  }
  double watts_;
  fs::path root_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_gap_us_{0};
  std::thread thread_;
};

TEST(Session, SourcesPerBackendKind) {
  bitlab::EnergyOptions o;
  o.source = "bogus";
  EXPECT_THROW(bitlab::EnergySession(o, {"cpu"}), bitlab::UsageError);
  o.source = "none";
  EXPECT_TRUE(bitlab::EnergySession(o, {"cpu"}).meters_for("cpu").empty());
  o.source = "modelled";
  const bitlab::EnergySession modelled(o, {"cpu", "gpu"});
  ASSERT_EQ(modelled.meters_for("gpu").size(), 1u);
  EXPECT_EQ(modelled.meters_for("gpu")[0]->source(), "modelled");
  EXPECT_FALSE(modelled.measures_hardware());

  ASSERT_EQ(setenv("BITLAB_POWERCAP_ROOT", "/nonexistent/powercap", 1), 0);
  o.source = "rapl";
  EXPECT_THROW(bitlab::EnergySession(o, {"cpu"}), bitlab::DeviceError);
  o.source = "auto";
  const bitlab::EnergySession fallback(o, {"cpu"});
  EXPECT_EQ(fallback.meters_for("cpu").size(), 1u);
  ASSERT_FALSE(fallback.notes().empty());
  EXPECT_NE(fallback.notes()[0].find("rapl unavailable: no /nonexistent/powercap"), std::string::npos);
  unsetenv("BITLAB_POWERCAP_ROOT");
}

// The end-to-end benchmark inside energy windows: RAPL (a live fake counter at
// 30 W) and the model beside it; phases repeated until the window is long enough.
TEST(EnergyE2e, WindowsAroundPrefillAndDecode) {
  LivePowercap power(30.0);
  ASSERT_EQ(setenv("BITLAB_POWERCAP_ROOT", power.root().c_str(), 1), 0);
  // Windows of a second: the fake's writer thread can be descheduled for tens of
  // milliseconds on a loaded 2-core machine, and the counter then lags by as much.
  // The checks below allow 20 %, widened by the worst lag the writer saw (each
  // end of a window may lag by it).
  bitlab::EnergyOptions eo;
  eo.profile_dir.clear();  // textbook constants, whatever profiles this machine has
  eo.idle_seconds = 0.5;
  eo.min_window_s = 1.0;
  bitlab::EnergySession energy(eo, {"cpu"});
  unsetenv("BITLAB_POWERCAP_ROOT");
  ASSERT_TRUE(energy.notes().empty()) << energy.notes()[0];
  energy.measure_idle();

  const bitlab::ModelWeights w = bitlab::synthetic_weights(bitlab::tiny_config(), 1);
  auto be = bitlab::make_backend("scalar", bitlab::BackendOptions{.threads = 1, .device = 0});
  bitlab::Transformer model(*be, w, 12);
  bitlab::E2eOptions o;
  o.prompt_len = 8;
  o.gen = 4;
  o.prefill_repetitions = 2;
  o.model = "synthetic:tiny";
  o.energy = &energy;
  const auto ms = bitlab::run_e2e_benchmark(model, w, o);
  ASSERT_EQ(ms.size(), 2u);
  const double lag_j = 2.0 * 30.0 * power.max_gap_seconds();  // counter error at a window's two ends, in joules
  for (const bitlab::Measurement& m : ms) {
    SCOPED_TRACE(m.name);
    ASSERT_EQ(m.energy.size(), 2u);
    const bitlab::EnergyFigure &rapl = m.energy[0], &model_fig = m.energy[1];
    EXPECT_EQ(rapl.source, "rapl");
    EXPECT_EQ(model_fig.source, "modelled");
    EXPECT_GE(rapl.seconds, 1.0);  // short phases repeated to fill the window
    EXPECT_EQ(rapl.tokens, model_fig.tokens);
    // The fake package draws 30 W throughout: gross near 30 W, idle too, net near zero.
    EXPECT_NEAR(*rapl.average_watts(), 30.0, 6.0 + lag_j / rapl.seconds);
    ASSERT_TRUE(rapl.idle_watts.has_value());
    EXPECT_NEAR(*rapl.idle_watts, 30.0, 6.0 + lag_j / eo.idle_seconds);
    EXPECT_LT(std::abs(*rapl.net_joules()), 0.25 * rapl.joules + lag_j * (1.0 + rapl.seconds / eo.idle_seconds));
    EXPECT_EQ(m.samples.size(), m.name == "prefill" ? 2u : 4u);  // timed samples only
  }
  // The model's figure is exactly the counted work: whole prefills, and decode steps
  // over positions 8..11 again and again (the cache rewound to the prompt).
  const bitlab::EnergyFigure& pf = ms[0].energy[1];
  ASSERT_EQ(pf.tokens % 8, 0);
  const double per_prefill = bitlab::model_energy(bitlab::count_forward(w.config, 8, 0)).total_joules();
  EXPECT_NEAR(*pf.dynamic_joules(), per_prefill * double(pf.tokens / 8), 1e-9 * pf.joules);
  // ... and static power over the window: the same model constants, its own wall time.
  EXPECT_DOUBLE_EQ(*pf.static_joules(), *pf.static_watts * pf.seconds);
  const bitlab::EnergyFigure& df = ms[1].energy[1];
  double expect = 0;
  for (int64_t i = 0; i < df.tokens; ++i)
    expect += bitlab::model_energy(bitlab::count_forward(w.config, 1, 8 + i % 4)).total_joules();
  EXPECT_NEAR(*df.dynamic_joules(), expect, 1e-9 * df.joules);
}

TEST(EnergyE2e, NoSessionNoEnergy) {
  const bitlab::ModelWeights w = bitlab::synthetic_weights(bitlab::tiny_config(), 1);
  auto be = bitlab::make_backend("scalar", bitlab::BackendOptions{.threads = 1, .device = 0});
  bitlab::Transformer model(*be, w, 12);
  bitlab::E2eOptions o;
  o.prompt_len = 8;
  o.gen = 4;
  o.prefill_repetitions = 2;
  for (const auto& m : bitlab::run_e2e_benchmark(model, w, o)) EXPECT_TRUE(m.energy.empty());
}

}  // namespace
