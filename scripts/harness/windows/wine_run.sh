#!/usr/bin/env bash
# cargo's runner for the Windows test binaries (see windows_env.sh): runs one under wine64, in a
# wine prefix of our own (target/windows/wine), with the exit code of the program.
#
# Wine 8 has no bcryptprimitives.dll, whose ProcessPrng Rust's std calls for random bytes (every
# Windows 10 and later has it). The prefix gets a stand-in (process_prng.c), for tests only:
# the addon never ships it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export WINEPREFIX="$here/../../../target/windows/wine"
export WINEDEBUG=-all
system32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -f "$system32/bcryptprimitives.dll" ]; then
    mkdir -p "$WINEPREFIX"
    /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1
    x86_64-w64-mingw32-gcc -shared -O2 -o "$system32/bcryptprimitives.dll" \
        "$here/process_prng.c" -ladvapi32
fi
exec /usr/lib/wine/wine64 "$@"
