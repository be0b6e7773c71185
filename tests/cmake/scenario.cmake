# scenario.cmake - extra registrations of the scenario/report tests:
#  - test_report also writes its page to a fixed path, and python3's xml.etree parses every
#    inline SVG of it (a second, independent well-formedness check), when python3 exists.
#  - a smoke run of the `dynrt sim` command on a shipped scenario (two policies), and the
#    error message for a bad scenario file.
if(TARGET test_report)
  set(DYNRT_REPORT_PAGE ${CMAKE_CURRENT_BINARY_DIR}/test_report_page.html)
  set_tests_properties(test_report PROPERTIES
    ENVIRONMENT "DYNRT_SOURCE_DIR=${PROJECT_SOURCE_DIR};DYNRT_REPORT_OUT=${DYNRT_REPORT_PAGE}"
    FIXTURES_SETUP report_page)
  find_package(Python3 COMPONENTS Interpreter QUIET)
  if(Python3_Interpreter_FOUND)
    add_test(NAME test_report_svg_xml
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/python/check_report_svg.py
              ${DYNRT_REPORT_PAGE})
    set_tests_properties(test_report_svg_xml PROPERTIES FIXTURES_REQUIRED report_page TIMEOUT 60)
  endif()
endif()
if(TARGET dynrt)
  add_test(NAME dynrt_sim_smoke
    COMMAND dynrt sim ${PROJECT_SOURCE_DIR}/scenarios/xavier-gpu-two-models.json
            --policy rtm,static-max:schedutil --out ${CMAKE_CURRENT_BINARY_DIR}/sim_smoke)
  set_tests_properties(dynrt_sim_smoke PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "SIMULATED.*rtm.*static-max:schedutil")
  add_test(NAME dynrt_sim_bad_policy
    COMMAND dynrt sim ${PROJECT_SOURCE_DIR}/scenarios/xavier-gpu-two-models.json
            --policy turbo)
  set_tests_properties(dynrt_sim_bad_policy PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "'turbo': unknown policy")
endif()
if(TARGET dynrt)
  # A real run (1 s, one policy): real inference threads and a real pinned load process.
  add_test(NAME dynrt_run_smoke
    COMMAND dynrt run ${PROJECT_SOURCE_DIR}/scenarios/host-real-short.json
            --duration 1 --policy rtm --out ${CMAKE_CURRENT_BINARY_DIR}/run_smoke)
  set_tests_properties(dynrt_run_smoke PROPERTIES TIMEOUT 300 LABELS "slow"
    ENVIRONMENT "DYNRT_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    PASS_REGULAR_EXPRESSION "REAL run on .*energy MODELLED")
endif()
# The manager's targets on every shipped simulated scenario, all policies (seconds in a
# release build; left out of the sanitizer builds).
if(TARGET test_scenario_targets)
  set_tests_properties(test_scenario_targets PROPERTIES LABELS "sim;slow" TIMEOUT 600)
endif()
