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
set(BITLAB_HAVE_NEON 0)
set(BITLAB_WHY_NO_NEON "this build has no NEON kernels")

set(BITLAB_HAVE_CUDA 0)
set(BITLAB_WHY_NO_CUDA "this build has no CUDA backend")
set(BITLAB_HAVE_VULKAN 0)
set(BITLAB_WHY_NO_VULKAN "this build has no Vulkan backend")

set(BITLAB_BACKEND_DEFINES "")
foreach(b SCALAR AVX512 NEON CUDA VULKAN)
  list(APPEND BITLAB_BACKEND_DEFINES
    "BITLAB_HAVE_${b}=${BITLAB_HAVE_${b}}"
    "BITLAB_WHY_NO_${b}=\"${BITLAB_WHY_NO_${b}}\"")
endforeach()
