# Cross build for 64-bit Arm Linux with Debian's cross compiler
# (g++-aarch64-linux-gnu) and the arm64 libraries installed multiarch under
# /usr/lib/aarch64-linux-gnu (scripts/deps-arm64). Used by the "aarch64" preset:
#   cmake --preset aarch64 && cmake --build --preset aarch64
# Test binaries, test discovery and ctest run under qemu-aarch64 (qemu-user);
# QEMU_CPU picks the emulated CPU model (cortex-a53: no dot product,
# cortex-a76: dot product), see the aarch64-* test presets.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Debian multiarch: arm64 libraries and their CMake packages live under
# /usr/lib/aarch64-linux-gnu; headers under /usr/include serve every arch.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

find_program(BITLAB_QEMU_AARCH64 qemu-aarch64)
if(BITLAB_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${BITLAB_QEMU_AARCH64})
endif()
