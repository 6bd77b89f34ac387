#!/usr/bin/env bash
# `make demo` as README.md's first screen runs it: it succeeds, leaves its
# pier in target/demo-pier, and ends with `looms info` and `looms verify`
# on it; in background mode it says that u3e_save returned before the patch
# was written, and that looms_save_wait saw it applied; VERBOSE=1 shows the
# library's own lines. `make ab-demo` runs one host on the events.c stand-in
# and on looms preloaded, and shows the same report and the same pier files.
set -uo pipefail
cd "$(dirname "$0")/../.."
PIER=$PWD/target/demo-pier
W=$(mktemp -d /tmp/looms-demo-test.XXXXXX)
trap 'rm -rf "$W"' EXIT
failed=0
pass() { echo "PASS: demo/$1"; }
fail() {
    echo "FAIL: demo/$1"
    sed 's/^/    /' "$2" | tail -n 30
    failed=1
}
has() { grep -qF -- "$2" "$1"; }

# demo NAME [ENV...]: runs make demo under ENV into $W/NAME.
demo() {
    local name=$1
    shift
    env "$@" make --no-print-directory -s demo >"$W/$name" 2>&1
}

if demo sync && has "$W/sync" "$ looms info $PIER" && has "$W/sync" "patch:  none" &&
    has "$W/sync" "$ looms verify $PIER" && has "$W/sync" "$PIER: boots cleanly" &&
    has "$W/sync" "looms_save_wait: on disk: patch applied and removed" &&
    [ "$(stat -c %s "$PIER/.urb/chk/image.bin" 2>/dev/null)" = $((2048 * 16384)) ] &&
    [ "$(tail -n 1 "$W/sync")" = "the pier stays in $PIER: try the looms commands on it (README.md)" ]; then
    pass "leaves_its_pier_and_shows_info_and_verify"
else
    fail "leaves_its_pier_and_shows_info_and_verify" "$W/sync"
fi

if demo background LOOMS_SAVE=background &&
    has "$W/background" "(copied; a thread writes the patch)" &&
    has "$W/background" "looms_save_wait: on disk: patch applied and removed" &&
    has "$W/background" "$PIER: boots cleanly"; then
    pass "background_mode_says_what_happened"
else
    fail "background_mode_says_what_happened" "$W/background"
fi

if demo verbose VERBOSE=1 && has "$W/verbose" "loom: saves: sync" &&
    has "$W/verbose" "loom: tracking: " && ! has "$W/sync" "loom: saves: "; then
    pass "verbose_shows_the_library_lines"
else
    fail "verbose_shows_the_library_lines" "$W/verbose"
fi

if make --no-print-directory -s ab-demo >"$W/ab" 2>&1 &&
    has "$W/ab" "abhost: u3e_save is $PWD/target/preload-tests/libevents.so's" &&
    has "$W/ab" "abhost: u3e_save is target/release/liblooms.so's" &&
    [ "$(grep -c '^image_matches=1$' "$W/ab")" = 2 ] &&
    has "$W/ab" "A and B print the same report" &&
    has "$W/ab" "A and B leave the same .urb/chk/image.bin: $((6 * 16384)) bytes, byte for byte." &&
    ! has "$W/ab" "ab-demo: A and B differ"; then
    pass "ab_demo_same_report_and_files_on_the_stand_in_and_on_looms"
else
    fail "ab_demo_same_report_and_files_on_the_stand_in_and_on_looms" "$W/ab"
fi

exit $failed
