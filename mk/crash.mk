# Crash, I/O-fault and bad-input tests (c-tests/crash), and the soak.
#   make crash-check   builds the library and the tests, runs the crash suite
#                      at the check tier (scripts/suites/50-crash.sh)
#
#   make soak          every suite at the soak tier (LOOMS_TIER=soak
#                      scripts/check.sh, scripts/tier.sh): what make check
#                      runs, and the sweeps it leaves out:
#                      - 20/21/25 scenarios and 22-hostile in every boot
#                        mode under both tracking backends;
#                      - 23-tsan-library's store storms at every start;
#                      - 24-background: 10,000 random kills of background
#                        saves, every storm start, the 200 MiB and 1 GiB
#                        (direct I/O) saves on target/, 5,000 saves under a
#                        storing signal handler;
#                      - 26-granule: 64 KiB granules through the scenarios
#                        in sync and background saves, the crash suite in
#                        every mode and the tracking suite at full size;
#                      - 50-crash: 10,000 random kills per backend and mode;
#                      - 51-reflink: the whole crash suite with the pier on a
#                        loop-mounted xfs and btrfs, 1,000 random kills each
#                        (root only);
#                      - 55-track: 50,000/40,000 scattered first stores in a
#                        4 GiB loom, then 500,000 in a 16 GiB loom per
#                        backend (make soak-track alone), on target/;
#                      - 57-aarch64: background scenarios, the no_demand and
#                        swap boot modes, 50 random kills, under emulation;
#                      - 80-fuzz for 10 minutes.
#                      About an hour and a half on two cores and roughly
#                      50 GiB written, most of it the 500,000-store saves
#                      (estimated from its parts: the slice below, the
#                      crash soak's 24 minutes); 36 GiB free on target/.
#   make soak-slice    the soak tier of the suites that sweep (20 to 26, 50,
#                      57) with 200 random kills instead of 10,000, 1,000
#                      saves under the storing signal handler instead of 5,000, and
#                      without the 500,000-store runs, each suite killed
#                      (a FAIL) after 15 minutes: what .ci/run adds to
#                      make check. Measured: 13 minutes, 12.5 GiB kept, on
#                      a quiet two-core machine (docs/TESTING.md).
# CRASH_RUNS, CHECK_SUITES and CHECK_SUITE_TIMEOUT apply to both
# (scripts/check.sh, scripts/suites/50-crash.sh).

SOAK_SLICE ?= 20-* 21-* 22-* 23-* 24-* 25-* 26-* 50-* 57-*

.PHONY: crash-check soak soak-slice
crash-check: lib
	bash scripts/suites/50-crash.sh

soak: lib cli
	LOOMS_TIER=soak scripts/check.sh

soak-slice: lib cli
	LOOMS_TIER=soak CRASH_RUNS=$${CRASH_RUNS:-200} SIGNAL_ROUNDS=$${SIGNAL_ROUNDS:-1000} TRACK_SOAK=no \
	  CHECK_SUITES="$${CHECK_SUITES:-$(SOAK_SLICE)}" \
	  CHECK_SUITE_TIMEOUT=$${CHECK_SUITE_TIMEOUT:-900} scripts/check.sh
