# Runtime manager: the concurrency test runs under ThreadSanitizer (make test-tsan).
if(TARGET test_rtm_threads)
  set_tests_properties(test_rtm_threads PROPERTIES LABELS "threads")
endif()
