# The benchmark: liblooms against raw baselines, one table of ratios.
#   make bench        full run (5 fresh-process repetitions per row, ~minutes)
#   make bench-smoke  one repetition of small sizes, as the check suite runs it
# Scratch files go to target/bench-tmp (BENCH_DIR to move them).

.PHONY: bench bench-smoke
bench: lib
	bash $(LOOMS_ROOT)/scripts/bench.sh

bench-smoke: lib
	BENCH_QUICK=1 bash $(LOOMS_ROOT)/scripts/bench.sh
