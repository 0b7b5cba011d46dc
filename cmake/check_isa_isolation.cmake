# Run after bitlab_cpu is built: fails when an object compiled with ISA flags
# (e.g. -mavx512f) defines a weak function. Inline and template functions are
# emitted as weak symbols and the linker keeps one copy per binary, so such a
# function could be the copy the baseline (scalar) code calls, and the scalar
# backend would then execute AVX-512 on a CPU without it.
#   cmake -DNM=<nm> -DOBJECTS="a.o|b.o" -P check_isa_isolation.cmake
string(REPLACE "|" ";" objects "${OBJECTS}")
foreach(obj IN LISTS objects)
  execute_process(COMMAND "${NM}" --defined-only -C "${obj}" OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "check_isa_isolation: ${NM} failed on ${obj}")
  endif()
  string(REGEX MATCHALL "[^\n]* W [^\n]*" weak "${out}")
  if(weak)
    string(REPLACE ";" "\n  " weak "${weak}")
    message(FATAL_ERROR "${obj} is compiled with ISA-specific flags but defines weak functions that the "
                        "linker may also use for baseline code:\n  ${weak}\n"
                        "Keep helpers in an anonymous namespace and avoid std containers there.")
  endif()
endforeach()
