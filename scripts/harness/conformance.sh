#!/usr/bin/env bash
# The Autobahn TestSuite's cases (through kosoku, from PyPI: a native runner for the original
# case files, offline) against two echo servers on gdws:
#   godot:  headless Godot running godot_project/conformance/echo_server.gd (the real thing);
#   engine: the engine alone, without Godot (bench's engine_echo), same 32 MiB buffers.
# Sections 12 and 13 (permessage-deflate, which gdws does not offer) are left out.
#
#   scripts/harness/conformance.sh                 after `cargo build`; installs kosoku if missing
#
# Environment: GDWS_CONFORMANCE_PORT (default 22500; the engine run uses the next port),
#   GDWS_CONFORMANCE_OUT (where the reports go; default a temporary directory, removed).
# Prints, per server, the counts of passed / non-strict / informational / failed cases, one line
# per section ("conformance: SERVER | SECTION | OK | NON-STRICT | INFORMATIONAL | FAILED"), then
# the totals over both runs. Fails on any failed case that is ours: on the engine, any;
# under Godot, any but the cases made only of empty messages (listed below), which fail because
# Godot 3's PacketPeer.put_packet() drops empty packets (the built-in server's too), and only
# if the engine alone passes them.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh

PORT=${GDWS_CONFORMANCE_PORT:-22500}
# Cases whose every message is empty: what Godot cannot echo.
EMPTY_MESSAGE_CASES="1.1.1 1.2.1 6.1.1 6.1.2 9.7.1 9.8.1"
# 9.7.1 and 9.8.1 wait 60 s each for 1000 empty echoes: only the engine runs them.
GODOT_SKIPPED="9.7.1 9.8.1"

if ! command -v kosoku >/dev/null 2>&1; then
    echo "conformance: installing kosoku"
    # Debian's own Python refuses installs outside a virtual environment unless told.
    python3 -m pip install --quiet kosoku 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages kosoku
    export PATH="$HOME/.local/bin:$PATH"
fi
cargo build --quiet
cargo build --quiet -p gdws-bench --bin engine_echo

OUT=${GDWS_CONFORMANCE_OUT:-}
if [ -z "$OUT" ]; then
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/gdws_conformance.XXXXXX")
    trap 'rm -rf "$OUT"' EXIT
fi
mkdir -p "$OUT"

# Starts a server (the command line in "$@") in the background and waits for its READY line.
SERVER_PID=
start_server() {
    local log=$1; shift
    "$@" >"$log" 2>&1 </dev/null &
    SERVER_PID=$!
    for _ in $(seq 300); do
        grep -q READY "$log" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "conformance: the server did not start:" >&2
    cat "$log" >&2
    return 1
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# run NAME PORT [kosoku exclusions...]
run_suite() {
    local name=$1 port=$2; shift 2
    local started
    started=$(date +%s)
    (cd "$OUT" && timeout 600 kosoku -p 2 -x '12.*' -x '13.*' "$@" -o "$OUT/$name" \
        "127.0.0.1:$port" >"$OUT/$name.log" 2>&1) || true
    echo "conformance: $name run took $(($(date +%s) - started)) s"
}

start_server "$OUT/godot-server.log" timeout 900 "$GODOT_BIN" --path godot_project \
    -s res://conformance/echo_server.gd --port="$PORT"
skip_args=()
for case in $GODOT_SKIPPED; do skip_args+=(-x "$case"); done
run_suite godot "$PORT" "${skip_args[@]}"
stop_server

start_server "$OUT/engine-server.log" timeout 900 target/debug/engine_echo --mode=engine \
    --port=$((PORT + 1)) --buffer-kb=32768 --max-secs=800
run_suite engine $((PORT + 1))
stop_server

python3 scripts/harness/conformance_summary.py "$OUT" "$EMPTY_MESSAGE_CASES"
