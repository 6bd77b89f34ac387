#!/usr/bin/env bash
# macOS, built here: liblooms.dylib for aarch64-apple-darwin and
# x86_64-apple-darwin, cross-linked by scripts/macos-link (Rust's lld
# against the libSystem stubs of the ziglang package), and checked without
# running: the exported symbols are exactly the Linux build's, the imports
# are the runtime's (resolved from the executable at load time),
# libSystem's and libc++'s atomic waits (the atomic-wait crate), the install name and versions, the architecture; clippy
# clean for both targets; the host programs (the scenario steps, the demo
# and the ABI round trip) and the test programs of the crash and tracking
# suites compiled with `zig cc` for macOS and linked against the dylib.
# Not compiled: the LD_PRELOAD interposers those suites run under
# (libcrashio.so, libnoufd.so, libnoscan.so, libnothp.so, libnothread.so),
# which replace glibc's and Linux's calls by symbol interposition. Nothing
# here runs on macOS (README: Platforms).
#
# Needs the Rust targets, the ziglang package (pip install ziglang) and
# llvm's nm and objdump; .ci/run installs them. Without them the suite
# skips, saying what is missing, except under CI (CI=true).
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/tier.sh
ROOT=$PWD
TARGETS="aarch64-apple-darwin x86_64-apple-darwin"
LINK=$ROOT/scripts/macos-link
export CARGO_TARGET_AARCH64_APPLE_DARWIN_LINKER=$LINK
export CARGO_TARGET_X86_64_APPLE_DARWIN_LINKER=$LINK
PYTHON=${PYTHON:-python3}
zigcc() { "$PYTHON" -m ziglang cc "$@"; }

failed=0
SUITE=macos
. scripts/lines.sh

missing=()
"$PYTHON" -c 'import ziglang' 2>/dev/null || missing+=("ziglang (pip install ziglang)")
command -v llvm-nm >/dev/null 2>&1 || missing+=("llvm-nm (llvm)")
command -v llvm-objdump >/dev/null 2>&1 || missing+=("llvm-objdump (llvm)")
need_rust_targets $TARGETS
tools_or_skip macos

W=$(mktemp -d "${TMPDIR:-/tmp}/looms-macos.XXXXXX")
trap 'rm -rf "$W"' EXIT
started=$(date +%s)

linux=$ROOT/target/release/liblooms.so
if [ ! -e "$linux" ]; then
    fail build "$linux is missing (make lib): the symbols are compared with it"
    exit 1
fi
nm -D --defined-only "$linux" | awk '{print $3}' | sort -u >"$W/linux.exports"
# The runtime's names the Linux library imports (unversioned, undefined).
nm -D --undefined-only "$linux" | awk '$1 == "U" && $2 !~ /@/ {print $2}' | sort -u >"$W/linux.imports"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}

for t in $TARGETS; do
    arch=${t%%-*}
    [ "$arch" = aarch64 ] && arch=arm64
    lib=$ROOT/target/$t/release/liblooms.dylib
    if cargo build --quiet --release --lib --target "$t" >"$W/$t.log" 2>&1 && [ -e "$lib" ]; then
        pass "$t/build"
    else
        fail_with "$t/build" "$W/$t.log"
        continue
    fi

    # Mach-O prefixes C names with an underscore.
    llvm-nm -g --defined-only "$lib" | awk '{print $3}' | sed 's/^_//' | sort -u >"$W/$t.exports"
    if diff "$W/linux.exports" "$W/$t.exports" >"$W/$t.diff"; then
        pass "$t/exports_as_linux ($(wc -l <"$W/$t.exports") symbols)"
    else
        sed -i '1i < Linux only, > macOS only' "$W/$t.diff"
        fail_with "$t/exports_as_linux" "$W/$t.diff"
    fi

    # Imports: the runtime's names, exactly the Linux build's (stderr is
    # libSystem's __stderrp there), and the rest from libSystem.
    llvm-nm -u "$lib" | awk '{print $NF}' | sed 's/^_//' | sort -u >"$W/$t.undefined"
    grep -v -x -F -f <(sed 's/^stderr$/__stderrp/' "$W/linux.imports") "$W/$t.undefined" |
        grep -E '^u3' >"$W/$t.stray" || true
    absent=$(grep -x -F -v -f "$W/$t.undefined" <(grep -v '^stderr$' "$W/linux.imports") | tr '\n' ' ')
    used=$(llvm-objdump --macho --dylibs-used "$lib" | tail -n +2 | awk '{print $1}')
    id=$(llvm-objdump --macho --dylib-id "$lib" | tail -n 1)
    if [ ! -s "$W/$t.stray" ] && [ -z "$absent" ] && grep -qx __stderrp "$W/$t.undefined" &&
        [ "$(echo "$used" | grep -v -x -F "$id" | sort | tr '\n' ' ')" = "/usr/lib/libSystem.B.dylib /usr/lib/libc++.1.dylib " ]; then
        pass "$t/imports_the_runtime_libSystem_and_libcxx ($(grep -c '^u3' "$W/$t.undefined") runtime names)"
    else
        fail "$t/imports_the_runtime_libSystem_and_libcxx" "runtime names only here: $(tr '\n' ' ' <"$W/$t.stray")" \
            "Linux imports absent: $absent" "libraries: $(echo "$used" | tr '\n' ' ')"
    fi

    # What a macOS packager reads: the install name, the versions, the CPU.
    llvm-objdump --macho --dylib-id --dylibs-used "$lib" >"$W/$t.id"
    want="@rpath/liblooms.$major.dylib (compatibility version $major.0.0, current version $version)"
    cpu=$(llvm-objdump --macho --private-header "$lib" | awk '/^ *0x/ || /MH_MAGIC/ {print $2; exit}')
    if grep -qF "$want" "$W/$t.id" && [ "$(sed -n 2p "$W/$t.id" | sed 's/^[[:space:]]*//')" = "$want" ] &&
        [ "$(readlink "$ROOT/target/$t/release/liblooms.$major.dylib")" = liblooms.dylib ]; then
        pass "$t/install_name ($want; $cpu)"
    else
        echo "want: $want" >>"$W/$t.id"
        fail_with "$t/install_name" "$W/$t.id"
    fi
    case "$arch:$cpu" in
    arm64:ARM64 | x86_64:X86_64) pass "$t/architecture ($cpu)" ;;
    *) fail "$t/architecture" "CPU type '$cpu' for $t" ;;
    esac

    if cargo clippy --quiet --release --all-targets --target "$t" -- -D warnings >"$W/$t.clippy" 2>&1; then
        pass "$t/clippy"
    else
        fail_with "$t/clippy" "$W/$t.clippy"
    fi

    # The host programs, compiled and linked for macOS against the dylib.
    out=$ROOT/target/$t/c-tests
    mkdir -p "$out"
    zt=${arch/arm64/aarch64}-macos
    flags=(-target "$zt" -std=gnu11 -O2 -Wall -Wextra -Werror -Iinclude -Ic-tests/common -Ic-tests/host
        -Ic-tests/abi)
    rt=(c-tests/common/runtime.c c-tests/common/format.c)
    lk=(-L"$ROOT/target/$t/release" -llooms)
    if zigcc "${flags[@]}" c-tests/host/host.c c-tests/host/scenario.c "${rt[@]}" "${lk[@]}" \
        -o "$out/scenario" >"$W/$t.cc" 2>&1 &&
        zigcc "${flags[@]}" c-tests/host/host.c c-tests/host/demo.c "${rt[@]}" "${lk[@]}" \
            -o "$out/demo" >>"$W/$t.cc" 2>&1 &&
        zigcc "${flags[@]}" c-tests/abi/roundtrip.c c-tests/abi/minihost.c "${lk[@]}" \
            -o "$out/roundtrip" >>"$W/$t.cc" 2>&1 &&
        zigcc "${flags[@]}" -c c-tests/abi/static_asserts.c -o "$out/static_asserts.o" >>"$W/$t.cc" 2>&1 &&
        llvm-objdump --macho --dylibs-used "$out/scenario" | grep -qF "@rpath/liblooms.$major.dylib"; then
        pass "$t/c_programs_compile (scenario, demo, roundtrip linked to @rpath/liblooms.$major.dylib; static_asserts)"
    else
        fail_with "$t/c_programs_compile" "$W/$t.cc"
    fi
    # The crash and tracking suites' test programs (their interposers are
    # Linux-only: see above).
    crash=()
    for f in main host points order ioerr random badinput writers; do
        crash+=("c-tests/crash/$f.c")
    done
    if zigcc "${flags[@]}" "${crash[@]}" "${rt[@]}" "${lk[@]}" -ldl -o "$out/crashtest" \
        >"$W/$t.tests.cc" 2>&1 &&
        zigcc "${flags[@]}" c-tests/track/track.c c-tests/track/host.c "${rt[@]}" "${lk[@]}" \
            -o "$out/track" >>"$W/$t.tests.cc" 2>&1 &&
        llvm-objdump --macho --dylibs-used "$out/crashtest" | grep -qF "@rpath/liblooms.$major.dylib" &&
        llvm-objdump --macho --dylibs-used "$out/track" | grep -qF "@rpath/liblooms.$major.dylib"; then
        pass "$t/test_programs_compile (crashtest, track linked to @rpath/liblooms.$major.dylib)"
    else
        fail_with "$t/test_programs_compile" "$W/$t.tests.cc"
    fi
done
echo "SKIP: macos/run (no macOS here: the dylibs and programs are built and inspected, not run)"
echo "macos: the builds and checks took $(($(date +%s) - started)) s"
exit $failed
