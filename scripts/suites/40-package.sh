#!/usr/bin/env bash
# liblooms as a runtime gets it: its license; linked statically into a
# fully static host; installed (make install, with PREFIX and with DESTDIR;
# never building, and saying how the loader finds it), found with
# pkg-config alone (shared, fully static with --static, from C++, and the
# template examples/minimal-host.c), also from a staged or moved tree with
# --define-prefix, and uninstalled without a trace; and dropped in with
# LD_PRELOAD under a host linked against another events.c shared object,
# PIE and non-PIE, with the host's own copy of u3e_Pool showing looms' state.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

LIB_DIR=$ROOT/target/release
STATIC_OUT=$ROOT/target/static-tests
PKG_OUT=$ROOT/target/pkg-tests
PRELOAD_OUT=$ROOT/target/preload-tests
PAGE=16384
# minihost's loom: 2^24 words, 4096 pages.
LOOM_PAGES=4096

W=$(mktemp -d /tmp/looms-package.XXXXXX)
trap 'rm -rf "$W"' EXIT

failed=0
pass() { echo "PASS: package/$1"; }
fail() {
    echo "FAIL: package/$1"
    shift
    printf '    %s\n' "$@"
    failed=1
}
fail_with() {
    echo "FAIL: package/$1"
    head -n 40 "$2" | sed 's/^/    /'
    failed=1
}
quiet_make() { make --no-print-directory -s "$@"; }

version=$(sed -n 's/^version = "\([^"]*\)"/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}

for f in "$LIB_DIR/liblooms.so" "$LIB_DIR/liblooms.a"; do
    if [ ! -f "$f" ]; then
        fail build "$f is missing (make lib)"
        exit 1
    fi
done

# ---------------------------------------------------------------------------
# The license a packager looks for: one SPDX identifier in Cargo.toml, the
# installed header and the LICENSE file at the top of the tree.

spdx=$(sed -n 's/^license = "\(.*\)"$/\1/p' Cargo.toml)
if [ "$spdx" = MIT ] && [ "$(head -n 1 LICENSE 2>/dev/null)" = "MIT License" ] &&
    grep -q 'Permission is hereby granted, free of charge' LICENSE &&
    head -n 1 include/looms.h | grep -qx "/\* SPDX-License-Identifier: $spdx \*/"; then
    pass "license (Cargo.toml license = \"$spdx\", LICENSE, SPDX line in looms.h)"
else
    fail license "Cargo.toml license '$spdx'; LICENSE: $(head -n 1 LICENSE 2>&1)" \
        "looms.h: $(head -n 1 include/looms.h)"
fi

# ---------------------------------------------------------------------------
# Static linking: no shared object at all

if ! quiet_make -C c-tests/static OUT="$STATIC_OUT" >"$W/static-build.log" 2>&1; then
    fail_with static_roundtrip "$W/static-build.log"
else
    exe=$STATIC_OUT/roundtrip-static
    rc=0
    {
        "$exe" write "$W/static-pier" 5 9 && "$exe" read "$W/static-pier" 5 9
    } >"$W/static.log" 2>&1 || rc=$?
    if readelf -d "$exe" 2>&1 | grep 'no dynamic section' >/dev/null &&
        nm "$exe" | grep ' T u3e_live$' >/dev/null && [ "$rc" -eq 0 ] &&
        grep -q '^read: 9 pages verified$' "$W/static.log"; then
        pass "static_roundtrip (gcc -static with liblooms.a, written and read back)"
    else
        echo "    exit $rc; $(readelf -d "$exe" 2>&1 | head -n 2)" >>"$W/static.log"
        fail_with static_roundtrip "$W/static.log"
    fi
fi

# ---------------------------------------------------------------------------
# The pkg-config file

# check_pc FILE PREFIX LIBDIR INCLUDEDIR: the fields of an installed .pc.
check_pc() {
    local pc=$1
    # pkg-config drops system directories from --libs/--cflags unless told.
    pcq() {
        PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 \
            PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 pkg-config "$@" looms | sed 's/ *$//'
    }
    local got want
    got="$(pcq --variable=prefix)|$(pcq --variable=libdir)|$(pcq --variable=includedir)"
    got="$got|$(pcq --modversion)|$(pcq --libs)|$(pcq --cflags)"
    want="$2|$3|$4|$version|-L$3 -llooms|-I$4"
    if [ "$got" != "$want" ]; then
        echo "fields: $got"
        echo "want:   $want"
        return 1
    fi
    pcq --validate
}

# pc_dirs FILE: the directory lines of a .pc file as written, unexpanded.
pc_dirs() { grep -E '^(exec_prefix|libdir|includedir)=' "$1" | tr '\n' ' ' | sed 's/ $//'; }

# Directories under the prefix are written from ${prefix}, so the file
# holds wherever the tree is staged or moved.
if quiet_make pc PREFIX=/opt/looms LIBDIR=/opt/looms/lib64 INCLUDEDIR=/opt/looms/inc \
    >"$W/pc.log" 2>&1 && check_pc target/looms.pc /opt/looms /opt/looms/lib64 /opt/looms/inc \
    >>"$W/pc.log" 2>&1 && ! grep -q '@[A-Z]*@' target/looms.pc &&
    [ "$(pc_dirs target/looms.pc)" = \
        'exec_prefix=${prefix} libdir=${exec_prefix}/lib64 includedir=${prefix}/inc' ]; then
    pass "pc_fields (version $version from Cargo.toml, directories relative to \${prefix})"
else
    cat target/looms.pc >>"$W/pc.log" 2>/dev/null || true
    fail_with pc_fields "$W/pc.log"
fi

# Directories outside it (/opt/loomsx only shares its spelling) stay absolute.
if quiet_make pc PREFIX=/opt/looms LIBDIR=/opt/loomsx/lib INCLUDEDIR=/usr/include/looms \
    >"$W/pc-outside.log" 2>&1 &&
    check_pc target/looms.pc /opt/looms /opt/loomsx/lib /usr/include/looms \
        >>"$W/pc-outside.log" 2>&1 &&
    [ "$(pc_dirs target/looms.pc)" = \
        'exec_prefix=${prefix} libdir=/opt/loomsx/lib includedir=/usr/include/looms' ]; then
    pass "pc_outside_prefix (LIBDIR and INCLUDEDIR outside PREFIX stay absolute)"
else
    cat target/looms.pc >>"$W/pc-outside.log" 2>/dev/null || true
    fail_with pc_outside_prefix "$W/pc-outside.log"
fi

# ---------------------------------------------------------------------------
# make install / uninstall under a prefix, and a host built with pkg-config

# check_installed ROOT PREFIX LIBDIR INCLUDEDIR: what install must leave
# under ROOT (DESTDIR, or empty) for those directories.
check_installed() {
    local lib=$1$3 inc=$1$4
    [ -f "$lib/liblooms.so.$version" ] && [ ! -L "$lib/liblooms.so.$version" ] ||
        { echo "no $lib/liblooms.so.$version"; return 1; }
    [ "$(readlink "$lib/liblooms.so.$major")" = "liblooms.so.$version" ] ||
        { echo "liblooms.so.$major: $(ls -l "$lib/liblooms.so.$major" 2>&1)"; return 1; }
    [ "$(readlink "$lib/liblooms.so")" = "liblooms.so.$major" ] ||
        { echo "liblooms.so: $(ls -l "$lib/liblooms.so" 2>&1)"; return 1; }
    cmp "$lib/liblooms.so.$version" "$LIB_DIR/liblooms.so" || return 1
    cmp "$lib/liblooms.a" "$LIB_DIR/liblooms.a" || return 1
    cmp "$inc/looms.h" include/looms.h || return 1
    "$1$2/bin/looms" --version >/dev/null || { echo "no working $1$2/bin/looms"; return 1; }
    check_pc "$lib/pkgconfig/looms.pc" "$2" "$3" "$4"
}

# left_under DIR: files and links still under DIR.
left_under() { find "$1" \( -type f -o -type l \) 2>/dev/null | sed "s|^$1||"; }

prefix=$W/prefix
if quiet_make install PREFIX="$prefix" >"$W/install.log" 2>&1 &&
    check_installed "" "$prefix" "$prefix/lib" "$prefix/include" >>"$W/install.log" 2>&1; then
    pass "install_prefix ($(left_under "$prefix" | wc -l) files under PREFIX)"
else
    left_under "$prefix" >>"$W/install.log"
    fail_with install_prefix "$W/install.log"
fi

# What install says at its end fits the directories it was given, and
# never contradicts itself: for a prefix of its own, an rpath (the loader
# does not search it), PKG_CONFIG_PATH and PATH; for /usr/local, ldconfig
# and nothing else; for a tree staged under DESTDIR, that it is staged and
# what it needs once installed at / (ldconfig for the loader's own /usr/lib;
# no rpath, PKG_CONFIG_PATH or PATH for the staging directory).
advice_ok() {
    local log=$1; shift
    local want
    for want in "$@"; do
        case $want in
        !*) ! grep -qF -- "${want#!}" "$log" || { echo "    says: ${want#!}" >>"$log.why"; return 1; } ;;
        *) grep -qF -- "$want" "$log" || { echo "    does not say: $want" >>"$log.why"; return 1; } ;;
        esac
    done
}
: >"$W/install.log.why"
PATH=/usr/local/bin:/usr/bin:/bin scripts/install-advice.sh "" /usr/local/lib /usr/local/bin \
    "liblooms.so.$major" >"$W/advice-local.log" 2>&1 || true
: >"$W/advice-local.log.why"
if advice_ok "$W/install.log" "-Wl,-rpath,$prefix/lib" "LD_LIBRARY_PATH=$prefix/lib" \
    "export PKG_CONFIG_PATH=$prefix/lib/pkgconfig" "export PATH=$prefix/bin:" "!searched by the loader" &&
    advice_ok "$W/advice-local.log" "run ldconfig" "!rpath" "!PKG_CONFIG_PATH" "!export PATH" "!staged"; then
    pass "install_advice_prefix (own prefix: rpath, PKG_CONFIG_PATH, PATH; /usr/local: ldconfig alone)"
else
    cat "$W/install.log.why" "$W/advice-local.log.why" "$W/advice-local.log" >>"$W/install.log"
    fail_with install_advice_prefix "$W/install.log"
fi

# Install never builds (as root it would need cargo on root's PATH and leave
# target/ owned by root): with nothing built it stops, says to run make,
# and installs nothing.
mkdir -p "$W/unbuilt"
rc=0
quiet_make install PREFIX="$W/never" LOOMS_LIB_DIR="$W/unbuilt" CARGO=false \
    >"$W/unbuilt.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] && grep -q "liblooms.so is missing; run \`make\` first, as your user" "$W/unbuilt.log" &&
    [ ! -e "$W/never" ] && ! grep -q '^false' "$W/unbuilt.log"; then
    pass "install_never_builds (stops before anything is built or installed)"
else
    echo "exit $rc" >>"$W/unbuilt.log"
    left_under "$W/never" >>"$W/unbuilt.log"
    fail_with install_never_builds "$W/unbuilt.log"
fi

# pkg_host NAME ROOT [OPTION...]: build the minimal host from the install
# under ROOT (lib/ and include/) with `pkg-config OPTION...` alone, the
# caller having set PKG_CONFIG_PATH, and run it: it must compile against
# ROOT/include and load liblooms from ROOT/lib.
pkg_host() {
    local name=$1 root=$2 pc="pkg-config${3:+ ${*:3}}" cflags exe loaded rc=0
    cflags=$($pc --cflags looms 2>&1 | sed 's/ *$//')
    if [ "$cflags" != "-I$root/include" ]; then
        fail "$name" "$pc --cflags looms: '$cflags', want -I$root/include"
        return
    fi
    rm -f "$PKG_OUT/roundtrip-pkg"
    if ! quiet_make -C c-tests/pkg OUT="$PKG_OUT" PKG_CONFIG="$pc" >"$W/$name-build.log" 2>&1; then
        fail_with "$name" "$W/$name-build.log"
        return
    fi
    exe=$PKG_OUT/roundtrip-pkg
    loaded=$(ldd "$exe" | awk '$1 == "liblooms.so.'"$major"'" {print $3}')
    {
        "$exe" write "$W/$name-pier" 3 4 && "$exe" read "$W/$name-pier" 3 4
    } >"$W/$name.log" 2>&1 || rc=$?
    if [ "$loaded" = "$root/lib/liblooms.so.$major" ] && [ "$rc" -eq 0 ] &&
        grep -q '^read: 4 pages verified$' "$W/$name.log"; then
        pass "$name (built with $pc --cflags --libs looms, loads $loaded)"
    else
        echo "    exit $rc; liblooms.so.$major loaded from '${loaded}'" >>"$W/$name.log"
        fail_with "$name" "$W/$name.log"
    fi
}

PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg_host pkg_config_host "$prefix"

# pkg_build NAME TARGET: builds c-tests/pkg's TARGET from the install under
# $prefix, failing NAME with the build's output.
pkg_build() {
    rm -f "$PKG_OUT/$2"
    PKG_CONFIG_PATH=$prefix/lib/pkgconfig quiet_make -C c-tests/pkg OUT="$PKG_OUT" \
        "$PKG_OUT/$2" >"$W/$1-build.log" 2>&1 || { fail_with "$1" "$W/$1-build.log"; return 1; }
}

# A fully static host through pkg-config alone: cc -static with
# `pkg-config --static --libs looms` picks liblooms.a and Libs.private.
if pkg_build pkg_config_static roundtrip-static; then
    exe=$PKG_OUT/roundtrip-static
    rc=0
    { "$exe" write "$W/pcs-pier" 7 5 && "$exe" read "$W/pcs-pier" 7 5; } >"$W/pcs.log" 2>&1 || rc=$?
    if readelf -d "$exe" 2>&1 | grep 'no dynamic section' >/dev/null && [ "$rc" -eq 0 ] &&
        grep -q '^read: 5 pages verified$' "$W/pcs.log" &&
        ! grep -q '^Libs.*-lgcc_s' "$prefix/lib/pkgconfig/looms.pc"; then
        pass "pkg_config_static (cc -static \$(pkg-config --static --libs looms): $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --static --libs-only-l looms | sed 's/ *$//'))"
    else
        echo "    exit $rc; $(readelf -d "$exe" 2>&1 | head -n 2)" >>"$W/pcs.log"
        grep '^Libs' "$prefix/lib/pkgconfig/looms.pc" >>"$W/pcs.log"
        fail_with pkg_config_static "$W/pcs.log"
    fi
fi

# A C++ program: looms.h included with no extern "C" of its own.
if pkg_build pkg_config_cxx_host cxxhost; then
    rc=0
    "$PKG_OUT/cxxhost" "$W/cxx-pier" >"$W/cxx.log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ] && grep -q '^cxx: saved 3 pages, looms_save_wait 0$' "$W/cxx.log" &&
        nm -u "$PKG_OUT/cxxhost" | grep -c ' U looms_save_wait$' >/dev/null; then
        pass "pkg_config_cxx_host (g++, calls looms_save_wait by its C name)"
    else
        echo "    exit $rc" >>"$W/cxx.log"
        nm -u "$PKG_OUT/cxxhost" | grep -i looms >>"$W/cxx.log" || true
        fail_with pkg_config_cxx_host "$W/cxx.log"
    fi
fi

# The template of README.md, built with its command: a counter that
# survives restarts, in sync and in background mode, and in verbose mode.
if pkg_build minimal_host_template minimal-host; then
    exe=$PKG_OUT/minimal-host
    rc=0
    {
        "$exe" "$W/template-pier" && "$exe" "$W/template-pier" &&
            LOOMS_SAVE=background "$exe" "$W/template-pier" && "$exe" -v "$W/template-pier"
    } >"$W/template.log" 2>"$W/template.err" || rc=$?
    want=$(printf '%s\n' "new pier: counter 1" "existing pier: counter 2" \
        "existing pier: counter 3" "existing pier: counter 4")
    if [ "$rc" -eq 0 ] && [ "$(cat "$W/template.log")" = "$want" ] &&
        grep -q '^loom: saves: sync' "$W/template.err"; then
        pass "minimal_host_template (examples/minimal-host.c: counter 1 to 4 across restarts)"
    else
        { echo "exit $rc"; cat "$W/template.err"; } >>"$W/template.log"
        fail_with minimal_host_template "$W/template.log"
    fi
fi

# README.md's "Link a runtime", run as it is written from a copy of the
# repository's top directory (examples/ and c-tests/ linked, target/ empty),
# with PKG_CONFIG_PATH and PATH naming this install as "Install" says: what
# a new user types must build and run, leave its programs under target/,
# and `looms verify` must find the pier clean. Each block follows its
# marker: <!-- first-host ... --> (C) and <!-- cxx-host ... --> (C++,
# -Wpedantic -Werror).
readme_block() {
    awk -v mark="<!-- $1" 'index($0, mark) == 1 {on = 1; next} on && /^```sh$/ {body = 1; next}
        body && /^```$/ {exit} body {print}' README.md |
        sed -e "s|/tmp/my-pier|$W/readme-pier|g" -e "s|/tmp/my-cxx-pier|$W/readme-cxx-pier|g"
}
mkdir -p "$W/readme/target"
ln -s "$ROOT/examples" "$W/readme/examples"
ln -s "$ROOT/c-tests" "$W/readme/c-tests"
for block in first-host cxx-host; do
    readme_block "$block" >"$W/readme/$block.sh"
    rc=0
    (cd "$W/readme" && PKG_CONFIG_PATH=$prefix/lib/pkgconfig PATH=$prefix/bin:$PATH \
        bash -e "$block.sh") >"$W/readme-$block.log" 2>"$W/readme-$block.err" || rc=$?
    if [ "$block" = first-host ]; then
        want=$(printf 'new pier: counter 1\nexisting pier: counter 2\n%s: boots cleanly' "$W/readme-pier")
        exe=$W/readme/target/minimal-host
    else
        want="cxx: saved 3 pages, looms_save_wait 0"
        exe=$W/readme/target/cxxhost
    fi
    if [ "$rc" -eq 0 ] && [ "$(grep -c . "$W/readme/$block.sh")" -ge 3 ] &&
        [ "$(cat "$W/readme-$block.log")" = "$want" ] &&
        [[ "$(ldd "$exe")" == *"=> $prefix/lib/liblooms.so.$major "* ]] &&
        [ "$(find "$W/readme" -maxdepth 1 -type f ! -name '*.sh')" = "" ]; then
        pass "readme_$block (README.md's commands, as written, against the install)"
    else
        { echo "exit $rc; steps:"; cat "$W/readme/$block.sh"; echo "output:"
          cat "$W/readme-$block.log" "$W/readme-$block.err"
          find "$W/readme" -maxdepth 1 -type f ! -name '*.sh'; } >"$W/readme.why"
        fail_with "readme_$block" "$W/readme.why"
    fi
done

quiet_make uninstall PREFIX="$prefix" >"$W/uninstall.log" 2>&1 || true
left=$(left_under "$prefix")
if [ -z "$left" ] && [ -d "$prefix/lib" ]; then
    pass uninstall_prefix
else
    fail uninstall_prefix "left behind:" $left
fi

# ---------------------------------------------------------------------------
# make install / uninstall with DESTDIR and distribution directories

stage=$W/stage
if quiet_make install DESTDIR="$stage" PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu \
    >"$W/destdir.log" 2>&1 &&
    check_installed "$stage" /usr /usr/lib/x86_64-linux-gnu /usr/include >>"$W/destdir.log" 2>&1 &&
    ! grep -q "$stage" "$stage/usr/lib/x86_64-linux-gnu/pkgconfig/looms.pc"; then
    pass "install_destdir (staged under DESTDIR, looms.pc names /usr)"
else
    left_under "$stage" >>"$W/destdir.log"
    fail_with install_destdir "$W/destdir.log"
fi
: >"$W/destdir.log.why"
if advice_ok "$W/destdir.log" "staged liblooms under $stage" \
    "as /usr/lib/x86_64-linux-gnu/liblooms.so.$major" "once ldconfig has run" \
    "PKG_CONFIG_PATH=$stage/usr/lib/x86_64-linux-gnu/pkgconfig pkg-config --define-prefix" \
    "!rpath" "!LD_LIBRARY_PATH" "!export PKG_CONFIG_PATH" "!export PATH" "!installed liblooms into"; then
    pass "install_advice_destdir (staged: what it needs once at /, no rpath or PATH for the stage)"
else
    cat "$W/destdir.log.why" >>"$W/destdir.log"
    fail_with install_advice_destdir "$W/destdir.log"
fi
quiet_make uninstall DESTDIR="$stage" PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu \
    >"$W/destdir-un.log" 2>&1 || true
left=$(left_under "$stage")
if [ -z "$left" ] && [ -d "$stage/usr/include" ]; then
    pass uninstall_destdir
else
    fail uninstall_destdir "left behind:" $left
fi

# ---------------------------------------------------------------------------
# Relocated installs: pkg-config --define-prefix takes the prefix from where
# looms.pc lies, and every other directory follows it

# Staged with DESTDIR, used in place before it is packaged.
stage=$W/stage-usr
if quiet_make install DESTDIR="$stage" PREFIX=/usr >"$W/destdir-host.log" 2>&1; then
    PKG_CONFIG_PATH=$stage/usr/lib/pkgconfig pkg_host pkg_config_destdir_host "$stage/usr" \
        --define-prefix
else
    fail_with pkg_config_destdir_host "$W/destdir-host.log"
fi

# Installed, then the whole tree moved elsewhere.
if quiet_make install PREFIX="$W/installed" >"$W/moved-host.log" 2>&1 &&
    mv "$W/installed" "$W/moved" >>"$W/moved-host.log" 2>&1; then
    PKG_CONFIG_PATH=$W/moved/lib/pkgconfig pkg_host pkg_config_moved_host "$W/moved" \
        --define-prefix
else
    fail_with pkg_config_moved_host "$W/moved-host.log"
fi

# ---------------------------------------------------------------------------
# LD_PRELOAD A/B under a host linked against a stand-in events.c

if ! quiet_make -C c-tests/preload OUT="$PRELOAD_OUT" >"$W/preload-build.log" 2>&1; then
    fail_with preload_build "$W/preload-build.log"
    exit 1
fi

# value KEY FILE: KEY's value in an abhost report.
value() { sed -n "s/^$1=//p" "$2"; }

# run_ab HOST KIND: the host as built, then with liblooms preloaded.
run_ab() {
    local host=$PRELOAD_OUT/abhost-$1 kind=$2 name=$1 out
    local type needed
    type=$(readelf -h "$host" | sed -n 's/^ *Type: *\([A-Z]*\).*/\1/p')
    needed=$(readelf -d "$host" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    if [ "$type" = "$kind" ] && [[ " $needed " == *" libstandin.so "* ]] &&
        [[ " $needed " != *liblooms* ]] &&
        readelf -rW "$host" | grep 'R_X86_64_COPY .* u3e_Pool' >/dev/null; then
        pass "preload_${name}_host_shape (ELF $type, needs libstandin.so, copy-relocates u3e_Pool)"
    else
        fail "preload_${name}_host_shape" "type $type, NEEDED: $needed" \
            "$(readelf -rW "$host" | grep u3e_Pool || echo 'no relocation for u3e_Pool')"
    fi

    # A: the stand-in runs.
    out=$W/$name-a
    mkdir -p "$out"
    "$host" "$out/pier" 6 >"$out/report" 2>"$out/err" || true
    if [ "$(value live "$out/report")" = 1 ] && [ "$(value boot_pgs_w "$out/report")" = 777 ] &&
        [ "$(value save_gar_w "$out/report")" = 1 ] &&
        [ "$(value image_bytes "$out/report")" = -1 ]; then
        pass "preload_${name}_without_looms_runs_the_stand_in"
    else
        cat "$out/err" >>"$out/report"
        fail_with "preload_${name}_without_looms_runs_the_stand_in" "$out/report"
    fi

    # B: liblooms interposes every u3e_* symbol and u3e_Pool.
    out=$W/$name-b
    mkdir -p "$out"
    LD_PRELOAD=$LIB_DIR/liblooms.so "$host" "$out/pier" 6 >"$out/report" 2>"$out/err" || true
    local report="live=0 boot_pgs_w=0 boot_gar_w=$((LOOM_PAGES / 2)) save_pgs_w=6"
    report="$report save_gar_w=$((LOOM_PAGES / 2)) image_bytes=$((6 * PAGE)) image_matches=1"
    report="$report guard_inaccessible=1 pool_in_executable=1"
    if [ "$(tr '\n' ' ' <"$out/report" | sed 's/ $//')" = "$report" ]; then
        pass "preload_${name}_with_looms_runs_looms (image written, host's u3e_Pool holds looms' state)"
    else
        { echo "want: $report"; echo "got:"; cat "$out/report" "$out/err"; } >"$out/why"
        fail_with "preload_${name}_with_looms_runs_looms" "$out/why"
    fi
}

run_ab pie DYN
run_ab nopie EXEC

exit $failed
