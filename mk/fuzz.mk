# Fuzzing the parsers of everything read from a pier (cargo-fuzz, libFuzzer).
# cargo-fuzz needs unstable compiler flags; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them for this build only.
FUZZ_SECONDS ?= 600

.PHONY: fuzz
fuzz:
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run patch -- -max_total_time=$(FUZZ_SECONDS)
