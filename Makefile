# floe: `make run` starts one broker on the embedded default; `make test` runs
# every test. Both install what is missing first (Debian packages, npm packages).

BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
ASAN_BUILD ?= build-asan
SPECS      ?= ../shared/kafka-protocol
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 60

# Debian packages: to build, to run the tests (real Kafka clients, fuzzing),
# and to benchmark.
BUILD_PKGS = g++ cmake ninja-build pkg-config libasio-dev libssl-dev zlib1g-dev \
             libsnappy-dev liblz4-dev libzstd-dev libsqlite3-dev \
             libcurl4-openssl-dev libexpat1-dev nlohmann-json3-dev libjemalloc-dev
TEST_PKGS  = libgtest-dev libgmock-dev clang libclang-rt-14-dev python3 python3-pytest \
             python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard \
             kcat librdkafka-dev

.PHONY: all build run test test-asan check-generated generate deps deps-test fuzz-build clean

all: build

# Installs only what is missing, so a machine that has everything does no apt work.
deps:
	@tools/install_packages.sh $(BUILD_PKGS)

deps-test: deps
	@tools/install_packages.sh $(TEST_PKGS)
	@# A machine may carry Node.js from elsewhere (with npm inside); Debian's npm would conflict.
	@command -v npm >/dev/null || tools/install_packages.sh nodejs npm
	@cd tests/clients/kafkajs && { [ -d node_modules/kafkajs ] || npm ci --no-audit --no-fund --loglevel=error; }
	@cd tests/s3 && { [ -d node_modules/s3rver ] || npm ci --no-audit --no-fund --loglevel=error; }

$(BUILD)/build.ninja:
	cmake -G Ninja -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DFLOE_FUZZ_BUILD_DIR=$(abspath $(FUZZ_BUILD)) \
	      -DFLOE_FUZZ_SECONDS=$(FUZZ_SECONDS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/floe serve --data-dir ./data

# The libFuzzer targets need clang; they build in their own tree with ASan/UBSan.
$(FUZZ_BUILD)/build.ninja:
	CXX=clang++ cmake -G Ninja -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOE_FUZZ=ON

fuzz-build: deps-test $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

test: deps-test build fuzz-build
	cd $(BUILD) && ctest --output-on-failure --timeout 900 -j $(JOBS)

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
$(ASAN_BUILD)/build.ninja:
	cmake -G Ninja -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFLOE_SANITIZE=ON

test-asan: deps-test $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target floe_unit_tests
	cd $(ASAN_BUILD) && ctest --output-on-failure -L unit -j $(JOBS)

# Regenerates the codec from Kafka's specs (the committed output is what builds).
generate:
	python3 tools/gen_protocol.py $(SPECS) src/protocol/generated

check-generated:
	tools/check_generated.sh $(SPECS)

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(ASAN_BUILD)

# The benchmark (bench/run.py): builds bench/load.cc (librdkafka's C API) into
# $(BUILD)/bench, starts brokers on the embedded default and prints a table; the
# numbers also go to bench/results.json. Sizes: BENCH_* variables, see bench/run.py.
BENCH_PKGS = g++ pkg-config librdkafka-dev python3 python3-confluent-kafka

.PHONY: bench
bench: build
	@tools/install_packages.sh $(BENCH_PKGS)
	FLOE_BIN=$(abspath $(BUILD))/floe BENCH_LOAD_BIN=$(abspath $(BUILD))/bench/floe_load /usr/bin/python3 bench/run.py
	FLOE_BIN=$(abspath $(BUILD))/floe /usr/bin/python3 bench/groups.py
	$(MAKE) --no-print-directory bench-meta

# Only the metadata store's commit cost as batch rows pile up (bench/meta_commit.cc).
.PHONY: bench-meta
bench-meta: build
	$(BUILD)/floe_meta_bench --commits 400 --window 40 --out bench/results-meta.json

# Only the consumer-group numbers (bench/groups.py): commit latency, rebalance time.
.PHONY: bench-groups
bench-groups: build
	@tools/install_packages.sh $(BENCH_PKGS)
	FLOE_BIN=$(abspath $(BUILD))/floe /usr/bin/python3 bench/groups.py
