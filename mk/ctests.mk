# The C host's scenarios under other builds and tools.
#   make check-asan      library and host built with AddressSanitizer
#                        (loom moved out of ASan's shadow: feature asan-base)
#   make check-valgrind  the host under valgrind's memcheck
# Each runs scripts/suites/20-scenarios.sh and ends with "N passed, N failed".

ASAN_TARGET := $(CURDIR)/target/asan
SUMMARY = awk '/^PASS: /{p++} /^FAIL: /{f++} {print} END{printf "\n%d passed, %d failed\n", p, f; exit f>0}'

.PHONY: check-asan check-valgrind
check-asan:
	RUSTFLAGS="-Zsanitizer=address" RUSTC_BOOTSTRAP=1 \
	  $(CARGO) build --release --lib --features asan-base \
	  --target x86_64-unknown-linux-gnu --target-dir $(ASAN_TARGET)
	$(MAKE) -C c-tests/host asan ASAN_LIB_DIR=$(ASAN_TARGET)/x86_64-unknown-linux-gnu/release
	SCENARIO_BIN=$(CURDIR)/target/c-tests/scenario-asan SCENARIO_TAG=asan \
	  ASAN_OPTIONS=detect_leaks=0:allow_user_segv_handler=1 \
	  bash scripts/suites/20-scenarios.sh 2>&1 | $(SUMMARY)

check-valgrind: lib
	$(MAKE) -C c-tests/host
	SCENARIO_TAG=valgrind SCENARIO_TRACKING=mprotect \
	  SCENARIO_WRAP="valgrind -q --error-exitcode=9 --child-silent-after-fork=yes" \
	  bash scripts/suites/20-scenarios.sh 2>&1 | $(SUMMARY)
