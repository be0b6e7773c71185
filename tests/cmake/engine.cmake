# engine.cmake - extra registrations of the engine tests:
#  - test_engine runs twice: with the best kernels (plain run) and with DYNRT_KERNELS=scalar,
#    the reference the vector kernels are checked against; both under TSan (label "threads")
#    because sessions run on the thread pool.
#  - smoke runs of `dynrt info` and `dynrt bench-switch` on the tiny fixture.
# The fuzz targets (model file, sub-network string, ...) are registered in fuzz.cmake.
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
