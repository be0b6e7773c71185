# Simulator tests (platform sim backend, PELT, governor models): label "sim" so that
# `ctest -L sim` runs them alone. They find platforms/*.json through DYNRT_SOURCE_DIR.
foreach(t test_sim test_gov)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES LABELS "sim")
  endif()
endforeach()
