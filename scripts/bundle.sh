#!/usr/bin/env bash
# Builds a server bundle of the demo as an exported game runs on a server: the project exported
# as a .pck (godot3-server --export-pack, preset "Server bundle" in godot_project/export_presets.cfg),
# the library, and a start script, in one directory (and a .tar.gz of it):
#
#   gdws-demo-server/
#     demo.pck
#     addons/gdws/bin/libgdws.so    where an exported game looks for it (see below)
#     run.sh                        cd's into its own directory, then godot3-server --main-pack
#
#   scripts/bundle.sh            release build: target/bundle/gdws-demo-server(.tar.gz)
#   scripts/bundle.sh --debug    debug build (what scripts/harness/bundle_test.sh uses)
#
# Why the layout: a .pck cannot hold a GDNative library (the system must load it from a real
# file), and an exported game opens the path the .gdnlib names (res://addons/gdws/bin/libgdws.so)
# relative to the working directory, then in ../lib beside the Godot executable (for Debian's
# godot3-server, /usr/lib). run.sh makes the first one true wherever the bundle is started from.
# The last line printed is the .tar.gz's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

profile=release
case "${1:-}" in
    "") ;;
    --debug) profile=debug ;;
    *) echo "bundle: unknown option $1 (only --debug)" >&2; exit 2 ;;
esac
profile_flag=()
[ "$profile" = release ] && profile_flag=(--release)
cargo build "${profile_flag[@]}" -p gdws

out="$PWD/target/bundle"
bundle="$out/gdws-demo-server"
rm -rf "$bundle" "$bundle.tar.gz"
mkdir -p "$bundle/addons/gdws/bin"
# The export runs from a copy of the demo's part of the project (the demo, the addon with the
# library, the settings and the export preset): the editor loads every .gdnlib it finds, and the
# tests' and benchmarks' files have no place in a game. It writes its settings and cache under
# XDG directories, kept in the scratch directory too.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/gdws_bundle.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
project="$scratch/project"
mkdir -p "$project/addons/gdws/bin"
cp godot_project/project.godot godot_project/export_presets.cfg "$project/"
cp -r godot_project/demo "$project/demo"
cp gdnlib/gdws.gdnlib gdnlib/websocket_server.gdns gdnlib/websocket_peer.gdns "$project/addons/gdws/"
cp "target/$profile/libgdws.so" "$project/addons/gdws/bin/libgdws.so"
log="$scratch/export.log"
if ! XDG_DATA_HOME="$scratch/data" XDG_CONFIG_HOME="$scratch/config" XDG_CACHE_HOME="$scratch/cache" \
    timeout -k 5 120 "$GODOT_BIN" --path "$project" --export-pack "Server bundle" \
    "$bundle/demo.pck" >"$log" 2>&1 </dev/null || [ ! -s "$bundle/demo.pck" ]; then
    cat "$log" >&2
    echo "bundle: the export failed" >&2
    exit 1
fi
problems=$(python3 scripts/harness/godot_log_check.py "$log")
if [ -n "$problems" ]; then
    cat "$log" >&2
    echo "bundle: problems in the export's log: $problems" >&2
    exit 1
fi
cp "target/$profile/libgdws.so" "$bundle/addons/gdws/bin/libgdws.so"
[ "$profile" = release ] && strip --strip-debug "$bundle/addons/gdws/bin/libgdws.so"
cat >"$bundle/run.sh" <<'RUN'
#!/bin/sh
# Starts the exported game server: the arguments go to the game (e.g. --port=9080).
# GODOT_BIN names the headless Godot 3 to use (default: godot3-server).
cd "$(dirname "$0")" || exit 1
exec "${GODOT_BIN:-godot3-server}" --main-pack demo.pck "$@"
RUN
chmod +x "$bundle/run.sh"
tar -C "$out" -czf "$bundle.tar.gz" gdws-demo-server
echo "bundle: $bundle ($(du -sh "$bundle" | cut -f1))"
echo "$bundle.tar.gz"
