#!/usr/bin/env bash
# The `looms` command against real piers written by liblooms: info, verify,
# recover, backup and diff on a clean pier, a pier with a valid patch left
# by a crash, corrupt and torn patches, an odd-sized image, an orphan
# memory.bin, a swap file and a pier locked by a running process.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

cargo build --quiet --release --features cli --bin looms
make --quiet -C c-tests/cli ROOT="$ROOT" >/dev/null

LOOMS=$ROOT/target/release/looms
MKPIER=$ROOT/target/cli-tests/mkpier
INJECT=$ROOT/target/cli-tests/inject.so
PAGE=16384

W=$(mktemp -d /tmp/looms-cli.XXXXXX)
HOLDER=
cleanup() {
    if [ -n "$HOLDER" ]; then kill "$HOLDER" 2>/dev/null || true; fi
    rm -rf "$W"
}
trap cleanup EXIT

failed=0
pass() { echo "PASS: cli/$1"; }
fail() {
    echo "FAIL: cli/$1"
    shift
    printf '    %s\n' "$@"
    failed=1
}

# run NAME ARGS...: runs looms, keeping stdout, stderr and the exit status
# in $W/NAME.out, $W/NAME.err and $RC.
run() {
    LAST=$1
    shift
    RC=0
    "$LOOMS" "$@" >"$W/$LAST.out" 2>"$W/$LAST.err" || RC=$?
}

# expect TEST RC [PYTHON-CONDITION]: the last run exited RC and the
# condition holds for its stdout: t, the text, d, the text parsed as JSON.
expect() {
    local name=$1 want=$2 cond=${3:-True}
    if [ "$RC" -ne "$want" ]; then
        fail "$name" "exit $RC, want $want" "$(head -c 600 "$W/$LAST.out")" \
            "$(head -c 600 "$W/$LAST.err")"
        return
    fi
    if python3 - "$W/$LAST.out" "$cond" <<'EOF'; then
import json, sys
t = open(sys.argv[1]).read()
try:
    d = json.loads(t)
except ValueError:
    d = None
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
        pass "$name"
    else
        fail "$name" "condition failed: $cond" "$(head -c 800 "$W/$LAST.out")"
    fi
}

chk() { echo "$W/$1/.urb/chk"; }

# Every file of a pier's .urb/chk: name, size, mtime, content hash.
fingerprint() {
    (cd "$(chk "$1")" && for f in *; do
        [ -e "$f" ] && echo "$f $(stat -c '%s %Y.%y' "$f") $(sha256sum <"$f")"
    done)
}

# Flips one byte of FILE at OFFSET.
flip() {
    python3 - "$1" "$2" <<'EOF'
import sys
path, at = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(at)
    b = f.read(1)
    f.seek(at)
    f.write(bytes([b[0] ^ 0xFF]))
EOF
}

# ---------------------------------------------------------------------------
# Piers

# base: 20 pages written and saved by the library.
"$MKPIER" save "$W/base" 20 1 0 20 >/dev/null 2>&1
cp "$(chk base)/image.bin" "$W/base.img"

# patched: a second save (pages 10-29, the image grows to 30 pages) cut at
# the end, then the image put back as it was before the save: a complete,
# valid patch that the image does not have yet.
cp -a "$W/base" "$W/patched"
rc=0
LOOMS_INJECT=cut-save LD_PRELOAD=$INJECT "$MKPIER" save "$W/patched" 30 2 10 20 \
    >/dev/null 2>&1 || rc=$?
if [ "$rc" -ne 70 ] || [ ! -s "$(chk patched)/control.bin" ]; then
    fail setup "the cut save exited $rc and left: $(ls "$(chk patched)")"
    exit 1
fi
cp "$(chk patched)/image.bin" "$W/expected.img"
cp "$W/base.img" "$(chk patched)/image.bin"

# The same patch over an image torn to an odd size.
cp -a "$W/patched" "$W/oddpatched"
truncate -s $((20 * PAGE + 5000)) "$(chk oddpatched)/image.bin"

# corrupt: one byte of page 13 in memory.bin (its 4th patch page) flipped.
cp -a "$W/patched" "$W/corrupt"
flip "$(chk corrupt)/memory.bin" $((3 * PAGE + 100))

# badmeta: one byte of control.bin's lines flipped.
cp -a "$W/patched" "$W/badmeta"
flip "$(chk badmeta)/control.bin" 20

# torn: control.bin without memory.bin.
cp -a "$W/patched" "$W/torn"
rm "$(chk torn)/memory.bin"

# odd: an image that is not a whole number of pages, no patch.
cp -a "$W/base" "$W/odd"
truncate -s $((20 * PAGE + 100)) "$(chk odd)/image.bin"

# oddcorrupt: an odd image and a corrupt patch.
cp -a "$W/corrupt" "$W/oddcorrupt"
truncate -s $((20 * PAGE + 100)) "$(chk oddcorrupt)/image.bin"

# orphan: memory.bin without control.bin.
cp -a "$W/base" "$W/orphan"
head -c $PAGE /dev/urandom >"$(chk orphan)/memory.bin"

# swap: a limbo.bin beside the image.
cp -a "$W/base" "$W/swap"
truncate -s 65536 "$(chk swap)/limbo.bin"

# noimage: .urb/chk without image.bin.
mkdir -p "$(chk noimage)"

READ_ONLY="base patched oddpatched corrupt badmeta torn odd orphan swap"
for p in $READ_ONLY; do fingerprint "$p" >"$W/$p.before"; done

# ---------------------------------------------------------------------------
# looms --help

run help --help
expect help_lists_exit_codes 0 "'Exit status' in t and '3  the pier is in use' in t and all(c in t for c in ('info', 'verify', 'recover', 'backup', 'diff'))"

# ---------------------------------------------------------------------------
# info

run info_text info "$W/base"
expect info_text 0 "'20 pages (327680 bytes' in t and 'patch:  none' in t and 'not locked' in t"

run info_base info --json "$W/base"
expect info_json_clean 0 "d['image']['pages'] == 20 and d['image']['bytes'] == 20 * $PAGE and d['image']['size_valid'] and d['patch']['state'] == 'none' and d['lock'] == {'locked': False, 'pids': []} and not d['swap']['present'] and d['free_bytes'] > 0"

run info_patched info --json "$W/patched"
expect info_json_valid_patch 0 "d['patch'] == {'state': 'valid', 'version': 2, 'pages': 20, 'page_ranges': [[10, 29]], 'total_pages': 30, 'checksums_valid': True, 'boot': 'apply'} and d['image']['pages'] == 20"

run info_corrupt info --json "$W/corrupt"
expect info_json_corrupt_page 0 "d['patch']['state'] == 'corrupt' and d['patch']['file'] == 'memory.bin' and d['patch']['checksums_valid'] is False and 'patch page (13) checksum fail' in d['patch']['reason']"

run info_badmeta info --json "$W/badmeta"
expect info_json_corrupt_control 0 "d['patch']['state'] == 'corrupt' and d['patch']['file'] == 'control.bin' and 'meta checksum' in d['patch']['reason']"

run info_odd info --json "$W/odd"
expect info_json_odd_size 0 "d['image']['size_valid'] is False and d['image']['pages'] is None and d['image']['bytes'] == 20 * $PAGE + 100 and 'odd size' in d['image']['size_problem']"

run info_orphan info --json "$W/orphan"
expect info_json_orphan 0 "d['patch']['state'] == 'orphan_memory'"

run info_swap info --json "$W/swap"
expect info_json_swap 0 "d['swap']['present'] and d['swap']['bytes'] == 65536 and d['swap']['path'].endswith('/.urb/chk/limbo.bin')"

run info_noimage info --json "$W/noimage"
expect info_json_missing_image 0 "d['image'] == {'path': '$(chk noimage)/image.bin', 'exists': False} and d['lock']['locked'] is False"

run info_missing info "$W/nowhere"
expect info_missing_pier 2 "t == ''"

# ---------------------------------------------------------------------------
# verify

run verify_base verify "$W/base"
expect verify_clean 0 "t.strip().endswith('boots cleanly') and 'note:' not in t"

run verify_patched verify --json "$W/patched"
expect verify_valid_patch_is_clean 0 "d['clean'] and d['applies_patch'] and d['problems'] == [] and any('valid patch pending' in n['note'] for n in d['notes'])"

run verify_corrupt verify "$W/corrupt"
expect verify_corrupt_page 1 "t.startswith('$(chk corrupt)/memory.bin: patch page (13) checksum fail') and 'would not boot cleanly' in t"

run verify_corrupt_json verify --json "$W/corrupt"
expect verify_corrupt_json 1 "not d['clean'] and [p['path'] for p in d['problems']] == ['$(chk corrupt)/memory.bin']"

run verify_badmeta verify "$W/badmeta"
expect verify_corrupt_control 1 "t.startswith('$(chk badmeta)/control.bin: patch meta checksum fail')"

run verify_torn verify "$W/torn"
expect verify_torn_patch 1 "t.startswith('$(chk torn)/memory.bin: missing')"

run verify_odd verify "$W/odd"
expect verify_odd_size 1 "t.startswith('$(chk odd)/image.bin: odd size: $((20 * PAGE + 100)) bytes')"

run verify_oddpatched verify "$W/oddpatched"
expect verify_odd_size_fixed_by_patch 0 "'odd size' in t and 'boots cleanly after boot applies the pending patch' in t"

run verify_orphan verify --json "$W/orphan"
expect verify_orphan_is_clean 0 "d['clean'] and d['notes'][0]['path'].endswith('/memory.bin')"

run verify_noimage verify "$W/noimage"
expect verify_missing_image 1 "t.startswith('$(chk noimage)/image.bin: missing')"

run verify_nowhere verify "$W/nowhere"
expect verify_missing_pier 2 "t.startswith('$W/nowhere/.urb/chk: ')"

LAST=verify_eio
RC=0
LOOMS_INJECT=eio-image LD_PRELOAD=$INJECT "$LOOMS" verify "$W/base" \
    >"$W/verify_eio.out" 2>"$W/verify_eio.err" || RC=$?
expect verify_read_errors 1 "t.startswith('$(chk base)/image.bin: unreadable: 16 pages (4-19), the first at byte 65536: Input/output error')"

# Nothing above changed a byte, a size or an mtime.
changed=
for p in $READ_ONLY; do
    fingerprint "$p" >"$W/$p.after"
    cmp -s "$W/$p.before" "$W/$p.after" || changed="$changed $p"
done
if [ -z "$changed" ] && [ ! -e "$(chk noimage)/image.bin" ]; then
    pass info_and_verify_change_nothing
else
    fail info_and_verify_change_nothing "changed:$changed"
fi

# ---------------------------------------------------------------------------
# diff

run diff_same diff "$W/base" "$W/base.img"
expect diff_identical 0 "t.strip().endswith('identical: 20 pages')"

run diff_grown diff --json "$W/base.img" "$W/expected.img"
expect diff_json_ranges 1 "d['identical'] is False and d['differ'] == [[10, 19]] and d['only_in_a'] == [] and d['only_in_b'] == [[20, 29]] and d['common_pages'] == 20 and d['differing_pages'] == 10 and d['a']['pages'] == 20 and d['b']['pages'] == 30"

cp "$W/base.img" "$W/onebyte.img"
flip "$W/onebyte.img" $((7 * PAGE + 4242))
run diff_onebyte diff "$W/onebyte.img" "$W/base"
expect diff_one_page 1 "'differ: 7\n' in t and 'different: 1 of 20 pages in common differ' in t"

run diff_odd diff --json "$W/base" "$W/odd"
expect diff_odd_tail 1 "d['differ'] == [] and d['only_in_b'] == [[20, 20]] and d['b']['size_valid'] is False"

run diff_patched diff "$W/patched" "$W/base"
expect diff_notes_pending_patch 0 "'note: A has a patch pending' in t"

run diff_missing diff "$W/base" "$W/nowhere"
expect diff_error 2 "t == ''"

# ---------------------------------------------------------------------------
# recover

# Boots PIER with the library, writes the loom's image pages to $W/NAME.dump
# and checks them against WANT; boot must print no loom: line.
boots_with() {
    local name=$1 pier=$2 want=$3 rc=0
    "$MKPIER" dump "$pier" "$W/$name.dump" >/dev/null 2>"$W/$name.boot" || rc=$?
    if [ "$rc" -ne 0 ] || grep -q 'loom:' "$W/$name.boot"; then
        fail "$name" "boot exited $rc" "$(head -c 600 "$W/$name.boot")"
    elif ! cmp -s "$W/$name.dump" "$want" || ! cmp -s "$(chk "${pier#"$W"/}")/image.bin" "$want"; then
        fail "$name" "the booted loom or image.bin differ from $want"
    else
        pass "$name"
    fi
}

run recover_patched recover "$W/patched"
expect recover_applies_valid_patch 0 "'applied the pending patch: 20 pages written, image.bin is now 30 pages' in t and t.strip().endswith('boots cleanly (30 pages)')"
if [ -e "$(chk patched)/control.bin" ] || [ -e "$(chk patched)/memory.bin" ]; then
    fail recover_removes_applied_patch "$(ls "$(chk patched)")"
else
    pass recover_removes_applied_patch
fi
boots_with recover_patched_boots "$W/patched" "$W/expected.img"
run verify_recovered verify "$W/patched"
expect verify_after_recover 0 "t.strip() == '$W/patched: boots cleanly'"

run recover_again recover "$W/patched"
expect recover_is_idempotent 0 "'no patch pending' in t"

run recover_oddpatched recover "$W/oddpatched"
expect recover_odd_image_with_valid_patch 0 "'image.bin is now 30 pages' in t"
boots_with recover_oddpatched_boots "$W/oddpatched" "$W/expected.img"

run recover_corrupt recover "$W/corrupt"
expect recover_discards_corrupt_patch 0 "'memory.bin: patch page (13) checksum fail' in t and 'patch removed' in t"
boots_with recover_corrupt_boots "$W/corrupt" "$W/base.img"

run recover_torn recover "$W/torn"
expect recover_discards_torn_patch 0 "'patch removed' in t and 'boots cleanly (20 pages)' in t"
[ -e "$(chk torn)/control.bin" ] && fail recover_torn_removes_control || pass recover_torn_removes_control

run recover_orphan recover "$W/orphan"
expect recover_removes_orphan 0 "'memory.bin: orphan removed' in t"
[ -e "$(chk orphan)/memory.bin" ] && fail recover_orphan_gone || pass recover_orphan_gone
boots_with recover_orphan_boots "$W/orphan" "$W/base.img"

fingerprint odd >"$W/odd.before"
run recover_odd recover "$W/odd"
expect recover_refuses_odd_image 1 "'odd size' in t and 'not touched' in t"
fingerprint odd >"$W/odd.after"
cmp -s "$W/odd.before" "$W/odd.after" && pass recover_odd_untouched ||
    fail recover_odd_untouched "$(diff "$W/odd.before" "$W/odd.after")"

run recover_oddcorrupt recover "$W/oddcorrupt"
expect recover_odd_image_corrupt_patch 1 "'patch removed' in t and 'not touched' in t"
[ "$(stat -c %s "$(chk oddcorrupt)/image.bin")" -eq $((20 * PAGE + 100)) ] &&
    pass recover_odd_corrupt_keeps_image || fail recover_odd_corrupt_keeps_image

run recover_noimage recover "$W/noimage"
expect recover_missing_image 2
[ -e "$(chk noimage)/image.bin" ] && fail recover_creates_nothing || pass recover_creates_nothing

# ---------------------------------------------------------------------------
# backup

run backup_new backup "$W/base" "$W/bk/new/deep"
expect backup_creates_dest 0 "'20 pages (327680 bytes) copied' in t"
cmp -s "$W/bk/new/deep/image.bin" "$W/base.img" && [ ! -e "$W/bk/new/deep/image.bin.tmp" ] &&
    pass backup_is_byte_identical || fail backup_is_byte_identical

mkdir -p "$W/bk/old"
head -c $((40 * PAGE)) /dev/urandom >"$W/bk/old/image.bin"
run backup_over backup "$W/base" "$W/bk/old"
expect backup_overwrites 0
cmp -s "$W/bk/old/image.bin" "$W/base.img" && pass backup_replaces_longer_file ||
    fail backup_replaces_longer_file "$(stat -c %s "$W/bk/old/image.bin") bytes"

run backup_keep backup --no-overwrite "$W/expected-pier-none" "$W/bk/old"
expect backup_missing_source 2
run backup_keep2 backup --no-overwrite "$W/base" "$W/bk/old"
expect backup_no_overwrite_refuses 2
run backup_fresh backup --no-overwrite "$W/orphan" "$W/bk/fresh"
expect backup_no_overwrite_new_dest 0
cmp -s "$W/bk/fresh/image.bin" "$W/base.img" && pass backup_no_overwrite_copies ||
    fail backup_no_overwrite_copies
# Missing parents are created with or without --no-overwrite.
run backup_fresh_deep backup --no-overwrite "$W/base" "$W/bk/nested/missing/dest"
expect backup_no_overwrite_nested_dest 0 "'20 pages (327680 bytes) copied' in t"
cmp -s "$W/bk/nested/missing/dest/image.bin" "$W/base.img" && pass backup_no_overwrite_nested_copies ||
    fail backup_no_overwrite_nested_copies

run backup_odd backup "$W/odd" "$W/bk/odd"
expect backup_refuses_odd_image 2
[ -e "$W/bk/odd" ] && fail backup_odd_creates_nothing || pass backup_odd_creates_nothing

run diff_backup diff "$W/bk/new/deep" "$W/base"
expect diff_backup_dir 0

# ---------------------------------------------------------------------------
# A pier in use

cp -a "$W/base" "$W/live"
"$MKPIER" hold "$W/live" "$W/live.ready" 2>/dev/null &
HOLDER=$!
for _ in $(seq 100); do
    [ -s "$W/live.ready" ] && break
    sleep 0.05
done
# A leftover that recover would remove if it ran.
head -c $PAGE /dev/zero >"$(chk live)/memory.bin"

run info_live info --json "$W/live"
expect info_json_locked_with_pid 0 "d['lock'] == {'locked': True, 'pids': [$HOLDER]}"
run info_live_text info "$W/live"
expect info_names_holder 0 "'locked by pid $HOLDER' in t"
run recover_live recover "$W/live"
expect recover_refuses_busy_pier 3 "t == '' and 'in use by pid $HOLDER' in open('$W/recover_live.err').read()"
[ -e "$(chk live)/memory.bin" ] && pass recover_busy_changes_nothing ||
    fail recover_busy_changes_nothing
run backup_live backup "$W/live" "$W/bk/live"
expect backup_refuses_busy_pier 3
run verify_live verify "$W/live"
expect verify_notes_running_pier 0 "'in use by pid $HOLDER' in t"

kill "$HOLDER"
wait "$HOLDER" 2>/dev/null || true
HOLDER=
run info_released info --json "$W/live"
expect info_json_unlocked_after_exit 0 "d['lock']['locked'] is False"

exit $failed
