#!/usr/bin/env bash
# Dirty tracking: the two backends (LOOMS_TRACKING=mprotect|uffd|auto), how
# one is chosen in each boot mode, the fall-back to mprotect when
# userfaultfd is missing, fault counts, no_demand's parallel load into huge
# pages (and without huge pages or threads), 50,000 (mprotect) and 40,000
# (uffd) scattered first stores in a 4 GiB loom, and the guard page.
#
# Every count is the library's granule's (track granule): page by page in
# 16 KiB granules, granule by granule in larger ones (LOOMS_TEST_GRANULE=
# 65536, run by 26-granule.sh). In larger granules the scattered-store
# tests store 10,000 times each, and reach the kernel's mapping limit by
# holding all but 4,000 of the mappings it allows (see scatter below).
#
#   55-track.sh         the checks (make track-check; part of make check);
#                       at the soak tier (LOOMS_TIER=soak, make soak) the
#                       checks, then the 500,000 stores below (unless
#                       TRACK_SOAK=no)
#   55-track.sh soak    500,000 scattered first stores in a 16 GiB loom under
#                       both backends (make soak-track; needs ~36 GiB of disk)
#
# The tiers (scripts/tier.sh): the scattered-store tests above are the soak
# tier's, on target/. At the check tier each backend takes 10,000 scattered
# first stores (2,500 in larger granules), the process holding all but
# 4,000 (1,000) of the kernel's mappings so that mprotect still meets the
# mapping limit, and every pier is on the scratch file system (memory where
# it can be): tracking is about the loom's mappings, not the disk.
#
# TRACK_OUT, TRACK_CC, TRACK_WRAP: another build of the tests, made with
# TRACK_CC into TRACK_OUT and run through TRACK_WRAP (the aarch64 build
# under emulation); LOOMS_PRELOAD_VAR names the variable that preloads a
# library into it (default LD_PRELOAD). TRACK_EMULATED=yes says the program
# runs under user-mode emulation: the emulator keeps MADV_HUGEPAGE from the
# kernel, so no huge pages are required, and the scattered-store tests,
# which measure the kernel's mapping limit rather than the architecture,
# are skipped (the emulator's own bookkeeping refuses a 4 GiB file mapping).
#
# At the soak tier piers live under target/ (the repository's file system,
# not /tmp, which may be memory); each is removed as its test ends.
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/tier.sh
: "${LOOMS_ROOT:=$PWD}"
: "${LOOMS_LIB_DIR:=$LOOMS_ROOT/target/release}"
OUT=${TRACK_OUT:-$LOOMS_ROOT/target/track-tests}
PRELOAD=${LOOMS_PRELOAD_VAR:-LD_PRELOAD}
MODE=${1:-$(tier check all)}
[ "$MODE" = all ] && [ "${TRACK_SOAK:-yes}" = no ] && MODE=check
case $MODE in
check | soak | all) ;;
*)
    echo "usage: $0 [check|soak]" >&2
    exit 2
    ;;
esac

VERBOSE=$((1 << 4))
NO_DEMAND=$((1 << 9))
SWAP=$((1 << 12))
# Disk the scattered-store tests need free, in GiB: the image's data and a
# patch of the same size exist together during a save. mprotect may save
# up to twice the stored pages (see scatter in track.c): 50,000 stores
# save about 78,000 pages (1.2 GiB) into an image of 1.6 GiB.
SCATTER_GIB=4
SOAK_GIB=36

failed=0
pass() { echo "PASS: track/$1"; }
fail() {
    echo "FAIL: track/$1"
    shift
    printf '    %s\n' "$@"
    failed=1
}
# fail_log NAME FILE: fails NAME showing FILE's first lines.
fail_log() {
    echo "FAIL: track/$1"
    tr -d '\r' <"$2" | head -n 40 | sed 's/^/    /'
    failed=1
}
skip() { echo "SKIP: track/$1 ($2)"; }

mkdir -p "$LOOMS_ROOT/target"
WORK=$(tier "$LOOMS_SCRATCH" "$LOOMS_ROOT/target")
[ "$MODE" = soak ] && WORK=$LOOMS_ROOT/target
W=$(mktemp -d "$WORK/track-work.XXXXXX")
trap 'rm -rf "$W"' EXIT

if ! make --no-print-directory -s -C c-tests/track ROOT="$LOOMS_ROOT" LIB_DIR="$LOOMS_LIB_DIR" \
    OUT="$OUT" ${TRACK_CC:+CC="$TRACK_CC"} >"$W/build.log" 2>&1; then
    fail_log build "$W/build.log"
    exit 1
fi
TRACK=$OUT/track
if [ -n "${TRACK_WRAP:-}" ]; then
    # One program to run, as every test below expects.
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$TRACK_WRAP" "$OUT/track" >"$W/track"
    chmod +x "$W/track"
    TRACK=$W/track
fi
NOUFD=$OUT/libnoufd.so
NOSCAN=$OUT/libnoscan.so
NOTHP=$OUT/libnothp.so
NOTHREADS=$OUT/libnothread.so
# Loom pages in the library's granule (1, or 4 in 64 KiB granules).
if ! GRANULE=$("$TRACK" granule 2>"$W/granule.log"); then
    fail_log granule "$W/granule.log"
    exit 1
fi

# has LOG LINE: LOG (carriage returns dropped) holds exactly LINE. (grep
# reads all its input, so tr never dies of SIGPIPE under pipefail.)
has() { tr -d '\r' <"$1" | grep -xF -- "$2" >/dev/null; }
# lacks LOG REGEX: no line of LOG matches REGEX.
lacks() { ! tr -d '\r' <"$1" | grep -E -- "$2" >/dev/null; }
# says_nothing LOG: the library printed no line in LOG but the "ward bogus"
# the round trip's guard probe provokes on purpose.
says_nothing() {
    [ "$(tr -d '\r' <"$1" | grep -v '^loom: ward bogus' | grep -c '^loom:')" -eq 0 ]
}
# free_gib DIR: whole GiB available on DIR's file system.
free_gib() { df -P -k "$1" | awk 'NR == 2 {print int($4 / 1048576)}'; }
# seconds since START (from now_ns), one decimal.
now_ns() { date +%s%N; }
since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN {printf "%.1f", (b - a) / 1e9}'; }

# Does this kernel give userfaultfd asynchronous write protection?
# auto picks uffd in no_demand mode where the kernel has it (AUTO_LOADED).
if "$TRACK" uffd-kernel >"$W/kernel.log" 2>&1; then
    UFFD=yes
    AUTO_LOADED=uffd
else
    UFFD=no
    AUTO_LOADED=mprotect
fi
# In default mode auto boots with mprotect (AUTO) and moves to uffd, where
# the kernel has it, at the first save (AUTO_SAVED).
AUTO=mprotect
AUTO_SAVED=$AUTO_LOADED
# Whether the kernel may back the no_demand load with transparent huge pages.
THP_POLICY=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
case $THP_POLICY in
always | madvise) THP=yes ;;
*) THP=no ;;
esac
NO_UFFD="this kernel lacks userfaultfd asynchronous write-protect: $(tr -d '\r' <"$W/kernel.log")"
if [ "${TRACK_EMULATED:-no}" = yes ]; then
    THP=no
    THP_POLICY="out of reach under user-mode emulation"
    NO_UFFD="user-mode emulation has no userfaultfd ($(tr -d '\r' <"$W/kernel.log")): the fall-back to mprotect is what runs"
fi

# which_test NAME "ENV..." FLAGS BEHAVES CHECK...: boots a new pier with
# wag_w = FLAGS under `env ENV...`, saves, stores once to a clean page; the
# store must behave as BEHAVES (mprotect: one fault, uffd: none). Each CHECK
# is "+LINE" (the output holds exactly LINE) or "-REGEX" (no line matches).
which_test() {
    local name=$1 envs=$2 flags=$3 behaves=$4
    shift 4
    local log=$W/$name.log
    local rc=0
    # shellcheck disable=SC2086 # ENV is a list of words for env(1)
    env $envs "$TRACK" which "$W/$name" "$flags" >"$log" 2>&1 || rc=$?
    local why=()
    [ "$rc" -eq 0 ] || why+=("exit status $rc")
    has "$log" "behaves: $behaves" || why+=("stores did not behave as $behaves")
    local check
    for check in "$@"; do
        case $check in
        +*) has "$log" "${check#+}" || why+=("no line '${check#+}'") ;;
        -*) lacks "$log" "${check#-}" || why+=("a line matches '${check#-}'") ;;
        esac
    done
    rm -rf "${W:?}/$name"
    if [ ${#why[@]} -eq 0 ]; then
        pass "$name (env $envs, wag_w $flags: $behaves)"
    else
        fail "$name" "env $envs, wag_w $flags:" "${why[@]}" "output:"
        tr -d '\r' <"$log" | head -n 20 | sed 's/^/    /'
    fi
}

UNAVAILABLE="loom: tracking: uffd unavailable (userfaultfd: Function not implemented); using mprotect"

# roundtrip NAME "ENV..." EXPECT [FLAGS [HUGE [PAGES]]]: a new pier of
# PAGES (default 1024) saved pages, a first store to every third page (one
# fault for each granule stored to under mprotect, none under uffd), the
# bitmap after u3e_toss, a second save; another process boots the pier,
# compares every byte of the loom and of image.bin and checks that reading
# dirtied nothing; a third boots it, finds the guard where boot put it,
# stores to another third of the pages in scattered order (tracking armed
# at boot), checks that exactly their granules are dirty and saves; a
# fourth compares again. All run with wag_w = FLAGS. HUGE "yes": every boot
# must have loaded the image into transparent huge pages.
# EXPECT "A/B": the first process's stores (after its first save) behave as
# A, the third's (after boot, before any save) as B.
roundtrip() {
    local name=$1 envs=$2 expect=$3 flags=${4:-0} huge=${5:-no} pages=${6:-1024}
    local log=$W/$name.log rc=0
    local expect_boot=${expect#*/}
    expect=${expect%/*}
    # shellcheck disable=SC2086
    {
        env $envs "$TRACK" write "$W/$name" 5 "$pages" 3 "$expect" "$flags" &&
            env $envs "$TRACK" verify "$W/$name" 5 "$pages" 3 "$flags" &&
            env $envs "$TRACK" rewrite "$W/$name" 5 "$pages" 3 "$expect_boot" "$flags" &&
            env $envs "$TRACK" verify "$W/$name" 5 "$pages" 3 "$flags" 1
    } >"$log" 2>&1 || rc=$?
    local boots flat
    boots=$(tr -d '\r' <"$log" | grep -c '^huge: ')
    flat=$(tr -d '\r' <"$log" | grep -c '^huge: 0 KiB$')
    if [ "$rc" -eq 0 ] && has "$log" "write: ok" && has "$log" "rewrite: ok" &&
        [ "$(tr -d '\r' <"$log" | grep -c '^verify: ok$')" -eq 2 ] &&
        { [ "$huge" != yes ] || { [ "$boots" -eq 3 ] && [ "$flat" -eq 0 ]; }; }; then
        local summary again
        summary=$(tr -d '\r' <"$log" | sed -n "s/^write: $pages pages saved, //p")
        again=$(tr -d '\r' <"$log" | sed -n 's/^rewrite: \([0-9].*\)/\1/p')
        local huge_kib=""
        [ "$huge" = yes ] && huge_kib="; each boot loaded the image into $(tr -d '\r' <"$log" |
            sed -n 's/^huge: //p' | head -n 1) of huge pages"
        pass "$name ($pages pages: $summary; after a reboot $again; each reboot compared every byte$huge_kib)"
    elif [ "$rc" -eq 0 ] && [ "$huge" = yes ]; then
        fail "$name" "$flat of $boots boots loaded the image without huge pages (THP policy $THP_POLICY)"
        tr -d '\r' <"$log" | head -n 20 | sed 's/^/    /'
    else
        fail_log "$name" "$log"
    fi
    rm -rf "${W:?}/$name"
}

# scatter NAME LOG2WORDS STORES BACKEND NEED_GIB [FLAGS [LEAVE]]: STORES
# first stores, in a scattered order, to one page of every other granule
# (every other page in 16 KiB granules) of a clean image in a loom of
# 2^LOG2WORDS words; no store may fail; the bitmap after u3e_toss; a save;
# a new process compares every saved page. wag_w = FLAGS. LEAVE: during
# the stores the process holds all but LEAVE of the mappings the kernel
# allows, so that under mprotect some stores must land in widened runs.
scatter() {
    local name=$1 log2=$2 stores=$3 backend=$4 need=$5 flags=${6:-0} leave=${7:-0}
    local log=$W/$name.log free rc=0
    if [ "${TRACK_EMULATED:-no}" = yes ]; then
        skip "$name" "a test of the kernel's mapping limit, run natively; not under emulation"
        return
    fi
    free=$(free_gib "$W")
    if [ "$free" -lt "$need" ]; then
        skip "$name" "needs $need GiB free on $(df -P "$W" | awk 'NR == 2 {print $6}'), $free GiB there"
        return
    fi
    local start
    start=$(now_ns)
    {
        LOOMS_TRACKING=$backend "$TRACK" scatter "$W/$name" "$log2" "$stores" "$backend" 9 \
            "$flags" "$leave" &&
            LOOMS_TRACKING=$backend "$TRACK" scatter-verify "$W/$name" "$log2" "$stores" 9 "$flags"
    } >"$log" 2>&1 || rc=$?
    local took
    took=$(since "$start")
    local absorbed
    absorbed=$(tr -d '\r' <"$log" | sed -n 's/^scatter: .* \([0-9]*\) stores absorbed.*/\1/p')
    # Each scattered first store under mprotect costs about two mappings
    # (each alone in its granule): past vm.max_map_count, or past what the
    # process left itself (LEAVE), some stores must have landed in widened
    # runs.
    local limit
    limit=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 65530)
    [ "$leave" -gt 0 ] && limit=$leave
    if [ "$rc" -eq 0 ] && [ "$backend" = mprotect ] && [ $((2 * stores)) -gt "$limit" ] &&
        [ "${absorbed:-0}" -eq 0 ]; then
        fail "$name" "no store landed in a widened run, with $limit mappings to spare"
    elif [ "$rc" -eq 0 ] && has "$log" "scatter: ok" && has "$log" "scatter-verify: ok"; then
        local faults saved
        faults=$(tr -d '\r' <"$log" | sed -n 's/^scatter: .*: \([0-9]* faults, [0-9]* stores absorbed\).*/\1 by widened runs/p')
        saved=$(tr -d '\r' <"$log" | sed -n 's/^scatter: saved \([0-9]*\) dirty pages.*/\1 pages saved/p')
        local crowded=""
        [ "$leave" -gt 0 ] && crowded="; $(tr -d '\r' <"$log" | sed -n 's/^scatter: crowded: //p')"
        pass "$name ($stores stores: $faults$crowded; $saved; ${took} s, $free GiB were free)"
        tr -d '\r' <"$log" | grep -E '^scatter(-verify)?: .*ms' | sed 's/^/    /'
    else
        fail_log "$name" "$log"
        echo "    (${took} s)"
    fi
    # Freeing gigabytes can take long (a file system mounted with discard).
    start=$(now_ns)
    rm -rf "${W:?}/$name"
    echo "    pier removed in $(since "$start") s"
}

# guard NAME BACKEND: stores into the guard page move it up and down,
# report meme at a one-page gap and sham between the watermarks.
guard() {
    local name=$1 backend=$2 log=$W/$1.log
    if LOOMS_TRACKING=$backend "$TRACK" guard "$W/$name" "$backend" >"$log" 2>&1 &&
        has "$log" "guard: ok"; then
        pass "$name ($(tr -d '\r' <"$log" | sed -n 's/^guard: moved/moved/p'))"
    else
        fail_log "$name" "$log"
    fi
    rm -rf "${W:?}/$name"
}

# yolo NAME BACKEND: stores after u3e_yolo are saved after u3e_foul, and
# tracking resumes after the save.
yolo() {
    local name=$1 backend=$2 log=$W/$1.log
    if LOOMS_TRACKING=$backend "$TRACK" yolo "$W/$name" "$backend" >"$log" 2>&1 &&
        has "$log" "yolo: ok"; then
        pass "$name"
    else
        fail_log "$name" "$log"
    fi
    rm -rf "${W:?}/$name"
}

# need_uffd NAME: true when uffd tests can run, else prints SKIP.
need_uffd() {
    [ "$UFFD" = yes ] && return 0
    skip "$1" "$NO_UFFD"
    return 1
}

if [ "$MODE" != soak ]; then
    # -- Choosing the backend -------------------------------------------------
    # which_test stores after a save: in default mode auto has moved to uffd.
    SWITCH_LINE="-^loom: tracking: uffd from"
    [ "$UFFD" = yes ] && SWITCH_LINE="+loom: tracking: uffd from the first save on"
    which_test backend_auto "LOOMS_TRACKING=auto" $VERBOSE $AUTO_SAVED "+loom: tracking: $AUTO" \
        "$SWITCH_LINE"
    which_test backend_unset "-u LOOMS_TRACKING" $VERBOSE $AUTO_SAVED "+loom: tracking: $AUTO" \
        "$SWITCH_LINE"
    which_test backend_auto_no_demand "LOOMS_TRACKING=auto" $((NO_DEMAND | VERBOSE)) \
        $AUTO_LOADED "+loom: tracking: $AUTO_LOADED"
    which_test backend_unset_no_demand "-u LOOMS_TRACKING" $((NO_DEMAND | VERBOSE)) \
        $AUTO_LOADED "+loom: tracking: $AUTO_LOADED"
    which_test backend_mprotect "LOOMS_TRACKING=mprotect" $VERBOSE mprotect \
        "+loom: tracking: mprotect" "-uffd"
    if need_uffd backend_uffd; then
        which_test backend_uffd "LOOMS_TRACKING=uffd" $VERBOSE uffd "+loom: tracking: uffd" \
            "-unavailable"
    fi
    which_test backend_invalid_means_auto "LOOMS_TRACKING=fast" $VERBOSE $AUTO_SAVED \
        "+loom: LOOMS_TRACKING=fast is not mprotect, uffd or auto; using auto" \
        "+loom: tracking: $AUTO"
    which_test backend_invalid_warns_when_quiet "LOOMS_TRACKING=fast" 0 $AUTO_SAVED \
        "+loom: LOOMS_TRACKING=fast is not mprotect, uffd or auto; using auto" \
        "-^loom: tracking"
    which_test backend_quiet_says_nothing "LOOMS_TRACKING=auto" 0 $AUTO_SAVED "-^loom: tracking"
    which_test backend_swap_needs_mprotect "LOOMS_TRACKING=uffd" $((SWAP | VERBOSE)) mprotect \
        "+loom: tracking: swap mode needs mprotect tracking" "+loom: tracking: mprotect"
    which_test backend_swap_auto_is_mprotect "LOOMS_TRACKING=auto" $((SWAP | VERBOSE)) mprotect \
        "+loom: tracking: mprotect" "-swap mode needs"

    # -- Without userfaultfd (syscall(SYS_userfaultfd) fails with ENOSYS) -----
    which_test fallback_auto_verbose "$PRELOAD=$NOUFD LOOMS_TRACKING=auto" \
        $((NO_DEMAND | VERBOSE)) mprotect \
        "+noufd: userfaultfd refused" "+$UNAVAILABLE" "+loom: tracking: mprotect"
    which_test fallback_auto_quiet "$PRELOAD=$NOUFD LOOMS_TRACKING=auto" $NO_DEMAND mprotect \
        "+noufd: userfaultfd refused" "-^loom: tracking"
    # In default mode auto asks for userfaultfd at the first save only.
    which_test fallback_auto_default_verbose "$PRELOAD=$NOUFD LOOMS_TRACKING=auto" \
        $VERBOSE mprotect "+loom: tracking: mprotect" "+noufd: userfaultfd refused" \
        "+$UNAVAILABLE" "-^loom: tracking: uffd from"
    which_test fallback_auto_default_quiet "$PRELOAD=$NOUFD LOOMS_TRACKING=auto" \
        0 mprotect "+noufd: userfaultfd refused" "-^loom: tracking"
    which_test fallback_uffd_says_why "$PRELOAD=$NOUFD LOOMS_TRACKING=uffd" 0 mprotect \
        "+noufd: userfaultfd refused" "+$UNAVAILABLE" "-^loom: tracking: mprotect"
    which_test fallback_uffd_verbose "$PRELOAD=$NOUFD LOOMS_TRACKING=uffd" $VERBOSE mprotect \
        "+$UNAVAILABLE" "+loom: tracking: mprotect"
    roundtrip fallback_roundtrip "$PRELOAD=$NOUFD LOOMS_TRACKING=auto" mprotect
    roundtrip fallback_roundtrip_no_demand "$PRELOAD=$NOUFD LOOMS_TRACKING=auto" mprotect \
        $NO_DEMAND $THP

    # -- Fault counts and a round trip under each backend ---------------------
    roundtrip faults_mprotect "LOOMS_TRACKING=mprotect" mprotect
    if need_uffd faults_uffd; then
        roundtrip faults_uffd "LOOMS_TRACKING=uffd" uffd
    fi
    # Default mode under every backend auto may pick there: reads after
    # boot see the image and dirty nothing (verify), stores are tracked.
    # 1022 pages: in 64 KiB granules the image ends inside its last
    # granule, which stays dirty and mapped past the file's end.
    roundtrip default_auto "LOOMS_TRACKING=auto" "$AUTO_SAVED/$AUTO" 0 no 1022
    # no_demand: the image is read in parallel into huge pages (required
    # where the kernel's policy allows them); first stores into them dirty
    # exactly their own granules.
    [ "$THP" = yes ] || skip no_demand_huge_pages "transparent huge pages are '$THP_POLICY' here: the no_demand round trips load into 4 KiB pages"
    roundtrip faults_mprotect_no_demand "LOOMS_TRACKING=mprotect" mprotect $NO_DEMAND $THP
    if need_uffd faults_uffd_no_demand; then
        roundtrip faults_uffd_no_demand "LOOMS_TRACKING=uffd" uffd $NO_DEMAND $THP
    fi
    roundtrip no_demand_auto "LOOMS_TRACKING=auto" $AUTO_LOADED $NO_DEMAND $THP 1022

    # -- no_demand without huge pages, or without threads ---------------------
    # The kernel refuses MADV_HUGEPAGE (THP never or compiled out): the load
    # goes on into 4 KiB pages and says nothing.
    log=$W/nothp.log
    roundtrip no_demand_without_huge_pages "$PRELOAD=$NOTHP LOOMS_TRACKING=auto" \
        $AUTO_LOADED $NO_DEMAND >"$log"
    if grep -q '^PASS' "$log" && has "$W/no_demand_without_huge_pages.log" \
        "nothp: MADV_HUGEPAGE refused" && says_nothing "$W/no_demand_without_huge_pages.log"; then
        sed 's/)$/; no line from the library)/' "$log"
    else
        cat "$log"
        fail no_demand_without_huge_pages_quiet "the refusal was not met, or the library spoke:"
        tr -d '\r' <"$W/no_demand_without_huge_pages.log" | head -n 20 | sed 's/^/    /'
    fi
    # No reader thread can start: the calling thread reads the whole image.
    for backend in mprotect $AUTO_LOADED; do
        name=no_demand_without_threads_$backend
        rm -rf "${W:?}/$name"
        log=$W/$name.log
        {
            LOOMS_TRACKING=$backend "$TRACK" write "$W/$name" 7 1024 3 $backend $NO_DEMAND &&
                env "$PRELOAD=$NOTHREADS" LOOMS_TRACKING=$backend "$TRACK" verify "$W/$name" 7 1024 3 \
                    $NO_DEMAND
        } >"$log" 2>&1
        rc=$?
        refused=yes
        [ "$(nproc)" -ge 2 ] && ! has "$log" "nothread: pthread_create refused (EAGAIN)" && refused=no
        if [ "$rc" -eq 0 ] && has "$log" "verify: ok" && [ "$refused" = yes ] &&
            says_nothing "$log"; then
            pass "$name (every thread refused; one reader loaded all 1024 pages, compared every byte)"
        else
            fail_log "$name" "$log"
        fi
        rm -rf "${W:?}/$name"
    done
    yolo yolo_foul_mprotect mprotect
    if need_uffd yolo_foul_uffd; then
        yolo yolo_foul_uffd uffd
    fi
    # The checks can fail: a fault count against the wrong backend, a
    # comparison against the wrong bytes. 22 stores, to every third of 64
    # pages, fault once in each granule they reach: 22 in 16 KiB granules,
    # 16 (all of them) in 64 KiB ones.
    neg_faults=0
    for ((first = 0; first < 64; first += GRANULE)); do
        for ((page = first; page < first + GRANULE; page++)); do
            if ((page % 3 == 0)); then
                neg_faults=$((neg_faults + 1))
                break
            fi
        done
    done
    if LOOMS_TRACKING=mprotect "$TRACK" write "$W/neg" 5 64 3 uffd >"$W/neg.log" 2>&1; then
        fail fault_count_detects_the_wrong_backend "write expecting uffd passed under mprotect"
    elif grep -q "^bad: 22 first stores to clean pages: $neg_faults faults, want 0\$" "$W/neg.log"; then
        pass fault_count_detects_the_wrong_backend
    else
        fail_log fault_count_detects_the_wrong_backend "$W/neg.log"
    fi
    if LOOMS_TRACKING=mprotect "$TRACK" verify "$W/neg" 6 64 3 >"$W/neg-verify.log" 2>&1; then
        fail verify_detects_wrong_bytes "verify with another seed passed"
    elif grep -q '^bad: page 0 word 0: loom ' "$W/neg-verify.log"; then
        pass verify_detects_wrong_bytes
    else
        fail_log verify_detects_wrong_bytes "$W/neg-verify.log"
    fi
    rm -rf "${W:?}/neg"

    # -- The guard page --------------------------------------------------------
    guard guard_mprotect mprotect
    if need_uffd guard_uffd; then
        guard guard_uffd uffd
    fi

    # -- 50,000 and 40,000 scattered first stores in a 4 GiB loom -------------
    # Under mprotect every first store splits the loom's mapping: the
    # reference fails after about 32,700 of them (vm.max_map_count 65530),
    # so 50,000 go well past the limit (scatter fails the test when no store
    # had to land in a widened run); uffd's write-protection splits nothing,
    # and 40,000 scattered pages take many PAGEMAP_SCAN calls of 512 regions.
    # (More stores only write more: 100,000 wrote about 9 GiB.)
    # Swap mode tracks with mprotect and moves each first-stored page onto
    # the ephemeral file: one mapping per page, so past about 32,700
    # scattered stores the run around the page must move in one mapping.
    if ! soak; then
        # The check tier: fewer stores in a crowded process (above).
        if [ "$GRANULE" -eq 1 ]; then
            n=10000 leave=4000 label=10k
        else
            n=2500 leave=1000 label=2500
        fi
        scatter scatter_${label}_mprotect_crowded 30 $n mprotect 2 0 $leave
        if need_uffd scatter_${label}_uffd; then
            scatter scatter_${label}_uffd 30 $n uffd 2
        fi
        scatter scatter_${label}_swap_crowded 30 $n mprotect 2 $SWAP $leave
    elif [ "$GRANULE" -eq 1 ]; then
        scatter scatter_50k_mprotect 30 50000 mprotect $SCATTER_GIB
        if need_uffd scatter_40k_uffd; then
            scatter scatter_40k_uffd 30 40000 uffd $SCATTER_GIB
        fi
        scatter scatter_40k_swap 30 40000 mprotect 2 $SWAP
    else
        # Larger granules: each store dirties and saves a whole granule, and
        # the image spans two granules a store, so 10,000 stores each (the
        # loom would not hold 50,000); the process holds all but 4,000 of
        # the kernel's mappings while they run, so that the mapping limit
        # is reached all the same.
        scatter scatter_10k_mprotect_crowded 30 10000 mprotect $SCATTER_GIB 0 4000
        if need_uffd scatter_10k_uffd; then
            scatter scatter_10k_uffd 30 10000 uffd $SCATTER_GIB
        fi
        scatter scatter_10k_swap_crowded 30 10000 mprotect 2 $SWAP 4000
    fi

    # -- PAGEMAP_SCAN fails -----------------------------------------------------
    # u3e_save ends with u3e_toss, whose scan fails under libnoscan.so: every
    # image page is counted as written and must stay writable, so that every
    # later store lands and is saved (not a bogus fault).
    if need_uffd uffd_scan_failure_keeps_stores_working; then
        log=$W/scan.log
        if env "$PRELOAD=$NOSCAN" LOOMS_TRACKING=uffd "$TRACK" scan-fails "$W/scan" >"$log" 2>&1 &&
            has "$log" "scan-fails: ok" && has "$log" "noscan: PAGEMAP_SCAN refused"; then
            pass "uffd_scan_failure_keeps_stores_working ($(tr -d '\r' <"$log" |
                sed -n 's/^scan-fails: \([0-9].*\)/\1/p'))"
        else
            fail_log uffd_scan_failure_keeps_stores_working "$log"
        fi
        rm -rf "${W:?}/scan"
    fi
fi

if [ "$MODE" != check ]; then
    if [ "$GRANULE" -gt 1 ]; then
        skip soak "500,000 stores, a granule apart, would need a loom of $((GRANULE * 16)) GiB: run in 16 KiB granules"
    else
        scatter soak_500k_mprotect 32 500000 mprotect $SOAK_GIB
        if need_uffd soak_500k_uffd; then
            scatter soak_500k_uffd 32 500000 uffd $SOAK_GIB
        fi
    fi
fi

exit $failed
