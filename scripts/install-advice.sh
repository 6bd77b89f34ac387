#!/usr/bin/env bash
# What `make install` says at its end, for the directories it installed
# into: how programs load liblooms, how pkg-config finds looms.pc and how a
# shell finds the looms command. Each is said only where it is needed, and
# a tree staged under DESTDIR is said to be staged (nothing in it is used
# until it is installed at /).
#
#   scripts/install-advice.sh DESTDIR LIBDIR BINDIR SONAME
set -uo pipefail
destdir=$1 libdir=$2 bindir=$3 soname=$4

# Whether the dynamic loader searches DIR: ld.so.conf's directories
# (as ldconfig lists them) and its built-in ones.
loader_searches() {
    local want dir
    want=$(realpath -m "$1")
    while read -r dir; do
        [ "$(realpath -m "$dir")" = "$want" ] && return 0
    done < <(
        # Not on a user's PATH on Debian: in /sbin.
        "$(command -v ldconfig || echo /sbin/ldconfig)" -v -N -X 2>/dev/null |
            sed -n 's|^\(/[^:]*\):.*|\1|p'
        printf '%s\n' /lib /usr/lib /lib64 /usr/lib64
    )
    return 1
}
# Whether pkg-config searches DIR without being told.
pkg_config_searches() {
    local dir dirs
    IFS=: read -ra dirs <<<"${PKG_CONFIG_PATH:-}:$(pkg-config --variable pc_path pkg-config 2>/dev/null)"
    for dir in "${dirs[@]}"; do
        [ -n "$dir" ] && [ "$(realpath -m "$dir")" = "$(realpath -m "$1")" ] && return 0
    done
    return 1
}
on_path() { case ":$PATH:" in *":$1:"* | *":$1/:"*) return 0 ;; esac; return 1; }

if [ -n "$destdir" ]; then
    echo "staged liblooms under $destdir: nothing there is used until the tree is installed at /,"
    echo "as $libdir/$soname, $libdir/pkgconfig/looms.pc and $bindir/looms."
    if loader_searches "$libdir"; then
        echo "Installed there, programs load it once ldconfig has run (as root)."
    else
        echo "Installed there, programs load it only if linked with -Wl,-rpath,$libdir, or"
        echo "once $libdir is in /etc/ld.so.conf.d/looms.conf and ldconfig has run (as root)."
    fi
    echo "To build against the staged tree in place:"
    echo "  PKG_CONFIG_PATH=$destdir$libdir/pkgconfig pkg-config --define-prefix --cflags --libs looms"
    exit 0
fi

echo "installed liblooms into $libdir and the looms command into $bindir."
if loader_searches "$libdir"; then
    echo "Programs load it once ldconfig has run: as root, run ldconfig ($libdir is searched by the loader)."
else
    echo "$libdir is not a directory the loader searches; for programs to load liblooms:"
    echo "  - link them with -Wl,-rpath,$libdir (pkg-config --variable=libdir looms), or"
    echo "  - run them with LD_LIBRARY_PATH=$libdir, or"
    echo "  - as root, add $libdir to /etc/ld.so.conf.d/looms.conf and run ldconfig."
fi
if ! pkg_config_searches "$libdir/pkgconfig"; then
    echo "pkg-config finds looms.pc once told where: export PKG_CONFIG_PATH=$libdir/pkgconfig"
fi
if ! on_path "$bindir"; then
    echo "$bindir is not on PATH; for the looms command: export PATH=$bindir:\$PATH"
fi
