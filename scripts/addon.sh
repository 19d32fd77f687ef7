#!/usr/bin/env bash
# Builds the Godot addon a user drops into a Godot 3 project: a folder `addons/gdws/` (the
# .gdnlib, the two .gdns files, the class reference, LICENSE and CHANGELOG.md, and the
# libraries, Linux x86_64 and Windows x86_64 (cross-built, see scripts/harness/windows_env.sh),
# real files, no symlinks) and a zip of it, from the sources in gdnlib/ and docs/classes/.
#
#   scripts/addon.sh            release builds: target/addon/release/addons/gdws/ and
#                               target/addon/gdws-<version>-x86_64.zip
#   scripts/addon.sh --debug    the debug builds (what scripts/harness/addon_test.sh --debug packages: no
#                               release build needed): target/addon/debug/..., ...-debug.zip
#
# The last line printed is the zip's path (scripts/harness/addon_test.sh reads it from there).
#
# Install: unzip the zip in the project's folder (it holds addons/gdws/...), then
#   const GdwsServer = preload("res://addons/gdws/websocket_server.gdns")
#   var server = GdwsServer.new()
# (a constant named GdwsServer, not WebSocketServer: that name is Godot's own class; see the
# README's migration section)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --windows
source scripts/env.sh
source scripts/harness/windows_env.sh

profile=release
suffix=""
case "${1:-}" in
    "") ;;
    --debug) profile=debug; suffix="-debug" ;;
    *) echo "addon: unknown option $1 (only --debug)" >&2; exit 2 ;;
esac

profile_flag=()
[ "$profile" = release ] && profile_flag=(--release)
cargo build "${profile_flag[@]}" -p gdws
windows_cargo build "${profile_flag[@]}" -p gdws

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
stage="target/addon/$profile"
addon="$stage/addons/gdws"
zip="$PWD/target/addon/gdws-$version-x86_64$suffix.zip"
rm -rf "$stage" "$zip"
mkdir -p "$addon/bin" "$addon/docs"
# The version travels with the files a user opens: a comment atop the .gdnlib, a line under each
# class reference's title.
{ echo "; gdws $version"; cat gdnlib/gdws.gdnlib; } >"$addon/gdws.gdnlib"
cp gdnlib/websocket_server.gdns gdnlib/websocket_peer.gdns "$addon/"
for doc in docs/classes/*.md; do
    awk -v version="$version" '{ print } NR == 1 { print ""; print "_gdws " version "_" }' \
        "$doc" >"$addon/docs/$(basename "$doc")"
done
cp LICENSE CHANGELOG.md "$addon/"
cp "target/$profile/libgdws.so" "$addon/bin/libgdws.so"
cp "$WINDOWS_TARGET_DIR/$WINDOWS_TARGET/$profile/gdws.dll" "$addon/bin/gdws.dll"
# Debug information only makes the download bigger; the exported symbols stay.
if [ "$profile" = release ]; then
    strip --strip-debug "$addon/bin/libgdws.so"
    x86_64-w64-mingw32-strip --strip-debug "$addon/bin/gdws.dll"
fi

if [ -n "$(find "$addon" -type l)" ]; then  # not `find | grep -q`: SIGPIPE under pipefail
    echo "addon: $addon holds symlinks" >&2; exit 1
fi
(cd "$stage" && python3 -m zipfile -c "$zip" addons)
echo "addon: $addon ($(du -sh "$addon" | cut -f1)), zip $(du -h "$zip" | cut -f1):"
echo "$zip"
