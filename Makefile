# dynrt - the two commands of the README:
#   make demo   builds everything and runs the main job on the shipped defaults
#   make test   installs missing build dependencies (Debian, as root), builds and runs the
#               test suite: a normal build (warnings as errors), then AddressSanitizer +
#               UndefinedBehaviorSanitizer, then ThreadSanitizer on the concurrent modules,
#               then the AArch64 cross build with its tests under qemu-aarch64 (skipped, with a
#               message, where the cross tools cannot be installed).
# Other targets: build, test-quick, test-asan, test-tsan, test-aarch64, bench, format, install,
# clean.

BUILD    ?= build
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE    ?= cmake
PREFIX   ?= /usr/local
# Debian packages the build, the tests and the benchmarks need.
DEPS     := build-essential cmake pkg-config libcjson-dev libcmocka-dev libpng-dev \
            libjpeg-dev python3 python3-numpy python3-torch python3-pil clang \
            libclang-rt-14-dev
BENCH_DEPS := libxnnpack-dev libpthreadpool-dev libcpuinfo-dev libdnnl-dev
# The AArch64 cross build and its tests: cross compiler and emulator for the host, and the
# arm64 libraries through Debian multiarch (libc6:arm64 also gives qemu the loader and libc
# the tests run with, see cmake/toolchain-aarch64.cmake).
AARCH64_DEPS := gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
                libc6:arm64 libcjson-dev:arm64 libcmocka-dev:arm64

.PHONY: all build deps bench-deps deps-aarch64 test test-quick test-asan test-tsan test-aarch64 \
        test-aarch64-or-skip bench demo format install clean

all: build

deps:
	@missing=""; for p in $(DEPS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root or install:$$missing" >&2; exit 1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

bench-deps:
	@$(MAKE) --no-print-directory deps DEPS="$(BENCH_DEPS)"

# As deps, plus the arm64 architecture in dpkg; when the installation fails (no arm64 in the
# APT sources, no network) an architecture this target added is removed again, so that the
# next `apt-get update` of `deps` does not fail on it.
deps-aarch64:
	@missing=""; for p in $(AARCH64_DEPS); do \
	  dpkg-query -W -f '$${Status}' $$p 2>/dev/null | grep -q "ok installed" || \
	    missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "run as root, or: dpkg --add-architecture arm64 && apt-get update &&" \
	      "apt-get install --no-install-recommends$$missing" >&2; exit 1; fi; \
	  added=0; dpkg --print-foreign-architectures | grep -qx arm64 || \
	    { dpkg --add-architecture arm64 && added=1; }; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; }; then \
	    [ $$added = 0 ] || dpkg --remove-architecture arm64; exit 1; fi; \
	fi

$(BUILD)/CMakeCache.txt:
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DDYNRT_WERROR=ON

build: deps $(BUILD)/CMakeCache.txt
	$(CMAKE) --build $(BUILD) -j $(JOBS)

test-quick: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Sanitizer builds at -O1: the templated SIMD kernels take minutes per file at -O2 under
# ASan, and -O1 keeps the CI within its budget while still finding what the sanitizers find.
SAN_FLAGS := '-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g'

test-asan: deps
	$(CMAKE) -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo $(SAN_FLAGS) -DDYNRT_WERROR=ON \
	  -DDYNRT_BUILD_BENCH=OFF -DDYNRT_SANITIZE=address,undefined
	$(CMAKE) --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 DYNRT_SANITIZED=1 \
	  ctest --output-on-failure -j $(JOBS) -LE slow

# ThreadSanitizer on the modules with threads (label "threads" in ctest): only their test
# programs are built.
TSAN_TARGETS := test_pool test_engine test_rtm_threads
test-tsan: deps
	$(CMAKE) -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo $(SAN_FLAGS) -DDYNRT_WERROR=ON \
	  -DDYNRT_BUILD_BENCH=OFF -DDYNRT_SANITIZE=thread
	$(CMAKE) --build $(BUILD)-tsan -j $(JOBS) --target $(TSAN_TARGETS)
	cd $(BUILD)-tsan && TSAN_OPTIONS=halt_on_error=1 DYNRT_SANITIZED=1 \
	  ctest --output-on-failure -j $(JOBS) -L threads

# libFuzzer targets of every parser (clang, ASan + UBSan), each a 10 s run from its seed
# corpus (tests/cmake/fuzz.cmake; long runs: tests/fuzz/run-long).
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
test-fuzz: deps
	CC=clang $(CMAKE) -S . -B $(BUILD)-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo $(SAN_FLAGS) \
	  -DDYNRT_BUILD_BENCH=OFF -DDYNRT_FUZZ=ON
	$(CMAKE) --build $(BUILD)-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	cd $(BUILD)-fuzz && ctest --output-on-failure -j $(JOBS) -L fuzz

test: test-quick test-asan test-tsan test-fuzz test-aarch64-or-skip

# Cross build for AArch64 in $(BUILD)-aarch64 and the test suite under qemu-aarch64 (NEON
# kernels against the scalar reference, engine parity fixtures, platform fixtures, manager,
# offline and CLI tests; correctness only): docs/deploy-arm.md section 2.1.
test-aarch64: deps-aarch64
	SKIP_DEPS=1 BUILD_AARCH64=$(abspath $(BUILD))-aarch64 JOBS=$(JOBS) scripts/test-aarch64

# The step of `make test`: a machine where the cross tools cannot be installed skips it with
# a message; where they are installed, a failing test fails the step.
test-aarch64-or-skip:
	@if $(MAKE) --no-print-directory deps-aarch64; then \
	  $(MAKE) --no-print-directory test-aarch64; \
	else \
	  echo "test-aarch64: SKIPPED: the cross tools ($(AARCH64_DEPS)) could not be installed"; \
	fi

# The main job: the two-model scenario on the simulated Xavier NX with every policy side by
# side (same seed), a short real run on this machine, the comparison tables, and one report.
DEMO_OUT ?= results/demo
demo: build
	./$(BUILD)/dynrt sim scenarios/xavier-gpu-two-models.json --policy all --out $(DEMO_OUT)/sim
	./$(BUILD)/dynrt run scenarios/host-real-short.json --out $(DEMO_OUT)/real
	./$(BUILD)/dynrt report $(DEMO_OUT)/sim $(DEMO_OUT)/real -o $(DEMO_OUT)/report.html

bench: bench-deps build
	$(CMAKE) --build $(BUILD) -j $(JOBS)

format:
	find include src tests bench -name '*.[ch]' | xargs clang-format -i

install: build
	$(CMAKE) --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-aarch64
