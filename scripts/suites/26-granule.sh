#!/usr/bin/env bash
# Kernels with pages larger than the loom's 16 KiB (arm64 kernels built
# with 64 KiB pages): looms protects, maps and tracks in granules of the
# larger of the two. On this kernel the granule is 16 KiB, which every
# other suite runs; here the test setting LOOMS_TEST_GRANULE=65536 makes
# the library work in 64 KiB granules as on such a kernel (a first store
# dirties 4 pages, the guard covers 4, the image's last partial granule
# stays dirty), through:
#   - the scenarios (20-scenarios.sh), sync and background saves, under
#     both tracking backends, fault counts taken per granule;
#   - the crash points, writers and random kills (50-crash.sh) in every
#     boot mode;
#   - the tracking suite (55-track.sh): backend choice, fault counts, dirty
#     bitmaps and guard places computed per granule, round trips whose
#     image ends inside its last granule, and the scattered first stores
#     (10,000 per backend rather than 50,000 and 40,000, the process
#     holding all but 4,000 of the kernel's mappings so that mprotect
#     still reaches the mapping limit; about 50 s in all).
# This emulates the arithmetic on a 4 KiB kernel; no 64 KiB kernel ran it.
#
# The tiers (scripts/tier.sh): the check tier runs the scenarios in sync
# saves, the crash suite's points, writers and random kills under both
# backends (not the other boot modes), and the tracking suite at its check
# tier (2,500 scattered stores each); the soak tier (make soak) all of the
# above.
#   GRANULE_CRASH_RUNS  random kills per backend (default 10, at the soak
#                       tier 50)
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/tier.sh
export LOOMS_TEST_GRANULE=65536
failed=0
bash scripts/suites/20-scenarios.sh || failed=1
if soak; then
    SCENARIO_SAVE=background bash scripts/suites/20-scenarios.sh || failed=1
fi
CRASH_RUNS=${GRANULE_CRASH_RUNS:-$(tier 10 50)} CRASH_MODES=${CRASH_MODES-$(tier "" "no-demand swap")} \
    bash scripts/suites/50-crash.sh 2>&1 |
    sed -u 's#^\(PASS\|FAIL\|SKIP\): #\1: granule-64k/#'
[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
bash scripts/suites/55-track.sh 2>&1 |
    sed -u 's#^\(PASS\|FAIL\|SKIP\): #\1: granule-64k/#'
[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
exit $failed
