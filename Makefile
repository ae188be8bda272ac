# Parley — the two set-up commands are `make run` and `make test`.
PORT ?= 3000
JOBS ?= $(shell nproc)
BUILD ?= build
TEST_BUILD ?= build-test

.PHONY: all build run test bench deps clean format

all: build

deps:
	@scripts/install-deps.sh run

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@mkdir -p data
	PARLEY_PORT=$(PORT) PARLEY_DATA=./data PARLEY_WEB_ROOT=./web $(BUILD)/parley serve

test:
	@scripts/install-deps.sh test
	@CC=clang cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	    -DPARLEY_SANITIZE=ON -DPARLEY_FUZZ=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	@cd $(TEST_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS) --timeout 900

bench:
	@scripts/install-deps.sh bench
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@bench/run.sh

format:
	@find src examples tests fuzz bench -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
