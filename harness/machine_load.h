// What else the machine was doing while a run measured: load average,
// processes runnable, the CPU time other processes and the hypervisor took
// (steal), and the clock the cores ran at. Read from /proc and /sys on Linux;
// where a file is missing or unreadable (another OS, a container) the figure
// is left out, never guessed.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace bitlab {

// The aggregate "cpu" line of /proc/stat, in clock ticks summed over all CPUs.
struct CpuTimes {
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  // Guest time is already inside user and nice, so it is not added again.
  uint64_t total() const { return user + nice + system + idle + iowait + irq + softirq + steal; }
  uint64_t busy() const { return user + nice + system + irq + softirq; }
};

struct LoadAverage {
  double one_minute = 0;
  int64_t running = 0;  // scheduling entities runnable now, the reader included
};

// Parsers of the files' text, so tests feed them fixtures. nullopt: the text
// does not hold the expected fields.
std::optional<CpuTimes> parse_proc_stat(std::string_view text);
std::optional<LoadAverage> parse_loadavg(std::string_view text);
// The mean of the "cpu MHz" lines of /proc/cpuinfo.
std::optional<double> parse_cpuinfo_mhz(std::string_view text);
// One scaling_cur_freq file's kHz, as MHz.
std::optional<double> parse_scaling_khz(std::string_view text);

// A reading at one moment: the machine's CPU times and this process's own CPU time.
struct LoadSample {
  std::optional<CpuTimes> cpu;
  double self_cpu_seconds = 0;
  double ticks_per_second = 100;
};
LoadSample sample_load();

struct MachineLoad {
  std::optional<double> load_average_1m;     // at the end of the interval
  std::optional<int64_t> procs_running;      // at the end, this process's runnable threads included
  std::optional<double> busy_fraction;       // of all CPUs' time over the interval, every process
  std::optional<double> other_busy_fraction;  // the same without this process
  std::optional<double> steal_fraction;      // of all CPUs' time, taken by the hypervisor
  std::optional<double> cpu_mhz;             // mean current clock over the CPUs, at the end
};

// The fractions from two samples' difference; load, runnable and clock read now.
MachineLoad machine_load_between(const LoadSample& start, const LoadSample& end);
// The fractions alone: no files read (tests).
MachineLoad load_fractions(const LoadSample& start, const LoadSample& end);

// Adds the present figures to a result context under their schema names
// (load_average_1m, procs_running, busy_fraction, other_busy_fraction,
// steal_fraction, cpu_mhz); absent ones are left out.
void add_machine_load(nlohmann::json& context, const MachineLoad& load);

}  // namespace bitlab
