# aarch64.cmake - test registrations for AArch64 builds (native on a board, or cross-built
# and run under qemu-aarch64 by scripts/test-aarch64): DYNRT_KERNELS=neon must select the
# NEON table. Under a cross build every test runs through the emulator: ctest prefixes the
# programs it starts, and the tests that start `dynrt` from a shell, python or a test
# program run ${DYNRT_TEST_DYNRT}, a script that calls the emulator (tests/CMakeLists.txt).
if(DYNRT_ARCH_ARM64 AND TARGET test_kernels_dispatch)
  add_test(NAME test_kernels_dispatch_neon COMMAND test_kernels_dispatch neon neon)
  set_tests_properties(test_kernels_dispatch_neon PROPERTIES TIMEOUT 30)
endif()
