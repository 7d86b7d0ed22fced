# Thin wrapper over CMake. `make` builds build/zload; `make check` runs everything from a fresh machine.
BUILD     ?= build
ASANBUILD ?= build-asan
JOBS      ?= $(shell nproc)

.PHONY: all deps demo check unit fuzz integration soak bench lambda clean

all:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@bash scripts/deps.sh

demo: all
	@bash examples/demo.sh

# Installs dependencies, builds with -Werror, runs unit tests under ASan/UBSan, then integration tests.
check: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZL_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	$(MAKE) unit
	bash tests/fuzz/run.sh 5
	$(MAKE) integration

unit:
	cmake -S . -B $(ASANBUILD) -DCMAKE_BUILD_TYPE=Debug -DZL_WERROR=ON -DZL_SANITIZE=ON >/dev/null
	cmake --build $(ASANBUILD) -j $(JOBS)
	cd $(ASANBUILD) && ctest --output-on-failure -j 2

# The fuzz targets (clang, libFuzzer, ASan/UBSan; tests/fuzz/run.sh), SECONDS (or FUZZ_SECONDS) each.
FUZZ_SECONDS ?= 20
SECONDS ?= $(FUZZ_SECONDS)
fuzz:
	bash tests/fuzz/run.sh $(SECONDS)

integration: all
	bash tests/integration/run.sh

# Two serve processes SIGKILLed at random while 500 files arrive 2-3 times each; every row once.
soak: all
	bash tests/soak/soak.sh

bench: all
	bash bench/events.sh

# The AWS Lambda package: bootstrap (zload), its shared libraries and a CA bundle (README).
LAMBDA_ZIP ?= dist/zload-lambda-$(shell uname -m).zip
lambda: all
	@bash scripts/lambda-package.sh $(BUILD)/zload $(LAMBDA_ZIP)

clean:
	rm -rf $(BUILD) $(ASANBUILD) build-fuzz dist
