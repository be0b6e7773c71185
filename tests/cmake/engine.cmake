# engine.cmake - extra registrations of the engine tests:
#  - test_engine runs twice: with the best kernels (plain run) and with DYNRT_KERNELS=scalar,
#    the reference the vector kernels are checked against; both under TSan (label "threads")
#    because sessions run on the thread pool.
#  - smoke runs of `dynrt info` and `dynrt bench-switch` on the tiny fixture;
#  - with -DDYNRT_FUZZ=ON (clang): libFuzzer targets fuzz_loader / fuzz_subnet and a short
#    smoke run of each on its seed corpus.
if(TARGET test_engine)
  add_test(NAME test_engine_scalar COMMAND test_engine)
  set_tests_properties(test_engine test_engine_scalar PROPERTIES LABELS "threads" TIMEOUT 300)
  set_tests_properties(test_engine_scalar PROPERTIES
    ENVIRONMENT "DYNRT_KERNELS=scalar;DYNRT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()

# The CLI on the tiny fixture: `info` counts 2 x 90 x 810 x 90 sub-networks; `bench-switch`
# measures allocations during 20,000 switches, which must be none.
if(TARGET dynrt)
  add_test(NAME cli_engine_info
    COMMAND dynrt info ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/tiny.safetensors)
  set_tests_properties(cli_engine_info PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "sub-networks: 1\\.3122e\\+07")
  add_test(NAME cli_engine_bench_switch
    COMMAND dynrt bench-switch ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/tiny.safetensors
            --configs 16 --batches 20)
  set_tests_properties(cli_engine_bench_switch PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "allocations during switches: 0\n")
endif()

if(DYNRT_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "DYNRT_FUZZ needs clang (libFuzzer): configure with CC=clang")
  endif()
  # The engine sources are compiled into each target so that libFuzzer's coverage sees them;
  # the rest (core, kernels) comes from the library.
  file(GLOB DYNRT_FUZZ_ENGINE CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/engine/*.c)
  foreach(target fuzz_loader fuzz_subnet)
    add_executable(${target} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${target}.c ${DYNRT_FUZZ_ENGINE})
    target_compile_options(${target} PRIVATE ${DYNRT_WARNINGS} -fsanitize=fuzzer,address,undefined)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
    target_compile_definitions(${target} PRIVATE DYNRT_TEST_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
    target_link_libraries(${target} PRIVATE dynrt_static)
    string(REPLACE "fuzz_" "" corpus ${target})
    # Smoke run: seeds plus 10 s of mutation; new inputs go to a scratch folder in the build
    # tree (libFuzzer writes into its first corpus folder), never into the source tree.
    set(work ${CMAKE_CURRENT_BINARY_DIR}/${target}_corpus)
    file(MAKE_DIRECTORY ${work})
    add_test(NAME ${target}_smoke
      COMMAND $<TARGET_FILE:${target}> -max_total_time=10 -max_len=65536 -rss_limit_mb=1024
              ${work} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${corpus})
    set_tests_properties(${target}_smoke PROPERTIES LABELS "fuzz" TIMEOUT 120)
  endforeach()
endif()
