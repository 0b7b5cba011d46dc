# Which backends this build holds, and for the ones it leaves out, why.
# Each value ends up as BITLAB_HAVE_<NAME>=0|1 and BITLAB_WHY_NO_<NAME>="..." on
# the model library, read by model/registry.cpp through model/backends.def.

set(BITLAB_HAVE_SCALAR 1)
set(BITLAB_WHY_NO_SCALAR "")

# Further CPU variants (avx512, neon) compile into kernels/cpu when the
# compiler targets that architecture; the CPU itself is checked at run time.
set(BITLAB_HAVE_AVX512 0)
set(BITLAB_WHY_NO_AVX512 "this build has no AVX-512 kernels")
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
