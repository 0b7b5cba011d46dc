# Which backends this build holds, and for the ones it leaves out, why.
# Each value ends up as BITLAB_HAVE_<NAME>=0|1 and BITLAB_WHY_NO_<NAME>="..." on
# the model library, read by model/registry.cpp through model/backends.def.

set(BITLAB_HAVE_SCALAR 1)
set(BITLAB_WHY_NO_SCALAR "")

# Further CPU variants (avx512, neon) compile into kernels/cpu when the
# compiler targets that architecture; the CPU itself is checked at run time.
# Only the avx512 kernel files get BITLAB_AVX512_FLAGS: the rest of the binary
# stays baseline x86-64, so one binary runs `scalar` on a CPU without AVX-512.
set(BITLAB_AVX512_FLAGS -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx512dq)
if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|x64)$")
  set(BITLAB_HAVE_AVX512 0)
  set(BITLAB_WHY_NO_AVX512 "the build targets ${CMAKE_SYSTEM_PROCESSOR}, not x86-64")
else()
  include(CheckCXXCompilerFlag)
  set(BITLAB_HAVE_AVX512 1)
  set(BITLAB_WHY_NO_AVX512 "")
  foreach(flag IN LISTS BITLAB_AVX512_FLAGS)
    string(MAKE_C_IDENTIFIER "BITLAB_CXX_ACCEPTS${flag}" var)
    check_cxx_compiler_flag(${flag} ${var})
    if(NOT ${var})
      set(BITLAB_HAVE_AVX512 0)
      set(BITLAB_WHY_NO_AVX512 "the compiler does not accept ${flag}")
      break()
    endif()
  endforeach()
endif()
# NEON: 64-bit Arm only. Every neon kernel file is baseline Armv8-A except the
# dot-product tiles, which alone get BITLAB_NEON_DOTPROD_FLAGS; the probe takes
# that path only on a CPU whose hwcaps report asimddp.
set(BITLAB_NEON_DOTPROD_FLAGS -march=armv8.2-a+dotprod)
if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(BITLAB_HAVE_NEON 0)
  set(BITLAB_WHY_NO_NEON "the build targets ${CMAKE_SYSTEM_PROCESSOR}, not 64-bit Arm (aarch64)")
else()
  include(CheckCXXCompilerFlag)
  check_cxx_compiler_flag(${BITLAB_NEON_DOTPROD_FLAGS} BITLAB_CXX_ACCEPTS_DOTPROD)
  if(BITLAB_CXX_ACCEPTS_DOTPROD)
    set(BITLAB_HAVE_NEON 1)
    set(BITLAB_WHY_NO_NEON "")
  else()
    set(BITLAB_HAVE_NEON 0)
    set(BITLAB_WHY_NO_NEON "the compiler does not accept ${BITLAB_NEON_DOTPROD_FLAGS}")
  endif()
endif()

# CUDA: built where nvcc is found (AUTO), required (ON) or left out (OFF).
# Whether a GPU is present is a run-time question (`bitlab info`). Compiled for
# CMAKE_CUDA_ARCHITECTURES, 80;86;89;90 unless given (A100, RTX 30xx, L4/RTX
# 40xx, H100); the top CMakeLists.txt enables the language and adds kernels/cuda.
set(BITLAB_CUDA AUTO CACHE STRING "CUDA backend: AUTO (when nvcc is found), ON (required), OFF")
set_property(CACHE BITLAB_CUDA PROPERTY STRINGS AUTO ON OFF)
set(BITLAB_HAVE_CUDA 0)
if(BITLAB_CUDA STREQUAL "OFF")
  set(BITLAB_WHY_NO_CUDA "disabled at configure time (-DBITLAB_CUDA=OFF)")
else()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(BITLAB_HAVE_CUDA 1)
    set(BITLAB_WHY_NO_CUDA "")
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES "80;86;89;90" CACHE STRING "GPU architectures of the CUDA backend")
    endif()
  else()
    set(BITLAB_WHY_NO_CUDA "no CUDA compiler (nvcc) was found when this build was configured")
  endif()
endif()
if(BITLAB_CUDA STREQUAL "ON" AND NOT BITLAB_HAVE_CUDA)
  message(FATAL_ERROR "BITLAB_CUDA=ON but ${BITLAB_WHY_NO_CUDA}")
endif()
if(BITLAB_HAVE_CUDA)
  message(STATUS "bitlab: CUDA backend built for architectures ${CMAKE_CUDA_ARCHITECTURES}")
else()
  message(STATUS "bitlab: CUDA backend not built: ${BITLAB_WHY_NO_CUDA}")
endif()
# Vulkan: needs the Vulkan headers and glslc at build time (shaders become
# SPIR-V in the binary). The loader is opened at run time, so the binary runs
# on machines without it; `bitlab info` then says what is missing.
set(BITLAB_VULKAN AUTO CACHE STRING "Vulkan backend: AUTO (when headers and glslc are found), ON (required), OFF")
set_property(CACHE BITLAB_VULKAN PROPERTY STRINGS AUTO ON OFF)
find_path(BITLAB_VULKAN_INCLUDE_DIR vulkan/vulkan.h)
find_program(BITLAB_GLSLC glslc)
set(BITLAB_HAVE_VULKAN 0)
if(BITLAB_VULKAN STREQUAL "OFF")
  set(BITLAB_WHY_NO_VULKAN "disabled at configure time (-DBITLAB_VULKAN=OFF)")
elseif(NOT BITLAB_VULKAN_INCLUDE_DIR)
  set(BITLAB_WHY_NO_VULKAN "the Vulkan headers were not found at build time (Debian: libvulkan-dev)")
elseif(NOT BITLAB_GLSLC)
  set(BITLAB_WHY_NO_VULKAN "glslc was not found at build time (Debian: glslc)")
else()
  set(BITLAB_HAVE_VULKAN 1)
  set(BITLAB_WHY_NO_VULKAN "")
endif()
if(BITLAB_VULKAN STREQUAL "ON" AND NOT BITLAB_HAVE_VULKAN)
  message(FATAL_ERROR "BITLAB_VULKAN=ON but ${BITLAB_WHY_NO_VULKAN}")
endif()
message(STATUS "bitlab: Vulkan backend ${BITLAB_HAVE_VULKAN} ${BITLAB_WHY_NO_VULKAN}")

set(BITLAB_BACKEND_DEFINES "")
foreach(b SCALAR AVX512 NEON CUDA VULKAN)
  list(APPEND BITLAB_BACKEND_DEFINES
    "BITLAB_HAVE_${b}=${BITLAB_HAVE_${b}}"
    "BITLAB_WHY_NO_${b}=\"${BITLAB_WHY_NO_${b}}\"")
endforeach()
