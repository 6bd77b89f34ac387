# The benchmark: liblooms against raw baselines, one table of ratios.
#   make bench        full run (5 fresh-process repetitions per row, ~minutes),
#                     then the page checksum's throughput
#   make bench-smoke  one repetition of small sizes, as the check suite runs it
#   make bench-disk   bytes reaching the device per save and per backup on a
#                     loop-mounted ext4, xfs and btrfs, beside LOOMS_REFLINK=0
#                     (scripts/bench-disk.sh; root), then what skipping dirty
#                     pages that hold the image's bytes would save and cost
# Scratch files go to target/bench-tmp (BENCH_DIR to move them).

.PHONY: bench bench-smoke bench-disk
bench: lib
	bash $(LOOMS_ROOT)/scripts/bench.sh
	$(CARGO) test --quiet --release --lib checksum::tests::throughput_report \
	  -- --ignored --nocapture 2>&1 | grep -v '^$$\|^running\|^test result'

bench-smoke: lib
	BENCH_QUICK=1 bash $(LOOMS_ROOT)/scripts/bench.sh

bench-disk: lib cli
	bash $(LOOMS_ROOT)/scripts/bench-disk.sh
