# engine_profile.cmake - `dynrt bench --per-layer` on the tiny fixture: the per-layer table
# (session profile) is printed down to the classifier, with the by-kind summary and the sum of
# the layer medians against the run (tests/test_engine_profile.c checks the numbers).
if(TARGET dynrt)
  add_test(NAME cli_engine_bench_per_layer
    COMMAND dynrt bench ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/tiny.safetensors --smallest
            --runs 5 --warmup 1 --per-layer)
  set_tests_properties(cli_engine_bench_per_layer PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "head\\.classifier.*\nby kind:\n(.*\n)*sum of layer medians")
endif()
