# reliability.cmake - the hardening tests (docs/reliability.md): the failing-allocator sweep,
# faults injected into the linux backend under a running manager, signals sent to a real
# `dynrt run` process on a fake sysfs tree, and the simulated 24-hour soak.
if(TARGET test_alloc_sweep)
  # Every allocation of every public entry point fails in turn: seconds in Release, about
  # 20 s under AddressSanitizer (it checks the leaks at exit).
  set_tests_properties(test_alloc_sweep PROPERTIES LABELS "reliability" TIMEOUT 600)
endif()
if(TARGET test_platform_linux_faults)
  set_tests_properties(test_platform_linux_faults PROPERTIES LABELS "platform;reliability"
    TIMEOUT 120)
endif()
if(TARGET test_platform_linux_signals AND TARGET dynrt)
  # Starts the dynrt command itself ($DYNRT_BIN) and signals it from outside.
  add_dependencies(test_platform_linux_signals dynrt)
  set_tests_properties(test_platform_linux_signals PROPERTIES LABELS "platform;reliability"
    TIMEOUT 300
    ENVIRONMENT "DYNRT_SOURCE_DIR=${PROJECT_SOURCE_DIR};DYNRT_BIN=${DYNRT_TEST_DYNRT}")
endif()
if(TARGET test_soak)
  # 24 simulated hours, five times: about 12 s in Release, a minute under AddressSanitizer.
  set_tests_properties(test_soak PROPERTIES LABELS "reliability;soak" TIMEOUT 900)
endif()
