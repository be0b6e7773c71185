# pool.cmake - the thread pool test runs under ThreadSanitizer (`make test-tsan`, label "threads").
if(TARGET test_pool)
  set_tests_properties(test_pool PROPERTIES LABELS "threads")
endif()
