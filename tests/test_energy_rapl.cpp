// The RAPL reader against fake powercap trees made here: which zones count,
// counter wrap-around, a missing DRAM domain, missing and unreadable files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "harness/energy/rapl.h"
#include "harness/energy/sensors.h"
#include "model/error.h"

namespace {
namespace fs = std::filesystem;
using bitlab::DeviceError;
using bitlab::RaplMeter;

constexpr uint64_t kRange = 262143328850;  // a real max_energy_range_uj (2^32 units of 61 µJ)

struct FakePowercap {
  fs::path root;
  FakePowercap() {
    root = fs::path(::testing::TempDir()) /
           ("powercap_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~FakePowercap() {
    std::error_code ec;
    fs::permissions(root, fs::perms::owner_all, ec);
    fs::remove_all(root, ec);
  }
  // A zone folder at `dir` (relative to root) with its three files.
  fs::path zone(const std::string& dir, const std::string& name, uint64_t energy_uj, uint64_t range = kRange) {
    const fs::path z = root / dir;
    fs::create_directories(z);
    std::ofstream(z / "name") << name << "\n";
    set(dir, energy_uj);
    std::ofstream(z / "max_energy_range_uj") << range << "\n";
    return z;
  }
  void set(const std::string& dir, uint64_t energy_uj) const { std::ofstream(root / dir / "energy_uj") << energy_uj << "\n"; }
};

std::vector<std::string> names(const std::vector<bitlab::RaplDomain>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.name);
  return out;
}

TEST(RaplDelta, PlainAndWrapped) {
  EXPECT_EQ(bitlab::rapl_delta_uj(100, 350, kRange), 250u);
  EXPECT_EQ(bitlab::rapl_delta_uj(7, 7, kRange), 0u);
  // 1000 µJ to the top, then 500 past zero.
  EXPECT_EQ(bitlab::rapl_delta_uj(kRange - 1000, 500, kRange), 1500u);
  EXPECT_EQ(bitlab::rapl_delta_uj(kRange, 0, kRange), 0u);
}

TEST(Rapl, PackageAndDramCountCoreUncoreAndPsysDoNot) {
  FakePowercap t;
  t.zone("intel-rapl:0", "package-0", 1'000'000);
  t.zone("intel-rapl:0:0", "core", 5);
  t.zone("intel-rapl:0:1", "dram", 2'000'000);
  t.zone("intel-rapl:0:2", "uncore", 5);
  t.zone("intel-rapl:1", "psys", 5);
  t.zone("intel-rapl-mmio:0", "package-0", 5);  // the MMIO copy of package 0: not a second package
  t.zone("intel-rapl", "package-7", 5);          // the control-type folder, not a zone
  t.zone("intel-rapl:2x", "package-8", 5);       // not a zone name
  t.zone("intel-rapl:3:0:1", "package-9", 5);
  EXPECT_EQ(names(bitlab::find_rapl_domains(t.root)), (std::vector<std::string>{"package-0", "dram-0"}));

  RaplMeter m(t.root);
  m.start();
  t.set("intel-rapl:0", 3'500'000);   // +2.5 J
  t.set("intel-rapl:0:1", 2'250'000); // +0.25 J
  t.set("intel-rapl:0:0", 999'999);   // core: inside the package, never added
  const bitlab::EnergyReading r = m.stop();
  EXPECT_EQ(r.source, "rapl");
  ASSERT_EQ(r.joules.size(), 2u);
  EXPECT_DOUBLE_EQ(r.joules.at("package-0"), 2.5);
  EXPECT_DOUBLE_EQ(r.joules.at("dram-0"), 0.25);
  EXPECT_DOUBLE_EQ(r.total_joules(), 2.75);
  EXPECT_GE(r.seconds, 0.0);
}

TEST(Rapl, TwoPackagesEachWithDram) {
  FakePowercap t;
  t.zone("intel-rapl:0", "package-0", 0);
  t.zone("intel-rapl:1", "package-1", 0);
  t.zone("intel-rapl:1:0", "dram", 0);
  t.zone("intel-rapl:0:0", "dram", 0);
  EXPECT_EQ(names(bitlab::find_rapl_domains(t.root)),
            (std::vector<std::string>{"package-0", "dram-0", "package-1", "dram-1"}));
}

TEST(Rapl, ZonesNestedInTheirPackageFolderAreFoundOnce) {
  FakePowercap t;  // sysfs lists sub-zones inside the package folder as well as at the top
  t.zone("intel-rapl:0", "package-0", 0);
  t.zone("intel-rapl:0/intel-rapl:0:1", "dram", 0);
  EXPECT_EQ(names(bitlab::find_rapl_domains(t.root)), (std::vector<std::string>{"package-0", "dram-0"}));
  t.zone("intel-rapl:0:1", "dram", 0);
  EXPECT_EQ(names(bitlab::find_rapl_domains(t.root)), (std::vector<std::string>{"package-0", "dram-0"}));
}

TEST(Rapl, WrapAroundInsideAWindow) {
  FakePowercap t;
  t.zone("intel-rapl:0", "package-0", kRange - 400'000);
  t.zone("intel-rapl:0:1", "dram", 10, 65'532'610'987);
  RaplMeter m(t.root);
  m.start();
  t.set("intel-rapl:0", 600'000);  // through the top: 0.4 J + 0.6 J
  t.set("intel-rapl:0:1", 5);      // DRAM wraps at its own, smaller range
  const auto r = m.stop();
  EXPECT_DOUBLE_EQ(r.joules.at("package-0"), 1.0);
  EXPECT_DOUBLE_EQ(r.joules.at("dram-0"), (65'532'610'987.0 - 10 + 5) * 1e-6);
}

TEST(Rapl, MissingDramDomainMeasuresThePackageAlone) {
  FakePowercap t;
  t.zone("intel-rapl:0", "package-0", 0);
  t.zone("intel-rapl:0:0", "core", 0);
  RaplMeter m(t.root);
  EXPECT_EQ(names(m.domains()), (std::vector<std::string>{"package-0"}));
  m.start();
  t.set("intel-rapl:0", 42);
  const auto r = m.stop();
  ASSERT_EQ(r.joules.size(), 1u);
  EXPECT_DOUBLE_EQ(r.joules.at("package-0"), 42e-6);
  const bitlab::SensorStatus s = bitlab::probe_rapl(t.root);
  EXPECT_TRUE(s.available);
  EXPECT_NE(s.reason.find("no DRAM domain"), std::string::npos) << s.reason;
}

TEST(Rapl, NoPowercapFolderSaysSo) {
  const fs::path missing = fs::path(::testing::TempDir()) / "no-such-powercap";
  try {
    RaplMeter m(missing);
    FAIL() << "a meter without powercap";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  const bitlab::SensorStatus s = bitlab::probe_rapl(missing);
  EXPECT_FALSE(s.available);
  EXPECT_EQ(s.name, "rapl");
  EXPECT_NE(s.reason.find("no powercap RAPL"), std::string::npos) << s.reason;
}

TEST(Rapl, FolderWithoutRaplZones) {
  FakePowercap t;
  t.zone("dtpm", "dtpm", 0);
  EXPECT_THROW(RaplMeter{t.root}, DeviceError);
  EXPECT_NE(bitlab::probe_rapl(t.root).reason.find("no intel-rapl:* zones"), std::string::npos);
  t.zone("intel-rapl:0:0", "core", 0);  // zones, but none that counts
  EXPECT_NE(bitlab::probe_rapl(t.root).reason.find("no package or dram zone"), std::string::npos);
}

TEST(Rapl, UnreadableCounterNamesTheFileAndRoot) {
  if (geteuid() == 0) GTEST_SKIP() << "running as root: file permissions cannot make energy_uj unreadable";
  FakePowercap t;
  const fs::path z = t.zone("intel-rapl:0", "package-0", 0);
  fs::permissions(z / "energy_uj", fs::perms::owner_write);  // --w-------: no read for this user, as energy_uj is for non-root on patched kernels
  const bitlab::SensorStatus s = bitlab::probe_rapl(t.root);
  EXPECT_FALSE(s.available);
  EXPECT_NE(s.reason.find((z / "energy_uj").string()), std::string::npos) << s.reason;
  EXPECT_NE(s.reason.find("root-only"), std::string::npos) << s.reason;
}

TEST(Rapl, CounterThatCannotBeReadIsAnErrorNotZero) {
  FakePowercap t;  // a read that fails (here: a folder where the file should be), root or not
  const fs::path z = t.zone("intel-rapl:0", "package-0", 0);
  fs::remove(z / "energy_uj");
  fs::create_directory(z / "energy_uj");
  const bitlab::SensorStatus s = bitlab::probe_rapl(t.root);
  EXPECT_FALSE(s.available);
  EXPECT_NE(s.reason.find("cannot read " + (z / "energy_uj").string()), std::string::npos) << s.reason;
  EXPECT_THROW(RaplMeter{t.root}, DeviceError);
}

TEST(Rapl, MissingRangeOrGarbageCounter) {
  FakePowercap t;
  const fs::path z = t.zone("intel-rapl:0", "package-0", 0);
  fs::remove(z / "max_energy_range_uj");
  EXPECT_NE(bitlab::probe_rapl(t.root).reason.find("max_energy_range_uj is missing"), std::string::npos);
  t.zone("intel-rapl:0", "package-0", 0);
  std::ofstream(z / "energy_uj") << "-12\n";
  EXPECT_NE(bitlab::probe_rapl(t.root).reason.find("not a counter"), std::string::npos);
  std::ofstream(z / "energy_uj") << "\n";
  EXPECT_NE(bitlab::probe_rapl(t.root).reason.find("not a counter"), std::string::npos);
}

TEST(Rapl, CounterVanishingMidRunIsAnError) {
  FakePowercap t;
  const fs::path z = t.zone("intel-rapl:0", "package-0", 0);
  RaplMeter m(t.root);
  m.start();
  fs::remove(z / "energy_uj");
  EXPECT_THROW(m.stop(), DeviceError);
}

}  // namespace
