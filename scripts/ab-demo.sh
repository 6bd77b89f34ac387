#!/usr/bin/env bash
# `make ab-demo`: the LD_PRELOAD A/B run. One host (c-tests/preload/abhost.c)
# linked against libevents.so, a small working stand-in for a runtime's own
# events.c (c-tests/preload/events.c), runs twice on a new pier: as built
# (A: the stand-in's u3e_* run) and with liblooms preloaded (B: looms' run,
# nothing relinked). Each run boots, fills 6 pages, saves and prints what
# the host sees; the demo then compares the two reports and the two piers'
# files byte for byte, and fails if they differ. The piers stay in
# target/ab-demo.
set -euo pipefail
cd "$(dirname "$0")/.."
host=target/preload-tests/abhost-events
lib=target/release/liblooms.so
out=target/ab-demo
make -s -C c-tests/preload "$PWD/$host" >/dev/null
rm -rf "$out"
mkdir -p "$out"

run() {
    local name=$1; shift
    echo "\$ $*"
    "$@" 2>&1 | tee "$out/$name.log"
    grep -v '^abhost: u3e_save is ' "$out/$name.log" >"$out/$name.report"
    echo
}
run a "$host" "$out/a" 6
run b env LD_PRELOAD="$lib" "$host" "$out/b" 6

same=1
if diff -u "$out/a.report" "$out/b.report"; then
    echo "A and B print the same report (only the object u3e_save came from differs)."
else
    same=0
fi
files_a=$(cd "$out/a" && find . -type f | sort)
files_b=$(cd "$out/b" && find . -type f | sort)
if [ "$files_a" != "$files_b" ]; then
    echo "A's pier holds: $files_a"
    echo "B's pier holds: $files_b"
    same=0
fi
for f in $files_a; do
    if cmp "$out/a/$f" "$out/b/$f"; then
        echo "A and B leave the same ${f#./}: $(stat -c %s "$out/a/$f") bytes, byte for byte."
    else
        same=0
    fi
done
[ "$same" = 1 ] || { echo "ab-demo: A and B differ"; exit 1; }
