// Facts about the host machine, read from the OS: CPU model, ISA flags,
// cores, memory. Used by `bitlab info`, DeviceInfo and result contexts, and
// (cold_copies) by the kernel benchmarks to keep weights out of the caches.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bitlab {

std::string cpu_model_name();
// ISA feature flags as the kernel reports them ("avx512f", "avx512_vnni", "asimddp", ...).
std::vector<std::string> cpu_flags();
int logical_cores();
size_t total_memory_bytes();
// Size of the largest CPU cache from sysfs, or 32 MiB when it cannot be read.
size_t last_level_cache_bytes();
// How many copies of a `copy_bytes` buffer a benchmark rotates through so that
// together they exceed `cold_bytes` (a cache that size cannot hold them all,
// so every pass reads its copy from memory): at least 1, at most `max_copies`.
size_t cold_copies(size_t copy_bytes, size_t cold_bytes, size_t max_copies = SIZE_MAX);
std::string os_description();

}  // namespace bitlab
