// Facts about the host machine, read from the OS: CPU model, ISA flags,
// cores, memory. Used by `bitlab info`, DeviceInfo and result contexts.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace bitlab {

std::string cpu_model_name();
// ISA feature flags as the kernel reports them ("avx512f", "avx512_vnni", "asimddp", ...).
std::vector<std::string> cpu_flags();
bool cpu_has_flag(const std::string& flag);
int logical_cores();
size_t total_memory_bytes();
// Size of the largest CPU cache from sysfs, or 32 MiB when it cannot be read.
size_t last_level_cache_bytes();
std::string os_description();

}  // namespace bitlab
