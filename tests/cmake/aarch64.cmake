# aarch64.cmake - test registrations for AArch64 builds (native on a board, or cross-built
# and run under qemu-aarch64 by scripts/test-aarch64):
#  - test_kernels_dispatch_neon: DYNRT_KERNELS=neon must select the NEON table;
#  - when cross-compiling, label "host-exec" on the tests that start the target `dynrt`
#    from a host shell or python instead of through ctest: ctest's emulator prefix does not
#    reach them, so they need binfmt_misc (scripts/test-aarch64 leaves them out without it).
#    They are registered by files read after this one, hence the deferred call.
if(DYNRT_ARCH_ARM64 AND TARGET test_kernels_dispatch)
  add_test(NAME test_kernels_dispatch_neon COMMAND test_kernels_dispatch neon neon)
  set_tests_properties(test_kernels_dispatch_neon PROPERTIES TIMEOUT 30)
endif()

function(dynrt_label_host_exec)
  # dynrt_* of scenario.cmake use COMMAND $<TARGET_FILE:dynrt>, which CMake 3.25 does not
  # prefix with the emulator (a plain target name, COMMAND dynrt, would be).
  foreach(t offline_cli_calibrate_eval eval_parity_tiny eval_parity_cifar10 dynrt_sim_smoke
          dynrt_sim_bad_policy dynrt_run_smoke)
    if(TEST ${t})
      set_property(TEST ${t} APPEND PROPERTY LABELS host-exec)
    endif()
  endforeach()
endfunction()
if(CMAKE_CROSSCOMPILING)
  cmake_language(DEFER CALL dynrt_label_host_exec)
endif()
