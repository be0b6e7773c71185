# offline.cmake - extra registrations of the offline stage (calibrate, eval, profile, search):
#  - the offline unit tests also run with DYNRT_KERNELS=scalar (calibration and the block
#    table call the kernel table);
#  - CLI smoke runs of `dynrt profile` and `dynrt search` on the tiny fixture with synthetic
#    images (seconds), outputs in the build tree;
#  - eval_parity_tiny: C calibrate/eval vs the PyTorch reference on the tiny fixture and 300
#    synthetic images (needs /usr/bin/python3 with torch; skipped otherwise);
#  - eval_parity_cifar10: the same on real CIFAR-10 images with the newest CIFAR-10 model in
#    models/ (needs data/cifar10 or $DYNRT_DATA; skipped otherwise). Label "data".
#  - model_parity: logits of the shipped model and an ImageNet-shaped random one against the
#    PyTorch reference (tests/python/model_parity.py; skipped without torch).
foreach(t test_calib test_search test_dataset test_offline_profile)
  if(TARGET ${t})
    add_test(NAME ${t}_scalar COMMAND ${t})
    set_tests_properties(${t}_scalar PROPERTIES TIMEOUT 300
      ENVIRONMENT "DYNRT_KERNELS=scalar;DYNRT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  endif()
endforeach()

set(DYNRT_OFFLINE_OUT ${CMAKE_CURRENT_BINARY_DIR}/offline)
file(MAKE_DIRECTORY ${DYNRT_OFFLINE_OUT})
set(DYNRT_TINY ${PROJECT_SOURCE_DIR}/tests/fixtures/tiny.safetensors)
add_test(NAME offline_cli_profile
  COMMAND dynrt profile ${DYNRT_TINY} --threads 1,2 --subnets "largest;smallest;random:4:1"
          --runs 5 --warmup 1 --lut-runs 2 -o ${DYNRT_OFFLINE_OUT}/tiny.profile.json
          --lut ${DYNRT_OFFLINE_OUT}/tiny.profile.lut.json)
add_test(NAME offline_cli_calibrate_eval
  COMMAND sh -c "rm -f $1 && $0 calibrate $2 --data synthetic:60:1 --subnets 'largest;smallest' --images 40 --batch 20 -o $1 && $0 calibrate $2 --data synthetic:60:1 --subnets 'largest;smallest' --images 40 --batch 20 -o $1 | grep -q 'kept 2' && $0 eval $2 --data synthetic:60:2 --subnet 'largest;smallest' --bn $1 --threads 2 --json | grep -q top1_pct"
          ${DYNRT_TEST_DYNRT} ${DYNRT_OFFLINE_OUT}/tiny.bn.safetensors ${DYNRT_TINY})
add_test(NAME offline_cli_search
  COMMAND dynrt search ${DYNRT_TINY} --train synthetic:60:1 --val synthetic:60:2
          --test synthetic:60:3 --population 6 --generations 2 --calib-images 20
          --val-images 30 --final-calib-images 40 --runs 3 --threads 1,2
          --boards xavier-nx,rpi4 -o ${DYNRT_OFFLINE_OUT}/tiny.oplib.json)
set_tests_properties(offline_cli_profile offline_cli_calibrate_eval offline_cli_search
  PROPERTIES TIMEOUT 300 ENVIRONMENT "DYNRT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
# The ends of the space are always finalists (the archive's first two entries are the largest
# and the smallest sub-networks, evaluated first).
if(EXISTS /usr/bin/python3)
  add_test(NAME offline_cli_search_ends
    COMMAND /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); f=[x['config'] for x in r['finalists']]; a=[x['config'] for x in r['search']['archive'][:2]]; sys.exit(0 if all(c in f for c in a) else 'ends missing from finalists: %s not in %s' % (a, f))"
            ${DYNRT_OFFLINE_OUT}/tiny.search.json)
  set_tests_properties(offline_cli_search_ends PROPERTIES DEPENDS offline_cli_search)
  # The search fits the table's memory term on sub-networks it measured first, ranks with it,
  # stores it with the table and reports it.
  add_test(NAME offline_cli_search_memory_term
    COMMAND /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); l=json.load(open(sys.argv[2])); f=r['latency_fit']; m=l['memory_term']; ok=f['a']>0 and len(f['subnets'])>=3 and abs(m['a']-f['a'])<=1e-9*f['a'] and 'memory term' in r['search']['latency']; sys.exit(0 if ok else 'latency_fit %s / memory_term %s' % (f, m))"
            ${DYNRT_OFFLINE_OUT}/tiny.search.json ${DYNRT_OFFLINE_OUT}/tiny.lut.json)
  set_tests_properties(offline_cli_search_memory_term PROPERTIES DEPENDS offline_cli_search)
  # dynrt profile --lut stores the one-thread memory term fitted on the profiled
  # sub-networks, the one its report gives as fit_all.
  add_test(NAME offline_cli_profile_memory_term
    COMMAND /usr/bin/python3 -c "import json,sys; p=json.load(open(sys.argv[1])); l=json.load(open(sys.argv[2])); f=[x['fit_all'] for x in p['prediction'] if x['threads'] == 1 and 'fit_all' in x][0]; m=l['memory_term']; sys.exit(0 if abs(m['a']-f['a'])<=1e-9*f['a'] and abs(m['c_bytes']*1e-6-f['c_mb'])<=1e-9*(1+f['c_mb']) else 'memory_term %s vs fit_all %s' % (m, f))"
            ${DYNRT_OFFLINE_OUT}/tiny.profile.json ${DYNRT_OFFLINE_OUT}/tiny.profile.lut.json)
  set_tests_properties(offline_cli_profile_memory_term PROPERTIES DEPENDS offline_cli_profile)
  # The headline with both shipped libraries' sub-networks timed again, interleaved.
  add_test(NAME offline_headline_measure
    COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/headline --measure 2 --runs 3
            --dynrt ${DYNRT_TEST_DYNRT} --svg ${DYNRT_OFFLINE_OUT}/ofa-vs-width.svg)
  set_tests_properties(offline_headline_measure PROPERTIES TIMEOUT 300 LABELS "scripts"
    PASS_REGULAR_EXPRESSION "interleaved \\(2 rounds in a shuffled order, 3 runs each.*[|] width-only sub-network [|]"
    FAIL_REGULAR_EXPRESSION "Traceback|headline: ")
  # Its re-timing rule (rounds, medians, one latency for a network in both libraries) with
  # `dynrt bench` replaced by a fake.
  add_test(NAME py_test_headline
    COMMAND ${CMAKE_COMMAND} -E env PYTHONDONTWRITEBYTECODE=1
            /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/python/test_headline.py)
  set_tests_properties(py_test_headline PROPERTIES TIMEOUT 60 LABELS "scripts")
endif()

if(EXISTS /usr/bin/python3)
  add_test(NAME eval_parity_tiny
    COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/python/eval_parity.py ${DYNRT_TEST_DYNRT})
  add_test(NAME eval_parity_cifar10
    COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/python/eval_parity.py ${DYNRT_TEST_DYNRT}
            --model auto --real)
  set_tests_properties(eval_parity_tiny eval_parity_cifar10 PROPERTIES TIMEOUT 900
    SKIP_RETURN_CODE 77 ENVIRONMENT "DYNRT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  set_tests_properties(eval_parity_cifar10 PROPERTIES LABELS "data")
  # The engine's logits against the PyTorch reference: the shipped CIFAR-10 super-network and
  # an ImageNet-shaped random one, 22 sub-networks each, real test images (a 100-image
  # fixture), `dynrt eval --logits`.
  # Under emulation (the AArch64 suite) a smaller set: 20 random sub-networks take minutes there.
  set(DYNRT_PARITY_ARGS "")
  if(CMAKE_CROSSCOMPILING_EMULATOR)
    set(DYNRT_PARITY_ARGS --random 4 --cifar-images 20 --imagenet-images 2)
  endif()
  add_test(NAME model_parity
    COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/python/model_parity.py ${DYNRT_TEST_DYNRT}
            ${DYNRT_PARITY_ARGS})
  set_tests_properties(model_parity PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77 LABELS "parity"
    ENVIRONMENT "DYNRT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  # python/export.py: a dynrt file re-exported and verified with the C engine
  add_test(NAME py_export_verify
    COMMAND sh -c "/usr/bin/python3 -c 'import torch' 2>/dev/null || exit 77; exec /usr/bin/python3 $0 $1 $2 --dynrt $3"
            ${PROJECT_SOURCE_DIR}/python/export.py ${PROJECT_SOURCE_DIR}/tests/fixtures/tiny_w.safetensors
            ${DYNRT_OFFLINE_OUT}/tiny_w.reexport.safetensors ${DYNRT_TEST_DYNRT})
  set_tests_properties(py_export_verify PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS "parity"
    PASS_REGULAR_EXPRESSION "export: verified with .*: 5 sub-networks")
endif()
