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
# the totals over both runs. Fails on any failed case, on either server (the cases made only of
# empty messages pass under Godot too: our WebSocketPeer.put_packet sends an empty message, which
# Godot's own PacketPeer.put_packet drops). Fails too when kosoku times out, crashes or exits with a code
# its report does not explain, when a run reports another number of cases than it ran (CASES),
# when a server ends during its run or does not end as told (the Godot echo quits with 0, the
# engine's ends on SIGTERM), and on an ERROR, SCRIPT ERROR, panic or leak in a server's log.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh

PORT=${GDWS_CONFORMANCE_PORT:-22500}
# The cases of kosoku 0.1.0's suite without sections 12 and 13: a run that reports fewer (a
# crash, a partial index.json) fails.
CASES=301
KOSOKU_TIMEOUT=600  # seconds per run

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

# stop_server NAME LOG HOW WANT: the server must still be running after its run; HOW stops it
# ("quit-file": the Godot echo quits on its own once the file exists; "term": SIGTERM), WANT is
# the exit code that stop must give (0, or 143 for SIGTERM). Its log must hold no ERROR, SCRIPT
# ERROR, panic or leak (harness/godot_log_check.py). Failures go to PROBLEMS.
PROBLEMS=()
stop_server() {
    local name=$1 log=$2 how=$3 want=$4 rc=0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        wait "$SERVER_PID" || rc=$?
        PROBLEMS+=("the $name server ended during the run (exit code $rc)")
    else
        if [ "$how" = quit-file ]; then
            touch "$OUT/quit-$name"
            for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        fi
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" || rc=$?
        [ "$rc" -eq "$want" ] || PROBLEMS+=("the $name server exited with $rc, not $want")
    fi
    local found
    found=$(python3 scripts/harness/godot_log_check.py "$log")
    if [ -n "$found" ]; then
        PROBLEMS+=("the $name server's log ($log):"$'\n'"$found")
    fi
}

# run_suite NAME PORT [kosoku exclusions...]: kosoku exits 0 when every case passed, 1 when a
# case failed (its reports written: the summary judges whose failure it is), anything else on a
# crash or a timeout.
KOSOKU_RC=()
run_suite() {
    local name=$1 port=$2; shift 2
    local started rc=0
    started=$(date +%s)
    (cd "$OUT" && timeout -k 10 "$KOSOKU_TIMEOUT" kosoku -p 2 -x '12.*' -x '13.*' "$@" -o "$OUT/$name" \
        "127.0.0.1:$port" >"$OUT/$name.log" 2>&1) || rc=$?
    KOSOKU_RC+=("$name=$rc")
    echo "conformance: $name run took $(($(date +%s) - started)) s, kosoku exit code $rc"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        PROBLEMS+=("kosoku timed out on the $name server ($KOSOKU_TIMEOUT s)")
    elif [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
        PROBLEMS+=("kosoku failed on the $name server (exit code $rc)")
    fi
    if [ "$rc" -ne 0 ]; then sed 's/^/    | /' "$OUT/$name.log" | tail -n 20; fi
}

start_server "$OUT/godot-server.log" timeout 900 "$GODOT_BIN" --path godot_project \
    -s res://conformance/echo_server.gd --port="$PORT" --quit-file="$OUT/quit-godot"
run_suite godot "$PORT"
# No ERROR at all: the echo of a message that arrived just before its connection failed (the
# suite's broken frames right behind a message) goes to a peer that is leaving, which fails
# quietly.
stop_server godot "$OUT/godot-server.log" quit-file 0

start_server "$OUT/engine-server.log" timeout 900 target/debug/engine_echo --mode=engine \
    --port=$((PORT + 1)) --buffer-kb=32768 --max-secs=800
run_suite engine $((PORT + 1))
stop_server engine "$OUT/engine-server.log" term 143

status=0
python3 scripts/harness/conformance_summary.py "$OUT" "$CASES" "${KOSOKU_RC[@]}" || status=1
for problem in "${PROBLEMS[@]}"; do
    echo "conformance: FAIL: $problem"
    status=1
done
exit "$status"
