#!/usr/bin/env bash
# The model check of the capture's page states (src/capture/model.rs): the
# unit tests `capture::model::*` built with `--cfg loom`, where the page
# states' atomics and futex waits are the loom crate's, which runs each
# model (a worker holding batches of one to three pages, with more reads to
# come and for the last time, against a store side storing to the same
# pages once or twice) through every interleaving of its threads and every
# value the memory orderings allow, under two models of the futex: one
# that may wake at any time, one that never wakes unless woken (a missed
# wake-up is then a deadlock). Each model fails on a page the worker reads
# other than as it was at u3e_save, on a store or copy not ordered after
# the read it must follow (loom's cells standing for the page and slot
# bytes), on a thread left waiting, and when its executions never met a
# read from the loom, a read from a slot and a futex wait.
#
# Built in target/loom (the cfg changes every crate's build, so the main
# build is left as it is): about a minute cold, seconds after; the models
# take about 30 s on two cores. Only the models run there: the rest of the
# unit tests use the page states outside any model. MODEL_SECONDS: the
# models still running then are killed and fail (default 600).
set -uo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=$PWD/target/loom RUSTFLAGS="--cfg loom"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if ! cargo test --quiet --release --lib --no-run >"$log" 2>&1; then
    echo "FAIL: model/build"
    grep -v '^\s*$' "$log" | tail -n 25 | sed 's/^/    /'
    exit 1
fi
timeout -k 10 "${MODEL_SECONDS:-600}" \
    cargo test --release --lib capture::model -- --test-threads=2 --show-output >"$log" 2>&1
rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "FAIL: model/run (still running after ${MODEL_SECONDS:-600}s: killed)"
    tail -n 10 "$log" | sed 's/^/    /'
    exit 1
fi

# One line per model, then what each model's executions met.
sed -n 's#^test capture::model::\([a-z0-9_]*\) \.\.\. ok$#PASS: model/\1#p
        s#^test capture::model::\([a-z0-9_]*\) \.\.\. FAILED$#FAIL: model/\1#p' "$log"
awk '/^---- capture::model::.* stdout ----$/ { name = $2; sub("capture::model::", "", name); next }
     name != "" && /futex: / { print "    " name ": " $0 }
     /^$/ { name = "" }' "$log"
ran=$(grep -c '^test capture::model::' "$log")
if [ "$ran" -eq 0 ]; then
    echo "FAIL: model/ran (no model ran)"
    tail -n 25 "$log" | sed 's/^/    /'
    exit 1
fi
if [ "$rc" -ne 0 ]; then
    # The failures: loom's report and the model's panic, in short.
    sed -n '/^failures:$/,/^test result:/p' "$log" | grep -v '^\s*$' |
        grep -v '^ *[0-9]*: \|^ *at ' | head -n 40 | sed 's/^/    /'
    grep -q '^test capture::model::.* \.\.\. FAILED$' "$log" ||
        echo "FAIL: model/run (cargo test exited $rc)"
    exit 1
fi
exit 0
