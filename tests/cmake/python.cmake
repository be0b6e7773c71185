# python.cmake - the PyTorch reference's own tests (config strings, export round trip and
# fixture freshness, the export's check with the C engine, found through $DYNRT_BIN, OFA
# checkpoint conversion, channel sorting, a seconds-long training smoke run). They need
# /usr/bin/python3 with torch (Debian python3-torch, installed by `make deps`); without it
# they are reported as skipped (exit code 77), never as passed.
set(DYNRT_PYTHON /usr/bin/python3)
foreach(name test_config test_export test_convert_ofa test_sort test_train_smoke)
  add_test(NAME py_${name}
    COMMAND ${CMAKE_COMMAND} -E env PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=${PROJECT_SOURCE_DIR}/python
            DYNRT_BIN=${DYNRT_TEST_DYNRT}
            sh -c "${DYNRT_PYTHON} -c 'import torch' 2>/dev/null || exit 77; exec ${DYNRT_PYTHON} ${PROJECT_SOURCE_DIR}/tests/python/${name}.py"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(py_${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS "python")
endforeach()
set_tests_properties(py_test_train_smoke py_test_convert_ofa PROPERTIES LABELS "python;slow")
