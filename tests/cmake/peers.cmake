# peers.cmake - python/export_onnx.py (static sub-network, ONNX validity) and, when the peer
# programs are built (DYNRT_BUILD_BENCH) and ONNX Runtime is unpacked under bench/peers/.cache
# (`npm pack onnxruntime-node`, see bench/RESULTS.md "## Peers"), ONNX Runtime's logits
# against dynrt's on exported sub-networks; XNNPACK's and oneDNN's (layer list) when those
# peers are built, with oneDNN's per-layer profile lined up against dynrt's. Missing torch,
# ONNX Runtime or the layer-list peers: skipped (77).
set(DYNRT_ORT_LIB_DEFAULT
    ${PROJECT_SOURCE_DIR}/bench/peers/.cache/package/bin/napi-v6/linux/x64/libonnxruntime.so.1)
add_test(NAME py_test_export_onnx
  COMMAND ${CMAKE_COMMAND} -E env PYTHONDONTWRITEBYTECODE=1
          sh -c "/usr/bin/python3 -c 'import torch, onnx' 2>/dev/null || exit 77; exec /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/python/test_export_onnx.py StaticTest"
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(py_test_export_onnx PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "python")
if(DYNRT_BUILD_BENCH)
  add_test(NAME peers_ort_parity
    COMMAND ${CMAKE_COMMAND} -E env PYTHONDONTWRITEBYTECODE=1 DYNRT_REQUIRE_ORT=1
            DYNRT_PEER_DYNRT=$<TARGET_FILE:peer_dynrt> DYNRT_PEER_ORT=$<TARGET_FILE:peer_ort>
            DYNRT_ORT_LIB=${DYNRT_ORT_LIB_DEFAULT}
            sh -c "/usr/bin/python3 -c 'import torch, onnx' 2>/dev/null || exit 77; exec /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/python/test_export_onnx.py"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(peers_ort_parity PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                       LABELS "python;peers")
  # the layer-list peers are built only where their libraries are: the test looks for them
  # next to peer_dynrt and skips (77) when there are none
  add_test(NAME peers_layers_parity
    COMMAND ${CMAKE_COMMAND} -E env PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=1 DYNRT_REQUIRE_LAYER_PEERS=1
            DYNRT_PEER_DYNRT=$<TARGET_FILE:peer_dynrt> DYNRT_PEER_BIN_DIR=$<TARGET_FILE_DIR:peer_dynrt>
            sh -c "/usr/bin/python3 -c 'import torch' 2>/dev/null || exit 77; exec /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/python/test_export_onnx.py"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(peers_layers_parity PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                       LABELS "python;peers")
endif()
