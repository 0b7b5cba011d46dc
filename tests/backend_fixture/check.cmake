# The backend_fixture_configures test: a backend is its folder plus one line.
# Configures (no compile) a scratch build with the toy folder added through the
# test-only BITLAB_EXTRA_BACKEND_DIRS, then checks that the registry's generated
# list names it, in order after the backends of kernels/CMakeLists.txt.
#   cmake -DSOURCE=<repo> -DBINARY=<scratch dir> -DGENERATOR=<generator>
#         -DCXX=<c++> -DCC=<cc> [-DTOOLCHAIN=<file>] -P check.cmake
file(REMOVE_RECURSE "${BINARY}")
set(args -S "${SOURCE}" -B "${BINARY}" -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_C_COMPILER=${CC}"
  -DBITLAB_CUDA=OFF -DBITLAB_VULKAN=OFF -DBITLAB_TESTS=OFF
  "-DBITLAB_EXTRA_BACKEND_DIRS=${SOURCE}/tests/backend_fixture/toy")
if(TOOLCHAIN)
  list(APPEND args "-DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring with the toy backend failed:\n${out}")
endif()
set(list_file "${BINARY}/kernels/generated/kernels/backends.def")
file(READ "${list_file}" list)
if(NOT list MATCHES "BACKEND\\(scalar, 1, \"\", cpu\\)\n(.*\n)?BACKEND\\(toy, 1, \"\", cpu\\)\n")
  message(FATAL_ERROR "${list_file} does not list the toy backend after scalar:\n${list}")
endif()
message(STATUS "the registry lists the toy backend:\n${list}")
file(REMOVE_RECURSE "${BINARY}")
