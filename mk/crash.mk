# Crash, I/O-fault and bad-input tests (c-tests/crash).
#   make crash-check   builds the library and the tests, runs the suite
#   make soak          the same, with 10,000 random kills per tracking backend
#                      and mode (after make soak-track, see mk/track.mk), then
#                      10,000 random kills of background saves and 5,000 saves
#                      under a storing signal handler (24-background.sh),
#                      then the whole crash suite with the pier on a loop-mounted
#                      xfs and btrfs, 1,000 random kills each (51-reflink.sh;
#                      root only)

.PHONY: crash-check soak
crash-check: lib
	bash scripts/suites/50-crash.sh

soak: lib
	CRASH_RUNS=10000 bash scripts/suites/50-crash.sh
	CRASH_RUNS=10000 SIGNAL_ROUNDS=5000 bash scripts/suites/24-background.sh
	REFLINK_SOAK=1 CRASH_RUNS=1000 bash scripts/suites/51-reflink.sh
