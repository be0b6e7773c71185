# fuzz.cmake - libFuzzer targets, one per file or string parser (docs/fuzzing.md), with
# -DDYNRT_FUZZ=ON (clang only). Each tests/fuzz/fuzz_<name>.c has its seed corpus in
# tests/fuzz/corpus/<name>/ and a short smoke run registered as a ctest (label "fuzz"):
# the seeds plus 10 s of mutation. tests/fuzz/run-long runs them for longer.
#
# The library sources except the kernels are compiled once more with coverage and the
# address and undefined-behaviour sanitizers (dynrt_fuzz_obj) and linked into every target
# as objects, so that every parser and what consumes its output is instrumented. The
# kernels (per-file ISA flags, no input parsing) come uninstrumented from dynrt_static.
if(NOT DYNRT_FUZZ)
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "DYNRT_FUZZ needs clang (libFuzzer): configure with CC=clang")
endif()

# -fno-sanitize-recover: undefined behaviour stops the run like a crash, so libFuzzer
# reports it and keeps the input.
set(DYNRT_FUZZ_SAN address,undefined)
set(DYNRT_FUZZ_NORECOVER -fno-sanitize-recover=all)
file(GLOB DYNRT_FUZZ_LIB_SOURCES CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/src/core/*.c ${PROJECT_SOURCE_DIR}/src/engine/*.c
     ${PROJECT_SOURCE_DIR}/src/offline/*.c ${PROJECT_SOURCE_DIR}/src/platform/*.c
     ${PROJECT_SOURCE_DIR}/src/rtm/*.c ${PROJECT_SOURCE_DIR}/src/scenario/*.c)
add_library(dynrt_fuzz_obj OBJECT ${DYNRT_FUZZ_LIB_SOURCES})
target_compile_options(dynrt_fuzz_obj PRIVATE ${DYNRT_WARNINGS}
                       -fsanitize=fuzzer-no-link,${DYNRT_FUZZ_SAN} ${DYNRT_FUZZ_NORECOVER})
target_include_directories(dynrt_fuzz_obj
  PUBLIC ${PROJECT_SOURCE_DIR}/include PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_definitions(dynrt_fuzz_obj PRIVATE DYNRT_VERSION="${PROJECT_VERSION}")
target_link_libraries(dynrt_fuzz_obj PUBLIC PkgConfig::CJSON Threads::Threads m)

# name -> what it parses (docs/fuzzing.md has the full table)
set(DYNRT_FUZZ_TARGETS
  loader    # model file (safetensors + dynrt.arch), then a run of small models
  subnet    # sub-network string
  arch      # architecture JSON (dynrt.arch)
  oplib     # operating-point library JSON, save/load round trip
  bnfile    # BN-table sidecar (safetensors) of the smoke model
  lut       # per-block latency table JSON of the smoke model
  board     # platform (board) description JSON, opened as a simulator
  scenario  # scenario JSON
  cifar     # CIFAR-10 binary data set
  image     # PNG / JPEG decoding of the CLI
  sysfs     # sysfs value parsers (integers, decimals, CPU and frequency lists)
  procfs    # sysfs attribute files, /proc/stat, the crash-recovery state file
)

foreach(name IN LISTS DYNRT_FUZZ_TARGETS)
  set(target fuzz_${name})
  add_executable(${target} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${target}.c
                 $<TARGET_OBJECTS:dynrt_fuzz_obj>)
  target_compile_options(${target} PRIVATE ${DYNRT_WARNINGS}
                         -fsanitize=fuzzer,${DYNRT_FUZZ_SAN} ${DYNRT_FUZZ_NORECOVER})
  target_link_options(${target} PRIVATE -fsanitize=fuzzer,${DYNRT_FUZZ_SAN})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src
                             ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
  target_compile_definitions(${target} PRIVATE DYNRT_TEST_DIR="${CMAKE_CURRENT_SOURCE_DIR}"
                             DYNRT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  target_link_libraries(${target} PRIVATE dynrt_static PkgConfig::CJSON Threads::Threads m)
  # Smoke run: seeds plus 10 s of mutation; new inputs go to a scratch folder in the build
  # tree (libFuzzer writes into its first corpus folder), never into the source tree.
  set(work ${CMAKE_CURRENT_BINARY_DIR}/${target}_corpus)
  file(MAKE_DIRECTORY ${work})
  add_test(NAME ${target}_smoke
    COMMAND $<TARGET_FILE:${target}> -max_total_time=10 -max_len=65536 -rss_limit_mb=1024
            -timeout=25 ${work} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name})
  set_tests_properties(${target}_smoke PROPERTIES LABELS "fuzz" TIMEOUT 120)
endforeach()

# The CLI's image decoder is not in the library: compile it into its target, with the
# image libraries the CLI found.
target_sources(fuzz_image PRIVATE ${PROJECT_SOURCE_DIR}/src/cli/image.c)
if(PNG_FOUND)
  target_link_libraries(fuzz_image PRIVATE PkgConfig::PNG)
  target_compile_definitions(fuzz_image PRIVATE DYNRT_HAVE_PNG=1)
endif()
if(JPEG_FOUND)
  target_link_libraries(fuzz_image PRIVATE JPEG::JPEG)
  target_compile_definitions(fuzz_image PRIVATE DYNRT_HAVE_JPEG=1)
endif()
